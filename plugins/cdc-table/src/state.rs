//! The materialized table and what the next report needs: the rows by id, the
//! most recently changed rows, and counts of the changes since the last report.
//! All of it is the snapshot, written as JSON with rows in id order.

use std::collections::BTreeMap;

use cdc_model::codes::{DUPLICATE_CREATE, MISSING_FIELD, ORPHAN_CHANGE};
use cdc_model::{Op, Row};
use serde::{Deserialize, Serialize};
use weir_sdk::Rejection;

use crate::change::Change;
use crate::describe;

/// A row as its last change left it (for a delete: its last values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recent {
    /// `source.seq` of the last change, for the reader of a snapshot.
    pub seq: u64,
    /// The last change's operation, shown as `last_op`.
    pub op: Op,
    /// The row's values after it (for a delete: before it).
    pub row: Row,
}

/// Changes applied since the last report, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// `c` changes.
    pub creates: u64,
    /// `u` changes.
    pub updates: u64,
    /// `d` changes.
    pub deletes: u64,
    /// `r` changes (snapshot reads).
    pub snapshots: u64,
}

impl Counts {
    /// Every change since the last report; 0 means there is nothing to report.
    pub fn total(&self) -> u64 {
        self.creates + self.updates + self.deletes + self.snapshots
    }

    fn add(&mut self, op: Op) {
        let n = match op {
            Op::Create => &mut self.creates,
            Op::Update => &mut self.updates,
            Op::Delete => &mut self.deletes,
            Op::Read => &mut self.snapshots,
        };
        *n += 1;
    }
}

/// Everything the table knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The materialized table.
    pub rows: BTreeMap<u64, Row>,
    /// Newest first, one entry per id, at most `last_rows` long.
    pub recent: Vec<Recent>,
    /// Changes since the last report.
    pub pending: Counts,
}

/// Snapshot format version.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Written<'a> {
    version: u32,
    rows: Vec<&'a Row>,
    recent: &'a [Recent],
    pending: Counts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Read {
    version: u32,
    rows: Vec<Row>,
    recent: Vec<Recent>,
    pending: Counts,
}

impl State {
    /// Applies `c`, remembering it among the `keep` most recent changes. `Ok` is
    /// the `change` text to show; `Err` why the record goes to the DLQ: an orphan
    /// update or delete is not applied, a duplicate create is applied as an upsert.
    pub fn apply(&mut self, c: Change, keep: usize) -> Result<String, Rejection> {
        let id = c.id;
        let (result, row) = match (c.op, c.after) {
            (Op::Delete, _) => {
                let Some(before) = self.rows.remove(&id) else {
                    return Err(orphan("delete", id));
                };
                (Ok(describe::deleted(&before)), before)
            }
            (Op::Update, Some(after)) => {
                let Some(before) = self.rows.get(&id) else {
                    return Err(orphan("update", id));
                };
                let text = describe::updated(before, &after);
                self.rows.insert(id, after.clone());
                (Ok(text), after)
            }
            (op, Some(after)) => {
                let result = match self.rows.insert(id, after.clone()) {
                    None => Ok(describe::created(op, &after)),
                    Some(before) => Err(duplicate(op, id, &before)),
                };
                (result, after)
            }
            (op, None) => {
                return Err(Rejection::new(
                    MISSING_FIELD,
                    format!("required field after is missing ({op} of id {id})"),
                ));
            }
        };
        self.pending.add(c.op);
        self.remember(
            Recent {
                seq: c.seq,
                op: c.op,
                row,
            },
            keep,
        );
        result
    }

    fn remember(&mut self, entry: Recent, keep: usize) {
        self.recent.retain(|r| r.row.id != entry.row.id);
        self.recent.insert(0, entry);
        self.recent.truncate(keep);
    }

    /// The sum of every balance, in cents.
    pub fn total_cents(&self) -> i128 {
        self.rows
            .values()
            .map(|r| i128::from(r.balance_cents))
            .sum()
    }

    /// The snapshot: compact JSON, rows in id order.
    pub fn encode(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(&Written {
            version: VERSION,
            rows: self.rows.values().collect(),
            recent: &self.recent,
            pending: self.pending,
        })
    }

