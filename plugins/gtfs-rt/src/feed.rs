//! Decoding one FeedMessage with the generated types and deciding, entity by
//! entity, which ones become records and under which key.

use prost::Message as _;
use weir_sdk::Rejection;

use crate::MALFORMED_PROTOBUF;
use crate::proto::transit_realtime::{FeedEntity, FeedMessage};

/// An entity that becomes a record: its position in `FeedMessage.entity` and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed<'a> {
    /// Index into `FeedMessage.entity`.
    pub index: usize,
    /// `vehicle.vehicle.id` for a vehicle position that has one, else the entity id.
    pub key: &'a str,
}

/// The entities of one feed: the ones to emit and why the others are skipped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sorted<'a> {
    /// Valid entities, in feed order.
    pub keyed: Vec<Keyed<'a>>,
    /// One sentence per skipped entity.
    pub skipped: Vec<String>,
}

/// Decodes a record value as a FeedMessage; the error is why it goes to the DLQ.
pub fn decode(value: Option<&[u8]>) -> Result<FeedMessage, Rejection> {
    let malformed = |reason: String| Rejection::new(MALFORMED_PROTOBUF, reason);
    let bytes = value.ok_or_else(|| malformed("record has no value (a tombstone)".into()))?;
    let feed = FeedMessage::decode(bytes).map_err(|e| malformed(e.to_string()))?;
    // Random bytes often parse as a message without a header; an empty
    // version is treated as missing too.
    let version = feed
        .header
        .as_ref()
        .and_then(|h| h.gtfs_realtime_version.as_deref());
    if version.is_none_or(str::is_empty) {
        return Err(malformed(
            "FeedMessage.header.gtfs_realtime_version is missing (required)".into(),
        ));
    }
    Ok(feed)
}

/// Keys the valid entities and explains the invalid ones.
pub fn sort(feed: &FeedMessage) -> Sorted<'_> {
    let mut sorted = Sorted::default();
    for (index, entity) in feed.entity.iter().enumerate() {
        match key(entity) {
            Ok(key) => sorted.keyed.push(Keyed { index, key }),
            Err(why) => sorted.skipped.push(format!("entity #{index}: {why}")),
        }
    }
    sorted
}

fn key(entity: &FeedEntity) -> Result<&str, String> {
    let id = entity.id.as_deref().unwrap_or_default();
    if id.is_empty() {
        return Err("no id (required)".into());
    }
    let has_payload = entity.trip_update.is_some()
        || entity.vehicle.is_some()
        || entity.alert.is_some()
        || entity.shape.is_some()
        || entity.stop.is_some()
        || entity.trip_modifications.is_some();
    if !has_payload && !entity.is_deleted.unwrap_or(false) {
        return Err(format!(
            "id {id:?} carries no trip_update, vehicle, alert, shape, stop or trip_modifications"
        ));
    }
    let vehicle_id = entity
        .vehicle
        .as_ref()
        .and_then(|v| v.vehicle.as_ref())
        .and_then(|d| d.id.as_deref())
        .filter(|id| !id.is_empty());
    Ok(vehicle_id.unwrap_or(id))
}

/// A feed shaped like a large agency's vehicle positions, `vehicles` of them,
/// encoded: the input of throughput tests and `just bench`.
pub fn sample(vehicles: usize) -> Vec<u8> {
    use crate::proto::transit_realtime::{
        FeedEntity, FeedHeader, FeedMessage, Position, TripDescriptor, VehicleDescriptor,
        VehiclePosition,
    };
    use prost::Message as _;
    let entity = (0..vehicles)
        .map(|i| FeedEntity {
            id: Some(format!("e{i}")),
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
                    latitude: Some(45.0 + i as f32 * 1e-4),
                    longitude: Some(-73.5 - i as f32 * 1e-4),
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
        header: Some(FeedHeader {
            gtfs_realtime_version: Some("2.0".into()),
            timestamp: Some(1_795_460_082),
            ..Default::default()
        }),
        entity,
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::transit_realtime::{Alert, FeedHeader, VehicleDescriptor, VehiclePosition};

    fn feed(entities: Vec<FeedEntity>) -> FeedMessage {
        FeedMessage {
            header: Some(FeedHeader {
                gtfs_realtime_version: Some("2.0".into()),
                ..Default::default()
            }),
            entity: entities,
        }
    }

    fn entity(id: &str) -> FeedEntity {
        FeedEntity {
            id: Some(id.into()),
            ..Default::default()
        }
    }

    #[test]
    fn keys_prefer_the_vehicle_id_and_skip_invalid_entities() {
        let with_vehicle = |id: &str, vid: Option<&str>| FeedEntity {
            vehicle: Some(VehiclePosition {
                vehicle: Some(VehicleDescriptor {
                    id: vid.map(Into::into),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..entity(id)
        };
        let f = feed(vec![
            with_vehicle("e1", Some("bus-7")),
            with_vehicle("e2", None),
            with_vehicle("e3", Some("")),
            FeedEntity {
                alert: Some(Alert::default()),
                ..entity("a1")
            },
            entity("empty"),
            FeedEntity {
                is_deleted: Some(true),
                ..entity("gone")
            },
            FeedEntity {
                alert: Some(Alert::default()),
                ..entity("")
            },
        ]);
        let s = sort(&f);
        let keys: Vec<_> = s.keyed.iter().map(|k| (k.index, k.key)).collect();
        assert_eq!(
            keys,
            [(0, "bus-7"), (1, "e2"), (2, "e3"), (3, "a1"), (5, "gone")]
        );
        assert_eq!(s.skipped.len(), 2);
        assert!(s.skipped[0].starts_with("entity #4: id \"empty\" carries no"));
        assert_eq!(s.skipped[1], "entity #6: no id (required)");
    }

    #[test]
    fn undecodable_values_are_malformed() {
        let err = decode(Some(b"\xff\xff\xff")).expect_err("garbage");
        assert_eq!(err.codes, [MALFORMED_PROTOBUF]);
        assert!(err.to_string().starts_with("malformed_protobuf: "), "{err}");
        let err = decode(Some(b"")).expect_err("no header");
        assert_eq!(
            err.to_string(),
            "malformed_protobuf: FeedMessage.header.gtfs_realtime_version is missing (required)"
        );
        let err = decode(None).expect_err("tombstone");
        assert_eq!(
            err.to_string(),
            "malformed_protobuf: record has no value (a tombstone)"
        );
        let ok = decode(Some(&feed(vec![]).encode_to_vec())).expect("valid");
        assert!(ok.entity.is_empty());
    }
}
