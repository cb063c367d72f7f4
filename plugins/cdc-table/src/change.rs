//! The few parts of an envelope the table reads: `op`, `source.seq`, and the row
//! (`after`) or, for a delete, the id (`before.id`). Fields it does not read are
//! not checked.

use cdc_model::Op;
use cdc_model::Row;
use cdc_model::codes::{UNKNOWN_OP, WRONG_TYPE};
use cdc_model::fields::{Object, Problems, STRING, Text, UNSIGNED, typed, typed_value};
use serde::Deserialize;
use serde_json::value::RawValue;
use weir_sdk::Rejection;

/// One change to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `source.seq`: the change's position in the source table's history.
    pub seq: u64,
    /// What happened to the row.
    pub op: Op,
    /// The row's id: `after.id`, or `before.id` for a delete.
    pub id: u64,
    /// The row after the change; `None` for a delete.
    pub after: Option<Row>,
}

/// The change in a record value; `Ok(None)` for a tombstone (no value), which
/// only tells a compacted topic to forget the key; the rejection otherwise.
pub fn parse(value: Option<&[u8]>) -> Result<Option<Change>, Rejection> {
    let Some(bytes) = value else {
        return Ok(None);
    };
    match fast(bytes) {
        Some(change) => Ok(Some(change)),
        None => slow(bytes).map(Some),
    }
}

/// The parts of an envelope this stage reads, in one pass with [`typed`]; the
/// nested objects stay raw text until the operation says which row to read.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    op: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    before: Option<&'a RawValue>,
    #[serde(borrow)]
    after: Option<&'a RawValue>,
}

/// `source.seq`, the one field of `source` this stage reads.
#[derive(Deserialize)]
struct Source {
    seq: Option<u64>,
}

/// `before.id`, the one field of the row before a delete this stage reads.
#[derive(Deserialize)]
struct Before {
    id: Option<u64>,
}

/// The change in a well-formed envelope, without a map per object; `None`
/// sends it to [`slow`], which says what is wrong with it.
fn fast(bytes: &[u8]) -> Option<Change> {
    let f: Fields<'_> = typed_value(Some(bytes))?;
    let op = Op::parse(&f.op?.0)?;
    let seq = typed::<Source>(f.source?.get())?.seq?;
    let (id, after) = match op {
        Op::Delete => (typed::<Before>(f.before?.get())?.id?, None),
        _ => {
            let row = Row::from_raw(f.after?)?;
            (row.id, Some(row))
        }
    };
    Some(Change { seq, op, id, after })
}

