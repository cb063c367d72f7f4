//! Event time taken from the data. `[source.kafka] event_time = "start_timestamp"`
//! names a field of each JSON value (epoch milliseconds, or an RFC 3339 string)
//! that becomes the record's timestamp, so the watermark and the aggregator's
//! windows judge a record by one and the same time, whatever the producer set
//! as the Kafka timestamp (an external producer, a backfill, a replay).
//!
//! The value is scanned once without building a tree: a flat object of plain
//! scalars (the usual record) by `weir_sdk::scan`, anything else by serde,
//! which skips the fields other than the one named without allocating.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use weir_sdk::Rejection;

/// DLQ code of a record whose value lacks the event-time field.
pub const MISSING: &str = "event_time_missing";
/// DLQ code of a record whose event-time field is not a time.
pub const INVALID: &str = "event_time_invalid";

/// The field a source reads event time from: a top-level name, or a dotted
/// path into nested objects (`event.ts`).
#[derive(Debug, Clone)]
pub struct EventTimeField {
    spec: String,
    path: Vec<String>,
}

impl EventTimeField {
    pub fn new(spec: &str) -> Self {
        EventTimeField {
            spec: spec.to_string(),
            path: spec.split('.').map(str::to_string).collect(),
        }
    }

    /// The record's event time in epoch milliseconds, or why the DLQ gets
    /// the record, naming the field.
    pub fn read(&self, value: Option<&[u8]>) -> Result<i64, Rejection> {
        match value.and_then(|v| self.scanned(v)) {
            Some(ms) => Ok(ms),
            None => self.walked(value),
        }
    }

    /// [`EventTimeField::read`] by serde, for every value.
    fn walked(&self, value: Option<&[u8]>) -> Result<i64, Rejection> {
        let spec = &self.spec;
        let Some(value) = value else {
            return Err(Rejection::new(
                MISSING,
                format!("the record has no value (a tombstone), so no event time in `{spec}`"),
            ));
        };
        let mut de = serde_json::Deserializer::from_slice(value);
        let found = Find { path: &self.path }
            .deserialize(&mut de)
            .and_then(|t| de.end().map(|()| t));
        match found {
            Ok(Found::Millis(ms)) => Ok(ms),
            Ok(Found::Text(text)) => chrono::DateTime::parse_from_rfc3339(&text)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    Rejection::new(
                        INVALID,
                        format!(
                            "`{spec}` is \"{text}\", not RFC 3339 time or epoch milliseconds ({e})"
                        ),
                    )
                }),
            Ok(Found::Other(kind)) => Err(Rejection::new(
                INVALID,
                format!("`{spec}` is {kind}, not epoch milliseconds or an RFC 3339 string"),
            )),
            Ok(Found::Absent) => Err(Rejection::new(
                MISSING,
                format!("the value has no field `{spec}`"),
            )),
            Err(e) => Err(Rejection::new(
                INVALID,
                format!("cannot read `{spec}`: the value is not a JSON object ({e})"),
            )),
        }
    }

    /// The epoch milliseconds of a top-level field of a flat value of plain
    /// scalars; `None` leaves every other case (a nested path or value, a
    /// time as text, a missing field) to the serde walk, whose answer it is.
    fn scanned(&self, value: &[u8]) -> Option<i64> {
        let [name] = self.path.as_slice() else {
            return None;
        };
        let mut found = None;
        let read = weir_sdk::scan::flat_object(value, |key, v| {
            if key == name {
                found = Some(v);
            }
        });
        match (read, found) {
            (true, Some(weir_sdk::scan::Scalar::Int(ms))) => Some(ms),
            _ => None,
        }
    }
}