    /// A state read from a snapshot, checked to be consistent; `None` for an
    /// empty snapshot, a fresh start.
    pub fn decode(bytes: &[u8]) -> Result<Option<State>, String> {
        let Some(read) = weir_sdk::restore_json::<Read>("cdc-table", bytes)? else {
            return Ok(None);
        };
        weir_sdk::check_snapshot_version("cdc-table", read.version, VERSION)?;
        let bad = |e: String| weir_sdk::inconsistent_snapshot("cdc-table", e);
        let mut rows = BTreeMap::new();
        for row in read.rows {
            if rows
                .last_key_value()
                .is_some_and(|(last, _)| *last >= row.id)
            {
                return Err(bad(format!(
                    "row {} is out of id order or repeated",
                    row.id
                )));
            }
            rows.insert(row.id, row);
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &read.recent {
            let id = r.row.id;
            if !seen.insert(id) {
                return Err(bad(format!(
                    "row {id} is listed twice among recent changes"
                )));
            }
            let held = rows.get(&id);
            let consistent = match r.op {
                Op::Delete => held.is_none(),
                _ => held == Some(&r.row),
            };
            if !consistent {
                return Err(bad(format!(
                    "the last change of row {id} ({}) does not match the table",
                    r.op
                )));
            }
        }
        Ok(Some(State {
            rows,
            recent: read.recent,
            pending: read.pending,
        }))
    }
}

fn orphan(what: &str, id: u64) -> Rejection {
    Rejection::new(
        ORPHAN_CHANGE,
        format!("{what} of id {id}, which the table does not hold; not applied"),
    )
}

/// A create or snapshot read of an id the table holds as `before`.
fn duplicate(op: Op, id: u64, before: &Row) -> Rejection {
    let what = if op == Op::Read {
        "snapshot read"
    } else {
        "create"
    };
    Rejection::new(
        DUPLICATE_CREATE,
        format!(
            "{what} of id {id}, which the table already holds ({}); applied as an upsert",
            describe::brief(before)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, name: &str, cents: i64) -> Row {
        Row {
            id,
            name: name.into(),
            balance_cents: cents,
            created_at: 1,
            updated_at: 1,
        }
    }

    fn change(seq: u64, op: Op, id: u64, after: Option<Row>) -> Change {
        Change { seq, op, id, after }
    }

    #[test]
    fn changes_apply_and_are_counted() {
        let mut s = State::default();
        let ada = row(1, "Ada Lovelace", 120_000);
        assert_eq!(
            s.apply(change(1, Op::Read, 1, Some(ada.clone())), 10),
            Ok("snapshot Ada Lovelace, balance 1,200.00".into())
        );
        assert_eq!(
            s.apply(
                change(2, Op::Create, 2, Some(row(2, "Grace Hopper", 7_500))),
                10
            ),
            Ok("created Grace Hopper, balance 75.00".into())
        );
        assert_eq!(
            s.apply(
                change(3, Op::Update, 1, Some(row(1, "Ada King", 115_025))),
                10
            ),
            Ok("name Ada Lovelace → Ada King; balance 1,200.00 → 1,150.25".into())
        );
        assert_eq!(
            s.apply(change(4, Op::Delete, 2, None), 10),
            Ok("deleted (balance 75.00)".into())
        );
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.total_cents(), 115_025);
        assert_eq!(
            s.pending,
            Counts {
                creates: 1,
                updates: 1,
                deletes: 1,
                snapshots: 1
            }
        );
        let recent: Vec<(u64, Op)> = s.recent.iter().map(|r| (r.row.id, r.op)).collect();
        assert_eq!(recent, [(2, Op::Delete), (1, Op::Update)]);
        assert_eq!(
            s.recent[0].row.name, "Grace Hopper",
            "a deleted row keeps its values"
        );
    }

    #[test]
    fn orphans_are_refused_and_duplicates_upserted() {
        let mut s = State::default();
        let apply = |s: &mut State, c: Change| s.apply(c, 10).map_err(|r| r.to_string());
        assert_eq!(
            apply(&mut s, change(1, Op::Update, 7, Some(row(7, "A B", 1)))),
            Err("orphan_change: update of id 7, which the table does not hold; not applied".into())
        );
        assert_eq!(
            apply(&mut s, change(2, Op::Delete, 7, None)),
            Err("orphan_change: delete of id 7, which the table does not hold; not applied".into())
        );
        assert_eq!(s, State::default(), "nothing applied, nothing counted");
        s.apply(change(3, Op::Create, 7, Some(row(7, "A B", 100))), 10)
            .expect("create");
        assert_eq!(
            apply(&mut s, change(4, Op::Read, 7, Some(row(7, "C D", 200)))),
            Err(
                "duplicate_create: snapshot read of id 7, which the table already holds \
                 (A B, balance 1.00); applied as an upsert"
                    .into()
            )
        );
        assert_eq!(s.rows[&7].name, "C D");
        assert_eq!((s.pending.creates, s.pending.snapshots), (1, 1));
    }

    #[test]
    fn recent_changes_are_newest_first_one_per_id_and_bounded() {
        let mut s = State::default();
        for id in 1..=5 {
            s.apply(change(id, Op::Create, id, Some(row(id, "A B", 0))), 3)
                .expect("create");
        }
        s.apply(change(6, Op::Update, 4, Some(row(4, "A B", 100))), 3)
            .expect("update");
        let ids: Vec<u64> = s.recent.iter().map(|r| r.row.id).collect();
        assert_eq!(ids, [4, 5, 3]);
        s.apply(change(7, Op::Create, 9, Some(row(9, "A B", 0))), 0)
            .expect("create");
        assert!(s.recent.is_empty());
    }

    #[test]
    fn snapshots_round_trip_and_garbage_is_refused() {
        let mut s = State::default();
        for id in [3, 1, 2] {
            s.apply(change(id, Op::Create, id, Some(row(id, "A B", 10))), 10)
                .expect("create");
        }
        s.apply(change(4, Op::Delete, 2, None), 10).expect("delete");
        let bytes = s.encode();
        assert_eq!(State::decode(&bytes), Ok(Some(s.clone())));
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.starts_with(r#"{"version":1,"rows":[{"id":1,"#),
            "{text}"
        );
        let err = |t: &str| State::decode(t.as_bytes()).expect_err("invalid");
        assert!(err("garbage").starts_with("cdc-table snapshot: not a cdc-table snapshot"));
        assert!(
            err(&text.replace(r#""version":1"#, r#""version":9"#)).contains("format version 9")
        );
        assert!(
            err(&text.replace(r#""op":"d""#, r#""op":"u""#))
                .contains("the last change of row 2 (u) does not match the table")
        );
        let empty = r#"{"version":1,"rows":[R,R],"recent":[],"pending":{"creates":0,"updates":0,"deletes":0,"snapshots":0}}"#;
        let r = r#"{"id":1,"name":"A","balance":"1.00","created_at":0,"updated_at":0}"#;
        assert!(err(&empty.replace('R', r)).contains("row 1 is out of id order or repeated"));
    }
}