/// The change in an envelope read field by field with [`Object`], or every
/// problem it has.
fn slow(bytes: &[u8]) -> Result<Change, Rejection> {
    let envelope = Object::from_value(Some(bytes))?;
    let mut p = Problems::default();
    let op = envelope
        .required::<String>("op", STRING, &mut p)
        .and_then(|code| {
            let op = Op::parse(&code);
            if op.is_none() {
                p.add(UNKNOWN_OP, format!("op {code:?} is not one of c, u, d, r"));
            }
            op
        });
    let seq = envelope
        .object("source", &mut p)
        .and_then(|source| source.required::<u64>("seq", UNSIGNED, &mut p));
    let (id, after) = match op {
        Some(Op::Delete) => {
            let id = envelope
                .object("before", &mut p)
                .and_then(|before| before.required::<u64>("id", UNSIGNED, &mut p));
            (id, None)
        }
        Some(_) => {
            let row = envelope
                .object("after", &mut p)
                .and_then(|after| Row::from_object(&after, &mut p));
            (row.as_ref().map(|r| r.id), row)
        }
        None => (None, None),
    };
    if let Some(rejection) = p.rejection() {
        return Err(rejection);
    }
    match (seq, op, id) {
        (Some(seq), Some(op), Some(id)) => Ok(Change { seq, op, id, after }),
        _ => Err(Rejection::new(WRONG_TYPE, "the envelope could not be read")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const ROW: &str =
        r#"{"id":5,"name":"Ada Lovelace","balance":"12.50","created_at":1,"updated_at":2}"#;

    fn envelope(op: &str, before: &str, after: &str) -> String {
        format!(
            r#"{{"before":{before},"after":{after},"op":"{op}","ts_ms":2,"source":{{"connector":"weir","db":"appdb","table":"users","seq":9,"snapshot":false}}}}"#
        )
    }

    #[test]
    fn envelopes_become_changes_and_tombstones_nothing() {
        let c = parse(Some(envelope("u", ROW, ROW).as_bytes())).expect("valid");
        let c = c.expect("a change");
        assert_eq!((c.seq, c.op, c.id), (9, Op::Update, 5));
        assert_eq!(c.after.map(|r| r.balance_cents), Some(1_250));
        let d = parse(Some(envelope("d", r#"{"id":5}"#, "null").as_bytes())).expect("valid");
        assert_eq!(
            d,
            Some(Change {
                seq: 9,
                op: Op::Delete,
                id: 5,
                after: None
            })
        );
        assert_eq!(parse(None), Ok(None));
    }

    #[test]
    fn malformed_envelopes_name_every_problem() {
        let err = |v: &str| parse(Some(v.as_bytes())).expect_err("invalid").to_string();
        assert_eq!(err("42"), "malformed_json: value is not a JSON object");
        assert!(err("{\"op\"").starts_with("malformed_json: value is not valid JSON"));
        assert_eq!(
            err(&envelope("x", "null", ROW)),
            "unknown_op: op \"x\" is not one of c, u, d, r"
        );
        assert_eq!(
            err(&envelope("c", "null", "null")),
            "missing_field: required field after is missing"
        );
        assert_eq!(
            err(&envelope("d", "null", ROW)),
            "missing_field: required field before is missing"
        );
        assert_eq!(
            err(&envelope("r", "null", &ROW.replace("\"12.50\"", "12.5"))),
            "wrong_type: after.balance is not a string"
        );
        assert_eq!(
            err(r#"{"op":"u","source":{"seq":"1"},"after":{"id":1,"name":"A","balance":"1.0"}}"#),
            "missing_field,wrong_type: required fields after.created_at, after.updated_at are \
             missing; source.seq is not an unsigned integer; after.balance \"1.0\" is not a \
             decimal string with two places, like \"12.50\""
        );
        assert_eq!(
            err(r#"{"before":null,"after":null,"source":null}"#),
            "missing_field: required fields op, source are missing"
        );
    }

    /// Values put in place of a field, or added after it (a repeated key).
    const VALUES: [&str; 24] = [
        "null",
        "0",
        "-1",
        "3.0",
        "1e400",
        "18446744073709551615",
        "18446744073709551616",
        r#""9""#,
        r#""c""#,
        r#""d""#,
        r#""\u0064""#,
        r#""12.50""#,
        r#""12.5""#,
        r#""1\u002e00""#,
        r#""A\"da\n""#,
        r#""\ud800""#,
        "true",
        "[]",
        "[5]",
        "{}",
        r#"{"id":5,"seq":9}"#,
        r#"{"\ud800":1}"#,
        r#"[{"id":5}]"#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ];

    const SOURCE: &str =
        r#"{"connector":"weir","db":"appdb","table":"users","seq":9,"snapshot":false}"#;

    /// A JSON object as `(key, value)` entries, so a test can change one.
    type Entries = Vec<(String, String)>;

    fn entries(pairs: &[(&str, &str)]) -> Entries {
        pairs
            .iter()
            .map(|(k, v)| (format!("{k:?}"), v.to_string()))
            .collect()
    }

    fn render(entries: &Entries) -> String {
        let fields: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", fields.join(","))
    }

    /// `object` with entry `at` dropped, set to each of [`VALUES`], and repeated
    /// with each.
    fn variants(object: &Entries, at: usize) -> Vec<Entries> {
        let mut out = Vec::new();
        let mut dropped = object.clone();
        dropped.remove(at);
        out.push(dropped);
        for value in VALUES {
            let mut e = object.clone();
            e[at].1 = value.into();
            out.push(e);
            let mut e = object.clone();
            e.insert(at + 1, (object[at].0.clone(), value.into()));
            out.push(e);
        }
        out
    }

    /// What the tests and fixtures use, and more, for each operation: each
    /// field of the envelope, of `source` and of both rows dropped, set to each
    /// of [`VALUES`] and repeated with each; an unknown field of each; invalid
    /// UTF-8 in a field no one reads; arrays, scalars and broken JSON; and every
    /// value of the conformance fixtures.
    fn spread() -> Vec<Vec<u8>> {
        let row = entries(&[
            ("id", "5"),
            ("name", r#""Ada Lovelace""#),
            ("balance", r#""12.50""#),
            ("created_at", "1"),
            ("updated_at", "2"),
        ]);
        let source = serde_json::from_str::<serde_json::Map<String, Value>>(SOURCE)
            .expect("source")
            .iter()
            .map(|(k, v)| (format!("{k:?}"), v.to_string()))
            .collect::<Entries>();
        let mut docs = vec![
            "42".to_string(),
            "{\"op\"".into(),
            String::new(),
            "c,1,Claude McCarthy,1623.64".into(),
            format!(r#"["c",{SOURCE},null,{ROW}]"#),
            format!("[{}]", envelope("c", "null", ROW)),
        ];
        for op in ["c", "u", "d", "r"] {
            let base = entries(&[
                ("before", &render(&row)),
                ("after", &render(&row)),
                ("op", &format!("{op:?}")),
                ("ts_ms", "2"),
                ("source", SOURCE),
            ]);
            docs.push(render(&base));
            docs.push(format!(" {} x", render(&base)));
            let mut nested = Vec::new();
            for at in 0..base.len() {
                nested.extend(variants(&base, at));
            }
            for (at, inner) in [(0, &row), (1, &row), (4, &source)] {
                for i in 0..inner.len() {
                    for v in variants(inner, i) {
                        let mut e = base.clone();
                        e[at].1 = render(&v);
                        nested.push(e);
                    }
                }
            }
            for value in VALUES {
                let mut e = base.clone();
                e.push(("\"extra\"".into(), value.into()));
                nested.push(e);
            }
            docs.extend(nested.iter().map(render));
        }
        let mut docs: Vec<Vec<u8>> = docs.into_iter().map(String::into_bytes).collect();
        for (key, value) in [("extra", "x?"), ("ex?", "x")] {
            let text = format!(r#"{{"{key}":"{value}",{}"#, &envelope("u", ROW, ROW)[1..]);
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

    /// The fast path declines or gives exactly what the slow path gives, and
    /// takes every well-formed envelope, escaped strings included.
    #[test]
    fn fast_path_agrees_with_the_slow_path() {
        let mut taken = 0;
        for doc in spread() {
            let slow = slow(&doc);
            if let Some(fast) = fast(&doc) {
                assert_eq!(Ok(fast), slow, "{}", String::from_utf8_lossy(&doc));
                taken += 1;
            }
            assert_eq!(parse(Some(&doc)), slow.map(Some));
        }
        let escaped = ROW.replace(r#""Ada"#, r#""\u0041da\"\n"#);
        for doc in [
            envelope("\\u0063", "null", &escaped),
            envelope("d", &escaped, "[1e400]"),
            envelope("r", "7", &ROW.replace("12.50", "1\\u0032.50")),
        ] {
            assert!(fast(doc.as_bytes()).is_some(), "{doc}");
        }
        assert!(taken > 300, "{taken}");
    }
}
