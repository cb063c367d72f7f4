//! Native decode throughput for a 5,000-vehicle feed (typed decode, key choice,
//! dynamic decode and JSON). Run with
//! `cargo test -p gtfs-rt --release --test throughput -- --ignored --nocapture`.

use std::time::Instant;

use gtfs_rt::GtfsRt;
use gtfs_rt::proto::transit_realtime::{
    FeedEntity, FeedHeader, FeedMessage, Position, TripDescriptor, VehicleDescriptor,
    VehiclePosition,
};
use prost::Message as _;
use weir_sdk::Transform as _;

/// A feed shaped like a large agency's vehicle positions.
fn feed(vehicles: usize) -> Vec<u8> {
    let entity = (0..vehicles)
        .map(|i| FeedEntity {
            id: format!("e{i}"),
            vehicle: Some(VehiclePosition {
                trip: Some(TripDescriptor {
                    trip_id: Some(format!("trip-{i}")),
                    route_id: Some(format!("r{}", i % 200)),
                    direction_id: Some((i % 2) as u32),
                    start_date: Some("20261123".into()),
                    ..Default::default()
                }),
                vehicle: Some(VehicleDescriptor {
                    id: Some(format!("bus-{i}")),
                    label: Some(format!("{i}")),
                    ..Default::default()
                }),
                position: Some(Position {
                    latitude: 45.0 + i as f32 * 1e-4,
                    longitude: -73.5 - i as f32 * 1e-4,
                    bearing: Some((i % 360) as f32),
                    speed: Some(7.5),
                    ..Default::default()
                }),
                current_stop_sequence: Some(7),
                stop_id: Some(format!("s{}", i % 900)),
                current_status: Some(2),
                timestamp: Some(1_795_460_000 + i as u64),
                occupancy_status: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    FeedMessage {
        header: FeedHeader {
            gtfs_realtime_version: "2.0".into(),
            timestamp: Some(1_795_460_082),
            ..Default::default()
        },
        entity,
    }
    .encode_to_vec()
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn five_thousand_vehicles() {
    let bytes = feed(5_000);
    let plugin = GtfsRt::init("{}").expect("init");
    let rounds = 20;
    let start = Instant::now();
    let mut typed = 0;
    for _ in 0..rounds {
        typed += FeedMessage::decode(bytes.as_slice())
            .expect("decode")
            .entity
            .len();
    }
    let typed_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut records = 0;
    let mut json_bytes = 0;
    for _ in 0..rounds {
        let d = plugin.decode(Some(&bytes)).expect("decode");
        records += d.records.len();
        json_bytes += d.records.iter().map(|(_, v)| v.len()).sum::<usize>();
    }
    let full_s = start.elapsed().as_secs_f64();
    assert_eq!(records, 5_000 * rounds);
    println!(
        "feed: {} bytes, 5000 vehicles; prost decode only: {:.0} entities/s; \
         full (decode + keys + JSON): {:.0} entities/s, {:.1} ms per feed, {} JSON bytes per feed",
        bytes.len(),
        typed as f64 / typed_s,
        records as f64 / full_s,
        full_s * 1000.0 / rounds as f64,
        json_bytes / rounds
    );
}