/// What the walk found at the end of the path.
enum Found {
    Millis(i64),
    Text(String),
    Other(&'static str),
    Absent,
}

/// Walks one object level: the field named `path[0]` is read (or walked into),
/// every other one skipped.
struct Find<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Found, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = Found::Absent;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != self.path[0].as_str() {
                map.next_value::<IgnoredAny>()?;
            } else if self.path.len() == 1 {
                found = map.next_value_seed(Leaf)?;
            } else {
                found = map.next_value_seed(Find {
                    path: &self.path[1..],
                })?;
            }
        }
        Ok(found)
    }

    // Anything but an object on the way: the field is not there.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Found::Absent)
    }
    fn visit_str<E>(self, _: &str) -> Result<Found, E> {
        Ok(Found::Absent)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Found, E> {
        Ok(Found::Absent)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Found, E> {
        Ok(Found::Absent)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Found, E> {
        Ok(Found::Absent)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
        Ok(Found::Absent)
    }
    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(Found::Absent)
    }
}

/// The value at the end of the path.
struct Leaf;

impl<'de> DeserializeSeed<'de> for Leaf {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Found, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Leaf {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("epoch milliseconds or an RFC 3339 string")
    }

    fn visit_i64<E>(self, v: i64) -> Result<Found, E> {
        Ok(Found::Millis(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Found, E> {
        Ok(i64::try_from(v).map_or(
            Found::Other("a number past 64-bit milliseconds"),
            Found::Millis,
        ))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Found, E> {
        // Milliseconds with a fraction (some producers write them): truncated.
        if v.is_finite() && v.abs() < 9.0e18 {
            Ok(Found::Millis(v as i64))
        } else {
            Ok(Found::Other("a number past 64-bit milliseconds"))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Found, E> {
        Ok(Found::Text(v.to_string()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
        Ok(Found::Other("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(Found::Other("null"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Found::Other("an object"))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Found::Other("an array"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(spec: &str, value: &str) -> Result<i64, String> {
        EventTimeField::new(spec)
            .read(Some(value.as_bytes()))
            .map_err(|r| r.to_string())
    }

    #[test]
    fn epoch_millis_and_rfc3339_are_read() {
        let v =
            r#"{"view_id":"a","nested":{"x":[1,{"y":2}]},"start_timestamp":1767225600123,"end":1}"#;
        assert_eq!(read("start_timestamp", v), Ok(1_767_225_600_123));
        assert_eq!(
            read("ts", r#"{"ts":"2026-01-01T00:00:00.123Z"}"#),
            Ok(1_767_225_600_123)
        );
        assert_eq!(
            read("ts", r#"{"ts":"2026-01-01T01:00:00+01:00"}"#),
            Ok(1_767_225_600_000)
        );
        assert_eq!(read("ts", r#"{"ts":1.5e3}"#), Ok(1_500));
        assert_eq!(read("ts", r#"{"ts":-5}"#), Ok(-5));
    }

    /// Where the scan answers, the serde walk answers the same, over values
    /// with the field in each place, as text, doubled, and cut or changed at
    /// every byte.
    #[test]
    fn the_scan_agrees_with_the_walk() {
        let field = EventTimeField::new("start_timestamp");
        let base = [
            r#"{"view_id":"a-1","start_timestamp":1767225600123,"end":1,"ok":true,"n":null}"#,
            r#"{"start_timestamp":-5}"#,
            r#" { "x" : "é" , "start_timestamp" : 7 , "start_timestamp" : 9 } "#,
            r#"{"start_timestamp":"2026-01-01T00:00:00Z","x":1}"#,
            r#"{"x":{"start_timestamp":1},"start_timestamp":2}"#,
        ];
        let mut scanned = 0;
        for doc in base {
            for cut in 0..=doc.len() {
                for change in [
                    None,
                    Some(b'"'),
                    Some(b'1'),
                    Some(b'}'),
                    Some(b'.'),
                    Some(b' '),
                ] {
                    let mut bytes = doc.as_bytes()[..cut].to_vec();
                    if let Some(b) = change {
                        bytes.push(b);
                        bytes.extend_from_slice(&doc.as_bytes()[(cut + 1).min(doc.len())..]);
                    }
                    if let Some(ms) = field.scanned(&bytes) {
                        scanned += 1;
                        let walked = field.walked(Some(&bytes)).map_err(|r| r.to_string());
                        assert_eq!(Ok(ms), walked, "{}", String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
        assert!(scanned > 50, "{scanned}");
        assert_eq!(field.scanned(base[0].as_bytes()), Some(1_767_225_600_123));
        assert_eq!(
            field.scanned(base[2].as_bytes()),
            Some(9),
            "the last one, as serde"
        );
        assert_eq!(
            field.scanned(base[3].as_bytes()),
            None,
            "text is left to the walk"
        );
    }

    #[test]
    fn a_dotted_path_reads_a_nested_field() {
        let v = r#"{"a":1,"event":{"id":"x","ts":42},"ts":7}"#;
        assert_eq!(read("event.ts", v), Ok(42));
        assert_eq!(read("ts", v), Ok(7));
        assert!(read("event.when", v).unwrap_err().starts_with(MISSING));
        assert!(read("a.ts", v).unwrap_err().starts_with(MISSING));
    }

    #[test]
    fn a_missing_or_wrong_field_names_the_field() {
        let e = read("start_timestamp", r#"{"view_id":"a"}"#).unwrap_err();
        assert_eq!(
            e,
            "event_time_missing: the value has no field `start_timestamp`"
        );
        let e = read("ts", r#"{"ts":"yesterday"}"#).unwrap_err();
        assert!(
            e.starts_with("event_time_invalid: `ts` is \"yesterday\""),
            "{e}"
        );
        let e = read("ts", r#"{"ts":null}"#).unwrap_err();
        assert!(e.starts_with(INVALID) && e.contains("null"), "{e}");
        let e = read("ts", r#"{"ts":true}"#).unwrap_err();
        assert!(e.contains("a boolean"), "{e}");
        let e = read("ts", r#"{"ts":184467440737095516150}"#).unwrap_err();
        assert!(e.starts_with(INVALID), "{e}");
        let e = read("ts", "not json").unwrap_err();
        assert!(
            e.starts_with(INVALID) && e.contains("not a JSON object"),
            "{e}"
        );
        let e = read("ts", r#"{"ts":1} trailing"#).unwrap_err();
        assert!(e.starts_with(INVALID), "{e}");
        let e = EventTimeField::new("ts")
            .read(None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(MISSING) && e.contains("tombstone"), "{e}");
        assert!(read("ts", "[1,2]").unwrap_err().starts_with(MISSING));
    }

    #[test]
    fn escaped_keys_are_matched() {
        assert_eq!(read("ts", r#"{"\u0074s":9}"#), Ok(9));
    }
}
