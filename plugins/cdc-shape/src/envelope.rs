//! One raw change made into a Debezium-style envelope: `before`, `after`, `op`
//! (`c`, `u`, `d`, `r`), `ts_ms` and `source`, keyed by `{"id":…}`. The rows are
//! copied byte for byte (whitespace aside), so their fields keep their order and
//! any columns beyond the ones checked here.

use cdc_model::codes::{UNKNOWN_OP, WRONG_TYPE};
use cdc_model::fields::{INTEGER, Object, Problems, STRING, UNSIGNED};
use cdc_model::{Op, RawOp};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::compact::compact;

/// `source.connector` of every envelope.
pub const CONNECTOR: &str = "weir";

/// The record a raw change becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shaped {
    /// `{"id":5}`
    pub key: String,
    /// The envelope, compact JSON.
    pub value: Vec<u8>,
    /// The envelope's operation; a delete is followed by a tombstone.
    pub op: Op,
}

#[derive(Serialize)]
struct Envelope<'a> {
    before: Option<&'a RawValue>,
    after: Option<&'a RawValue>,
    op: Op,
    ts_ms: i64,
    source: Source<'a>,
}

#[derive(Serialize)]
struct Source<'a> {
    connector: &'static str,
    db: &'a str,
    table: &'a str,
    seq: u64,
    snapshot: bool,
}

