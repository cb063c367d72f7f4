//! Native decode throughput for a 5,000-vehicle feed (typed decode, key choice,
//! dynamic decode and JSON). Run with
//! `cargo test -p gtfs-rt --release --test throughput -- --ignored --nocapture`.

use std::time::Instant;

use gtfs_rt::GtfsRt;
use gtfs_rt::feed::sample;
use gtfs_rt::proto::transit_realtime::FeedMessage;
use prost::Message as _;
use weir_sdk::Transform as _;

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn five_thousand_vehicles() {
    let bytes = sample(5_000);
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
