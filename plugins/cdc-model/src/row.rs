//! A row of the `users` table, the unit every CDC stage moves: in raw changes
//! (`row`, `old`), in envelopes (`before`, `after`) and in snapshots.

use serde::{Deserialize, Serialize};

use crate::codes::WRONG_TYPE;
use crate::fields::{INTEGER, Object, Problems, STRING, UNSIGNED};
use crate::money::parse_cents;

/// `{"id":5,"name":"Ada Lovelace","balance":"1200.00","created_at":…,"updated_at":…}`;
/// the balance is exact cents in memory and a two-place decimal string in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The primary key; also the record key.
    pub id: u64,
    /// "First Last".
    pub name: String,
    /// Exact cents; `"balance"` in JSON.
    #[serde(rename = "balance", with = "crate::money::decimal")]
    pub balance_cents: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch; the time of the row's last change.
    pub updated_at: i64,
}

impl Row {
    /// The row an envelope carries in `obj`, every field checked; problems go to
    /// `problems` with the field's path (`after.balance`). Other fields are ignored,
    /// so a table with more columns still applies.
    pub fn from_object(obj: &Object<'_>, problems: &mut Problems) -> Option<Row> {
        let id = obj.required::<u64>("id", UNSIGNED, problems);
        let name = obj.required::<String>("name", STRING, problems);
        let balance = obj.required::<String>("balance", STRING, problems);
        let balance_cents = balance.and_then(|text| {
            let cents = parse_cents(&text);
            if cents.is_none() {
                problems.add(
                    WRONG_TYPE,
                    format!(
                        "{} {text:?} is not a decimal string with two places, like \"12.50\"",
                        obj.path("balance")
                    ),
                );
            }
            cents
        });
        let created_at = obj.required::<i64>("created_at", INTEGER, problems);
        let updated_at = obj.required::<i64>("updated_at", INTEGER, problems);
        Some(Row {
            id: id?,
            name: name?,
            balance_cents: balance_cents?,
            created_at: created_at?,
            updated_at: updated_at?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str =
        r#"{"id":5,"name":"Ada Lovelace","balance":"1200.50","created_at":1,"updated_at":2}"#;

    #[test]
    fn json_has_the_wire_shape_and_field_order() {
        let row = Row {
            id: 5,
            name: "Ada Lovelace".into(),
            balance_cents: 120_050,
            created_at: 1,
            updated_at: 2,
        };
        assert_eq!(serde_json::to_string(&row).ok().as_deref(), Some(ADA));
        let back: Row = serde_json::from_str(ADA).expect("row");
        assert_eq!(back, row);
        let err = serde_json::from_str::<Row>(&ADA.replace("1200.50", "1200.5"))
            .expect_err("one decimal");
        assert!(
            err.to_string()
                .contains("not a decimal string with two places"),
            "{err}"
        );
    }

    #[test]
    fn rows_in_envelopes_are_checked_field_by_field() {
        let value = format!(r#"{{"after":{ADA},"before":{{"id":5,"balance":12,"extra":true}}}}"#);
        let env = Object::from_value(Some(value.as_bytes())).expect("object");
        let mut p = Problems::default();
        let after = env.object("after", &mut p).expect("after");
        assert_eq!(
            Row::from_object(&after, &mut p).map(|r| r.balance_cents),
            Some(120_050)
        );
        assert!(p.is_empty());
        let before = env.object("before", &mut p).expect("before");
        assert_eq!(Row::from_object(&before, &mut p), None);
        assert_eq!(
            p.reason().as_deref(),
            Some(
                "missing_field,wrong_type: required fields before.name, before.created_at, \
                 before.updated_at are missing; before.balance is not a string"
            )
        );
        let bad = r#"{"id":1,"name":"A","balance":"1.5","created_at":1,"updated_at":1}"#;
        let obj = Object::from_value(Some(bad.as_bytes())).expect("object");
        let mut p = Problems::default();
        assert_eq!(Row::from_object(&obj, &mut p), None);
        assert_eq!(
            p.reason().as_deref(),
            Some(
                "wrong_type: balance \"1.5\" is not a decimal string with two places, like \"12.50\""
            )
        );
    }
}
