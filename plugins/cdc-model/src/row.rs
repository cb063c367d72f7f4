//! A row of the `users` table, the unit every CDC stage moves: in raw changes
//! (`row`, `old`), in envelopes (`before`, `after`) and in snapshots.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::codes::WRONG_TYPE;
use crate::fields::{INTEGER, Object, Problems, STRING, Text, UNSIGNED, typed};
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
    /// The row in `raw` when it is an object whose every field is there and well
    /// typed: [`Row::from_object`] in one pass and without a map. `None` for
    /// anything else, which [`Row::from_object`] then describes.
    pub fn from_raw(raw: &RawValue) -> Option<Row> {
        let f: RowFields<'_> = typed(raw.get())?;
        Some(Row {
            id: f.id?,
            balance_cents: parse_cents(&f.balance?.0)?,
            created_at: f.created_at?,
            updated_at: f.updated_at?,
            name: f.name?,
        })
    }

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

/// The fields [`Row::from_raw`] reads, each `None` when missing or `null`.
/// Unlike [`Row`]'s own derive (for snapshots, exact) it skips other fields, as
/// [`Row::from_object`] does.
#[derive(Deserialize)]
struct RowFields<'a> {
    id: Option<u64>,
    name: Option<String>,
    #[serde(borrow)]
    balance: Option<Text<'a>>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
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
            p.rejection().map(|r| r.to_string()).as_deref(),
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
            p.rejection().map(|r| r.to_string()).as_deref(),
            Some(
                "wrong_type: balance \"1.5\" is not a decimal string with two places, like \"12.50\""
            )
        );
    }

    /// `Row::from_raw` declines or gives exactly what `Row::from_object` gives
    /// (without a problem), for each field dropped, of each kind, repeated,
    /// escaped, beside unknown fields; and takes every well-formed row.
    #[test]
    fn from_raw_agrees_with_from_object() {
        let values = [
            "null",
            "0",
            "-1",
            "3.0",
            "1e400",
            "18446744073709551616",
            r#""x""#,
            r#""1200.50""#,
            r#""1200.5""#,
            r#""12\u0030\u0030.50""#,
            r#""A\"da\n""#,
            r#""\ud800""#,
            "true",
            "[]",
            "{}",
        ];
        let fields: Vec<(&str, &str)> = ADA[1..ADA.len() - 1]
            .split(',')
            .filter_map(|f| f.split_once(':'))
            .collect();
        let render = |f: &[(&str, &str)]| {
            let f: Vec<String> = f.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{{{}}}", f.join(","))
        };
        let mut docs = vec![
            ADA.to_string(),
            "[5]".into(),
            r#"[5,"Ada Lovelace","1200.50",1,2]"#.into(),
            "7".into(),
            format!(r#"{{"\ud800":1,{}"#, &ADA[1..]),
        ];
        for at in 0..fields.len() {
            let mut f = fields.clone();
            f.remove(at);
            docs.push(render(&f));
            for value in values {
                let mut f = fields.clone();
                f[at].1 = value;
                docs.push(render(&f));
                let mut f = fields.clone();
                f.insert(at + 1, (fields[at].0, value));
                docs.push(render(&f));
                let mut f = fields.clone();
                f.insert(at, (r#""extra""#, value));
                docs.push(render(&f));
            }
        }
        let mut taken = 0;
        for doc in docs {
            let wrapped = format!(r#"{{"after":{doc}}}"#);
            let env = Object::from_value(Some(wrapped.as_bytes())).expect("object");
            let raw = env.raw("after").expect("after");
            let mut p = Problems::default();
            let slow = env
                .object("after", &mut p)
                .and_then(|o| Row::from_object(&o, &mut p))
                .filter(|_| p.is_empty());
            if let Some(fast) = Row::from_raw(raw) {
                assert_eq!(Some(fast), slow, "{doc}");
                taken += 1;
            }
        }
        assert!(taken > 20, "{taken}");
        let escaped = ADA
            .replace("Ada", "\\u0041da\\\"")
            .replace("1200", "12\\u00300");
        let raw: &RawValue = serde_json::from_str(&escaped).expect("raw");
        assert_eq!(
            Row::from_raw(raw).map(|r| (r.name, r.balance_cents)),
            Some(("Ada\" Lovelace".to_string(), 120_050))
        );
    }
}
