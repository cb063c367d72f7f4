//! What a record asks of the table, read from its key and value alone:
//! a Debezium-style change envelope (`op` c/u/r upserts `after`, `d` deletes),
//! a tombstone (deletes by the record's key) or a plain JSON object (upserted
//! as the row).

use serde_json::{Map, Value};
use weir_sdk::Rejection;
use weir_sdk::codes::MALFORMED_JSON;

/// A JSON object.
pub type Object = Map<String, Value>;

/// A record's change, before the table is consulted.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Insert `row`, or update the row with its key.
    Upsert {
        row: Object,
        /// The record's Kafka key when it is a JSON object: `auto_create`
        /// takes the key columns from it.
        key: Option<Object>,
    },
    /// Remove a row: its key columns come from `key` (the record's Kafka key,
    /// a JSON object), else from `before` (the envelope's old row).
    Delete {
        key: Option<Object>,
        before: Option<Object>,
    },
}

impl Change {
    /// The change `key` and `value` (a tombstone when `None`) describe.
    pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Change, Rejection> {
        let key = key.and_then(key_object);
        let Some(value) = value else {
            return match key {
                Some(key) => Ok(Change::Delete {
                    key: Some(key),
                    before: None,
                }),
                None => Err(malformed(
                    "a tombstone deletes by its Kafka key, which must be a JSON object naming the key columns (e.g. {\"id\": 7})",
                )),
            };
        };
        let value: Value = serde_json::from_slice(value)
            .map_err(|e| malformed(format!("the value is not JSON ({e})")))?;
        let Value::Object(value) = unwrap_payload(value) else {
            return Err(malformed(
                "the value is not a JSON object: write a row object or a change envelope",
            ));
        };
        match envelope_op(&value) {
            Some(op) => from_envelope(op, value, key),
            None => Ok(Change::Upsert { row: value, key }),
        }
    }
}

/// A Kafka key's JSON object, if it is one.
fn key_object(bytes: &[u8]) -> Option<Object> {
    match unwrap_payload(serde_json::from_slice(bytes).ok()?) {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Debezium with schemas (`{"schema": …, "payload": …}`) carries the value in
/// `payload`.
fn unwrap_payload(value: Value) -> Value {
    match value {
        Value::Object(mut o)
            if o.len() == 2 && o.contains_key("schema") && o.contains_key("payload") =>
        {
            o.remove("payload").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// An envelope's `op`: a string `op` beside `after` or `before`.
fn envelope_op(value: &Object) -> Option<String> {
    let op = value.get("op")?.as_str()?;
    (value.contains_key("after") || value.contains_key("before")).then(|| op.to_string())
}

fn from_envelope(op: String, mut value: Object, key: Option<Object>) -> Result<Change, Rejection> {
    match op.as_str() {
        "c" | "u" | "r" => match value.remove("after") {
            Some(Value::Object(row)) => Ok(Change::Upsert { row, key }),
            _ => Err(malformed(format!(
                "op `{op}` needs `after` to be the new row, a JSON object"
            ))),
        },
        "d" => Ok(Change::Delete {
            key,
            before: match value.remove("before") {
                Some(Value::Object(b)) => Some(b),
                _ => None,
            },
        }),
        other => Err(malformed(format!(
            "op `{other}` is not applied by the postgres sink (it applies c, u, r and d)"
        ))),
    }
}

fn malformed(reason: impl Into<String>) -> Rejection {
    Rejection::new(MALFORMED_JSON, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().expect("object")
    }

    fn decode(key: Option<&str>, value: Option<&str>) -> Result<Change, Rejection> {
        Change::decode(key.map(str::as_bytes), value.map(str::as_bytes))
    }

    #[test]
    fn envelopes_upsert_after_and_delete_by_key_or_before() {
        let up = decode(
            Some(r#"{"id":1}"#),
            Some(r#"{"before":null,"after":{"id":1,"name":"a"},"op":"u","ts_ms":5,"source":{}}"#),
        );
        assert_eq!(
            up.unwrap(),
            Change::Upsert {
                row: obj(json!({"id": 1, "name": "a"})),
                key: Some(obj(json!({"id": 1}))),
            }
        );
        let del = decode(
            None,
            Some(r#"{"before":{"id":2,"name":"b"},"after":null,"op":"d"}"#),
        );
        assert_eq!(
            del.unwrap(),
            Change::Delete {
                key: None,
                before: Some(obj(json!({"id": 2, "name": "b"}))),
            }
        );
        let snapshot = decode(None, Some(r#"{"after":{"id":3},"op":"r"}"#)).unwrap();
        assert!(matches!(snapshot, Change::Upsert { .. }));
    }

    #[test]
    fn tombstones_delete_by_their_key_and_need_one() {
        assert_eq!(
            decode(Some(r#"{"id":4}"#), None).unwrap(),
            Change::Delete {
                key: Some(obj(json!({"id": 4}))),
                before: None,
            }
        );
        assert!(decode(Some("4"), None).is_err());
        assert!(decode(None, None).is_err());
    }

    #[test]
    fn plain_objects_are_rows_and_other_values_are_refused() {
        let plain = decode(Some("k"), Some(r#"{"id":5,"op":"x"}"#)).unwrap();
        assert_eq!(
            plain,
            Change::Upsert {
                row: obj(json!({"id": 5, "op": "x"})),
                key: None,
            }
        );
        for bad in ["not json", "[1,2]", "7"] {
            let e = decode(None, Some(bad)).unwrap_err();
            assert_eq!(e.codes, vec![MALFORMED_JSON], "{bad}");
        }
        let e = decode(None, Some(r#"{"after":null,"op":"c"}"#)).unwrap_err();
        assert!(e.reason.contains("`after`"), "{}", e.reason);
        let e = decode(None, Some(r#"{"before":null,"after":null,"op":"t"}"#)).unwrap_err();
        assert!(e.reason.contains("op `t`"), "{}", e.reason);
    }

    #[test]
    fn debezium_schema_wrappers_are_unwrapped() {
        let c = decode(
            Some(r#"{"schema":{},"payload":{"id":6}}"#),
            Some(r#"{"schema":{},"payload":{"before":{"id":6},"after":null,"op":"d"}}"#),
        )
        .unwrap();
        assert_eq!(
            c,
            Change::Delete {
                key: Some(obj(json!({"id": 6}))),
                before: Some(obj(json!({"id": 6}))),
            }
        );
    }
}
