//! The `campaigns` lookup table as the host hands it to a stage: inside the
//! `init` config under `"lookups"`, a list of rows, each a map from CSV header to
//! cell text (`{"campaign_id": "101", "network_id": "1", "name": "Winter Sale"}`).
//! Checked here once, so both plugins refuse a bad table with the same words.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The `lookups` key of a stage config: the tables the stage declared.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookups {
    /// The rows of `campaigns.csv` in file order.
    pub campaigns: Option<Vec<Map<String, Value>>>,
}

/// One campaign of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub campaign_id: i64,
    pub network_id: i64,
    /// The `name` cell; `None` when the table has no `name` column.
    pub name: Option<String>,
}

/// The campaigns by id, and their ids in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaigns {
    by_id: BTreeMap<i64, Campaign>,
    order: Vec<i64>,
}

impl Campaigns {
    /// Reads the `campaigns` table out of a stage's `lookups`; an error names the
    /// row (1-based, header excluded) and the cell.
    pub fn from_lookups(lookups: Option<&Lookups>) -> Result<Campaigns, String> {
        let rows = lookups.and_then(|l| l.campaigns.as_ref()).ok_or(
            "needs the `campaigns` lookup table: name it in the stage's \
             `lookups = [\"campaigns\"]` and declare it in `[lookup.campaigns]`",
        )?;
        Campaigns::from_rows(rows)
    }

    pub fn from_rows(rows: &[Map<String, Value>]) -> Result<Campaigns, String> {
        if rows.is_empty() {
            return Err("the `campaigns` lookup table has no rows".into());
        }
        let mut table = Campaigns::default();
        let mut first_row = BTreeMap::new();
        for (i, row) in rows.iter().enumerate() {
            let n = i + 1;
            let at = |e: String| format!("lookups.campaigns row {n}: {e}");
            let campaign_id = integer(row, "campaign_id").map_err(at)?;
            let network_id = integer(row, "network_id").map_err(at)?;
            let name = match row.get("name") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => return Err(at(not_text("name", other))),
            };
            if let Some(first) = first_row.insert(campaign_id, n) {
                return Err(at(format!(
                    "campaign_id {campaign_id} repeats (first in row {first})"
                )));
            }
            table.order.push(campaign_id);
            table.by_id.insert(
                campaign_id,
                Campaign {
                    campaign_id,
                    network_id,
                    name,
                },
            );
        }
        Ok(table)
    }

    pub fn get(&self, campaign_id: i64) -> Option<&Campaign> {
        self.by_id.get(&campaign_id)
    }

    pub fn contains(&self, campaign_id: i64) -> bool {
        self.by_id.contains_key(&campaign_id)
    }

    /// Campaign ids in table order.
    pub fn ids(&self) -> &[i64] {
        &self.order
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

fn integer(row: &Map<String, Value>, column: &str) -> Result<i64, String> {
    match row.get(column) {
        None => Err(format!("no `{column}` cell")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{column} {s:?} is not an integer")),
        Some(other) => Err(not_text(column, other)),
    }
}

fn not_text(column: &str, value: &Value) -> String {
    format!("{column} is {value}, not the text of a CSV cell")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookups(json: &str) -> Result<Campaigns, String> {
        let l: Lookups = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Campaigns::from_lookups(Some(&l))
    }

    #[test]
    fn rows_become_campaigns_in_table_order() {
        let t = lookups(
            r#"{"campaigns":[
                {"campaign_id":"7","network_id":"10","name":"Winter sale"},
                {"campaign_id":"-3","network_id":"11","name":""}]}"#,
        )
        .expect("valid");
        assert_eq!(t.ids(), &[7, -3]);
        assert_eq!(
            t.get(7),
            Some(&Campaign {
                campaign_id: 7,
                network_id: 10,
                name: Some("Winter sale".into())
            })
        );
        assert_eq!(t.get(-3).and_then(|c| c.name.as_deref()), Some(""));
        assert!(!t.contains(8));
        let t = lookups(r#"{"campaigns":[{"campaign_id":"1","network_id":"2"}]}"#).expect("ok");
        assert_eq!(t.get(1).map(|c| c.name.clone()), Some(None));
    }

    #[test]
    fn errors_name_the_row_and_cell() {
        let err = |json| lookups(json).expect_err("invalid");
        assert_eq!(
            err(
                r#"{"campaigns":[{"campaign_id":"1","network_id":"2"},{"campaign_id":"2","network_id":"ten"}]}"#
            ),
            "lookups.campaigns row 2: network_id \"ten\" is not an integer"
        );
        assert_eq!(
            err(
                r#"{"campaigns":[{"campaign_id":"1","network_id":"2"},{"campaign_id":"3","network_id":"2"},{"campaign_id":"1","network_id":"4"}]}"#
            ),
            "lookups.campaigns row 3: campaign_id 1 repeats (first in row 1)"
        );
        assert_eq!(
            err(r#"{"campaigns":[{"network_id":"2"}]}"#),
            "lookups.campaigns row 1: no `campaign_id` cell"
        );
        assert_eq!(
            err(r#"{"campaigns":[{"campaign_id":"","network_id":"2"}]}"#),
            "lookups.campaigns row 1: campaign_id \"\" is not an integer"
        );
        assert_eq!(
            err(r#"{"campaigns":[{"campaign_id":1,"network_id":"2"}]}"#),
            "lookups.campaigns row 1: campaign_id is 1, not the text of a CSV cell"
        );
        assert_eq!(
            err(r#"{"campaigns":[]}"#),
            "the `campaigns` lookup table has no rows"
        );
        assert!(err(r#"{}"#).starts_with("needs the `campaigns` lookup table"));
        assert!(err(r#"{"networks":[]}"#).contains("unknown field `networks`"));
        assert!(Campaigns::from_lookups(None).is_err());
    }
}
