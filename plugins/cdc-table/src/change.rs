//! The few parts of an envelope the table reads: `op`, `source.seq`, and the row
//! (`after`) or, for a delete, the id (`before.id`). Fields it does not read are
//! not checked.

use cdc_model::Op;
use cdc_model::Row;
use cdc_model::codes::{UNKNOWN_OP, WRONG_TYPE};
use cdc_model::fields::{Object, Problems, STRING, UNSIGNED};

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
/// only tells a compacted topic to forget the key; the failure reason otherwise.
pub fn parse(value: Option<&[u8]>) -> Result<Option<Change>, String> {
    let Some(bytes) = value else {
        return Ok(None);
    };
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
    if let Some(reason) = p.reason() {
        return Err(reason);
    }
    match (seq, op, id) {
        (Some(seq), Some(op), Some(id)) => Ok(Some(Change { seq, op, id, after })),
        _ => Err(format!("{WRONG_TYPE}: the envelope could not be read")),
    }
}

#[cfg(test)]
mod tests {
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
        let err = |v: &str| parse(Some(v.as_bytes())).expect_err("invalid");
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
}