/// The envelope of the raw change in `value`, or the failure reason
/// (`malformed_json`, `missing_field`, `wrong_type`, `unknown_op`, all that apply).
pub fn shape(value: Option<&[u8]>, db: &str) -> Result<Shaped, String> {
    let change = Object::from_value(value)?;
    let mut p = Problems::default();
    let seq = change.required::<u64>("seq", UNSIGNED, &mut p);
    let op = change
        .required::<String>("op", STRING, &mut p)
        .and_then(|name| {
            let op = RawOp::parse(&name);
            if op.is_none() {
                p.add(
                    UNKNOWN_OP,
                    format!("op {name:?} is not one of INSERT, UPDATE, DELETE, SNAPSHOT"),
                );
            }
            op
        });
    let table = change.required::<String>("table", STRING, &mut p);
    let ts_ms = change.required::<i64>("ts_ms", INTEGER, &mut p);
    let id = change
        .object("row", &mut p)
        .and_then(|row| row.required::<u64>("id", UNSIGNED, &mut p));
    if op.is_some_and(RawOp::has_old) {
        change.object("old", &mut p);
    }
    if let Some(reason) = p.reason() {
        return Err(reason);
    }
    let (Some(seq), Some(op), Some(table), Some(ts_ms), Some(id)) = (seq, op, table, ts_ms, id)
    else {
        return Err(format!("{WRONG_TYPE}: the change could not be read"));
    };
    let envelope = Envelope {
        before: change.raw("old").filter(|_| op.has_old()),
        after: change.raw("row").filter(|_| op != RawOp::Delete),
        op: op.envelope(),
        ts_ms,
        source: Source {
            connector: CONNECTOR,
            db,
            table: &table,
            seq,
            snapshot: op == RawOp::Snapshot,
        },
    };
    let mut value =
        serde_json::to_vec(&envelope).map_err(|e| format!("{WRONG_TYPE}: change {seq}: {e}"))?;
    compact(&mut value);
    Ok(Shaped {
        key: format!("{{\"id\":{id}}}"),
        value,
        op: op.envelope(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ROW: &str =
        r#"{"id":5,"name":"Ada Lovelace","balance":"1200.00","created_at":10,"updated_at":20}"#;
    const OLD: &str =
        r#"{"id":5,"name":"Ada Lovelace","balance":"1000.00","created_at":10,"updated_at":10}"#;

    fn raw(op: &str, old: bool) -> String {
        let old = if old {
            format!(r#","old":{OLD}"#)
        } else {
            String::new()
        };
        format!(r#"{{"seq":7,"op":"{op}","table":"users","ts_ms":20,"row":{ROW}{old}}}"#)
    }

    fn envelope(op: &str, old: bool) -> (String, String, Op) {
        let s = shape(Some(raw(op, old).as_bytes()), "appdb").expect("valid");
        (s.key, String::from_utf8(s.value).expect("utf-8"), s.op)
    }

    #[test]
    fn each_operation_becomes_its_envelope() {
        let source = |snapshot: bool| {
            format!(
                r#""source":{{"connector":"weir","db":"appdb","table":"users","seq":7,"snapshot":{snapshot}}}"#
            )
        };
        assert_eq!(
            envelope("INSERT", false),
            (
                r#"{"id":5}"#.to_string(),
                format!(
                    r#"{{"before":null,"after":{ROW},"op":"c","ts_ms":20,{}}}"#,
                    source(false)
                ),
                Op::Create
            )
        );
        assert_eq!(
            envelope("UPDATE", true).1,
            format!(
                r#"{{"before":{OLD},"after":{ROW},"op":"u","ts_ms":20,{}}}"#,
                source(false)
            )
        );
        assert_eq!(
            envelope("DELETE", true).1,
            format!(
                r#"{{"before":{OLD},"after":null,"op":"d","ts_ms":20,{}}}"#,
                source(false)
            )
        );
        assert_eq!(
            envelope("SNAPSHOT", false).1,
            format!(
                r#"{{"before":null,"after":{ROW},"op":"r","ts_ms":20,{}}}"#,
                source(true)
            )
        );
        assert_eq!(
            envelope("INSERT", true).1,
            envelope("INSERT", false).1,
            "old ignored"
        );
    }

    #[test]
    fn rows_keep_their_fields_and_order_but_lose_whitespace() {
        let pretty = "{\n  \"seq\": 1, \"op\": \"INSERT\", \"table\": \"accounts\", \"ts_ms\": 5,\n  \"row\": { \"name\": \"A  B\", \"id\": 9, \"extra\": [1, 2] }\n}";
        let s = shape(Some(pretty.as_bytes()), "shop").expect("valid");
        assert_eq!(s.key, r#"{"id":9}"#);
        let text = String::from_utf8(s.value).expect("utf-8");
        assert!(
            text.starts_with(
                r#"{"before":null,"after":{"name":"A  B","id":9,"extra":[1,2]},"op":"c""#
            ),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["source"]["db"], "shop");
        assert_eq!(v["source"]["table"], "accounts");
    }

    #[test]
    fn malformed_changes_name_every_problem() {
        let err = |v: &str| shape(Some(v.as_bytes()), "appdb").expect_err("invalid");
        assert_eq!(
            shape(None, "appdb").expect_err("tombstone"),
            "malformed_json: record has no value (a tombstone)"
        );
        assert_eq!(err("[]"), "malformed_json: value is not a JSON object");
        assert!(err("{").starts_with("malformed_json: value is not valid JSON"));
        assert_eq!(
            err(&raw("UPDATE", false)),
            "missing_field: required field old is missing"
        );
        assert_eq!(
            err(&raw("MERGE", false)),
            "unknown_op: op \"MERGE\" is not one of INSERT, UPDATE, DELETE, SNAPSHOT"
        );
        assert_eq!(
            err(r#"{"seq":"7","op":1,"ts_ms":1.5,"row":{"id":-5}}"#),
            "missing_field,wrong_type: required field table is missing; seq is not an \
             unsigned integer; op is not a string; ts_ms is not an integer; row.id is not an \
             unsigned integer"
        );
        assert_eq!(
            err(r#"{"seq":1,"op":"DELETE","table":"users","ts_ms":1,"row":{},"old":"x"}"#),
            "missing_field,wrong_type: required field row.id is missing; old is not an object"
        );
        let v = json!({"seq": 1, "op": "SNAPSHOT", "table": "users", "ts_ms": 1, "row": null});
        assert_eq!(
            err(&v.to_string()),
            "missing_field: required field row is missing"
        );
    }
}
