//! One raw change made into a Debezium-style envelope: `before`, `after`, `op`
//! (`c`, `u`, `d`, `r`), `ts_ms` and `source`, keyed by `{"id":…}`. The rows are
//! copied byte for byte (whitespace aside), so their fields keep their order and
//! any columns beyond the ones checked here.

use std::borrow::Cow;

use cdc_model::codes::{UNKNOWN_OP, WRONG_TYPE};
use cdc_model::fields::{
    AnyObject, INTEGER, Object, Problems, STRING, Text, UNSIGNED, typed, typed_value,
};
use cdc_model::{Op, RawOp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use weir_sdk::Rejection;

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

/// A raw change that passed every check: what its envelope is made of.
#[derive(Debug)]
struct Change<'a> {
    seq: u64,
    op: RawOp,
    table: Cow<'a, str>,
    ts_ms: i64,
    /// `row.id`.
    id: u64,
    row: &'a RawValue,
    /// `Some` exactly when the operation carries the row before it.
    old: Option<&'a RawValue>,
}

/// The envelope of the raw change in `value`, or the rejection (`malformed_json`,
/// `missing_field`, `wrong_type`, `unknown_op`, all that apply).
pub fn shape(value: Option<&[u8]>, db: &str) -> Result<Shaped, Rejection> {
    match fast(value) {
        Some(change) => envelope(change, db),
        None => envelope(slow(value)?, db),
    }
}

/// The record `change` becomes.
fn envelope(change: Change<'_>, db: &str) -> Result<Shaped, Rejection> {
    let op = change.op;
    let envelope = Envelope {
        before: change.old,
        after: Some(change.row).filter(|_| op != RawOp::Delete),
        op: op.envelope(),
        ts_ms: change.ts_ms,
        source: Source {
            connector: CONNECTOR,
            db,
            table: &change.table,
            seq: change.seq,
            snapshot: op == RawOp::Snapshot,
        },
    };
    let mut value = serde_json::to_vec(&envelope)
        .map_err(|e| Rejection::new(WRONG_TYPE, format!("change {}: {e}", change.seq)))?;
    compact(&mut value);
    Ok(Shaped {
        key: format!("{{\"id\":{}}}", change.id),
        value,
        op: op.envelope(),
    })
}

/// The fields of a raw change, read in one pass with [`typed`]; the rows stay
/// raw text, copied into the envelope as they are.
#[derive(Deserialize)]
struct Fields<'a> {
    seq: Option<u64>,
    #[serde(borrow)]
    op: Option<Text<'a>>,
    #[serde(borrow)]
    table: Option<Text<'a>>,
    ts_ms: Option<i64>,
    #[serde(borrow)]
    row: Option<&'a RawValue>,
    #[serde(borrow)]
    old: Option<&'a RawValue>,
}

/// The `id` of a row, the one field of it this stage reads.
#[derive(Deserialize)]
struct RowId {
    id: Option<u64>,
}

/// The change in a well-formed value, without a map per object; `None` sends
/// the value to [`slow`], which says what is wrong with it.
fn fast(value: Option<&[u8]>) -> Option<Change<'_>> {
    let f: Fields<'_> = typed_value(value)?;
    let op = RawOp::parse(&f.op?.0)?;
    let row = f.row?;
    let old = f.old.filter(|_| op.has_old());
    if op.has_old() {
        typed::<AnyObject>(old?.get())?;
    }
    Some(Change {
        seq: f.seq?,
        op,
        table: f.table?.0,
        ts_ms: f.ts_ms?,
        id: typed::<RowId>(row.get())?.id?,
        row,
        old,
    })
}

/// The change in `value` read field by field with [`Object`], or every
/// problem it has.
fn slow(value: Option<&[u8]>) -> Result<Change<'_>, Rejection> {
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
    if let Some(rejection) = p.rejection() {
        return Err(rejection);
    }
    let (Some(seq), Some(op), Some(table), Some(ts_ms), Some(id), Some(row)) =
        (seq, op, table, ts_ms, id, change.raw("row"))
    else {
        return Err(Rejection::new(WRONG_TYPE, "the change could not be read"));
    };
    Ok(Change {
        seq,
        op,
        table: Cow::Owned(table),
        ts_ms,
        id,
        row,
        old: change.raw("old").filter(|_| op.has_old()),
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
        let err = |v: &str| {
            shape(Some(v.as_bytes()), "appdb")
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            shape(None, "appdb").expect_err("tombstone").to_string(),
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

    /// Values put in place of a field (or of a row's `id`), or added after it.
    const VALUES: [&str; 26] = [
        "null",
        "0",
        "-1",
        "3.0",
        "1e2",
        "1e400",
        "18446744073709551615",
        "18446744073709551616",
        r#""7""#,
        r#""INSERT""#,
        r#""DELETE""#,
        r#""SNAPSHOT""#,
        r#""insert""#,
        r#""INS\u0045RT""#,
        r#""us\"ers\n""#,
        r#""\ud800""#,
        "true",
        "[]",
        "[5]",
        "{}",
        r#"{"id":5}"#,
        r#"{"id":5,"id":"5"}"#,
        r#"{"\ud800":1}"#,
        r#"{"id" : 6 , "x" : [1, {"y": null}] }"#,
        r#"[{"id":5}]"#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ];

    /// A raw change as `(key, value)` entries, so a test can change one.
    fn entries(op: &str) -> Vec<(String, String)> {
        [
            ("seq", "7".to_string()),
            ("op", format!("{op:?}")),
            ("table", r#""users""#.into()),
            ("ts_ms", "20".into()),
            ("row", ROW.into()),
            ("old", OLD.into()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{k:?}"), v))
        .collect()
    }

    fn render(entries: &[(String, String)]) -> String {
        let fields: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", fields.join(","))
    }

    /// What the tests and fixtures use, and more, for each operation: each
    /// field dropped, set to each of [`VALUES`], repeated with each; the row's
    /// `id` likewise; an unknown field of each; invalid UTF-8 in a field no
    /// one reads; arrays, scalars and broken JSON; and every value of the
    /// conformance fixtures.
    fn spread() -> Vec<Vec<u8>> {
        let mut docs = vec![
            "[]".to_string(),
            "{".into(),
            String::new(),
            "7".into(),
            r#"[7,"INSERT","users",20,{"id":5}]"#.into(),
            "INSERT INTO users VALUES (7, 'Ada Lovelace', 1200.00)".into(),
            "{\n  \"seq\": 1, \"op\": \"INSERT\", \"table\": \"accounts\", \"ts_ms\": 5,\n  \"row\": { \"name\": \"A  B\", \"id\": 9, \"extra\": [1, 2] }\n}".into(),
        ];
        for op in ["INSERT", "UPDATE", "DELETE", "SNAPSHOT"] {
            let base = entries(op);
            docs.push(render(&base));
            docs.push(format!("[{}] ", render(&base)));
            docs.push(format!(" {} x", render(&base)));
            for at in 0..base.len() {
                let mut e = base.clone();
                e.remove(at);
                docs.push(render(&e));
                for value in VALUES {
                    let mut e = base.clone();
                    e[at].1 = value.into();
                    docs.push(render(&e));
                    let mut e = base.clone();
                    e.insert(at + 1, (base[at].0.clone(), value.into()));
                    docs.push(render(&e));
                    for (k, v) in [("id", value), ("\"x\"", value)] {
                        let mut e = base.clone();
                        e[at].1 = ROW.replace("5", &format!("{v}, {k:?}: 5"));
                        docs.push(render(&e));
                    }
                }
            }
            for value in VALUES {
                let mut e = base.clone();
                e.push(("\"extra\"".into(), value.into()));
                docs.push(render(&e));
            }
        }
        let mut docs: Vec<Vec<u8>> = docs.into_iter().map(String::into_bytes).collect();
        for (key, value) in [("extra", "x?"), ("ex?", "x")] {
            let text = format!(r#"{{"{key}":"{value}",{}"#, &raw("INSERT", false)[1..]);
            docs.push(text.clone().into_bytes());
            let mut bytes = text.into_bytes();
            let at = bytes.iter().position(|b| *b == b'?').expect("?");
            bytes[at] = 0xff;
            docs.push(bytes);
        }
        docs.extend(weir_sdk::testing::fixture_values(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        )));
        docs
    }

    /// The fast path declines or makes exactly the record the slow path makes,
    /// and takes every well-formed change, escaped strings included.
    #[test]
    fn fast_path_agrees_with_the_slow_path() {
        let mut taken = 0;
        for doc in spread() {
            let slow = slow(Some(&doc)).and_then(|c| super::envelope(c, "appdb"));
            if let Some(fast) = fast(Some(&doc)) {
                let text = String::from_utf8_lossy(&doc);
                assert_eq!(super::envelope(fast, "appdb"), slow, "{text}");
                taken += 1;
            }
            assert_eq!(shape(Some(&doc), "appdb"), slow);
        }
        assert_eq!(
            shape(None, "appdb"),
            slow(None).and_then(|c| super::envelope(c, "appdb"))
        );
        for op in ["INSERT", "UPDATE", "DELETE", "SNAPSHOT"] {
            let mut e = entries(op);
            e[1].1 = format!("\"{}\"", op.replace('E', "\\u0045"));
            e[2].1 = r#""us\"ers\n""#.into();
            e.push(("\"extra\"".into(), "[1e400]".into()));
            assert!(
                fast(Some(render(&e).as_bytes())).is_some(),
                "{}",
                render(&e)
            );
        }
        assert!(taken > 200, "{taken}");
    }
}
