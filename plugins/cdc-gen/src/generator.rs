//! The change stream: each change is a pure function of the seed, its sequence
//! number and the table before it (plus the clock for the timestamps), so after a
//! restore the generator makes exactly the changes it would have made anyway.

use cdc_model::{RawOp, Row};

use crate::change::{Change, TABLE};
use crate::config::{Config, Mix};
use crate::draw::Draw;
use crate::names;
use crate::table::Table;

/// New balances are 0.00 to 5,000.00.
const MAX_OPENING_CENTS: i64 = 500_000;
/// A deposit or withdrawal is 1.00 to 500.00.
const MOVE_CENTS: (i64, i64) = (100, 50_000);
/// Percent of updates that also change the name.
const RENAME_PERCENT: u64 = 5;

/// The parts of the config that shape the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Changes `1..=initial_rows` are `SNAPSHOT`s.
    pub initial_rows: u64,
    /// Weights of the operations after the snapshot.
    pub mix: Mix,
    /// No creates while the table holds this many rows.
    pub max_rows: u64,
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            initial_rows: c.initial_rows,
            mix: c.mix,
            max_rows: c.max_rows,
        }
    }
}

/// The seed, the changes made so far and the table they made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    pub(crate) seed: u64,
    pub(crate) seq: u64,
    pub(crate) table: Table,
    pub(crate) settings: Settings,
}

impl Generator {
    /// A generator before its first change, with an empty table.
    pub fn new(seed: u64, settings: Settings) -> Self {
        Generator {
            seed,
            seq: 0,
            table: Table::default(),
            settings,
        }
    }

    /// The seed every change derives its random numbers from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The sequence number of the last change made (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The table as the changes so far left it.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The next change, stamped `ts_ms`, applied to the table; `None` when no
    /// operation is allowed (the table is full and the mix has only creates).
    pub fn next(&mut self, ts_ms: i64) -> Option<Change> {
        let seq = self.seq + 1;
        let mut d = Draw::for_change(self.seed, seq);
        let op = self.choose(seq, &mut d)?;
        let (row, old) = match op {
            RawOp::Insert | RawOp::Snapshot => {
                let row = Row {
                    id: self.table.allocate_id(),
                    name: names::full_name(&mut d),
                    balance_cents: d.between(0, MAX_OPENING_CENTS),
                    created_at: ts_ms,
                    updated_at: ts_ms,
                };
                self.table.insert(row.clone());
                (row, None)
            }
            RawOp::Update => {
                let index = d.below(self.table.len() as u64) as usize;
                let old = self.table.at(index)?.clone();
                let row = updated(&old, ts_ms, &mut d);
                self.table.replace(index, row.clone());
                (row, Some(old))
            }
            RawOp::Delete => {
                let index = d.below(self.table.len() as u64) as usize;
                let old = self.table.remove(index)?;
                (old.clone(), Some(old))
            }
        };
        self.seq = seq;
        Some(Change {
            seq,
            op,
            table: TABLE,
            ts_ms,
            row,
            old,
        })
    }

    /// Snapshot rows first; an empty table can only grow; a full one cannot.
    fn choose(&self, seq: u64, d: &mut Draw) -> Option<RawOp> {
        if seq <= self.settings.initial_rows {
            return Some(RawOp::Snapshot);
        }
        if self.table.is_empty() {
            return Some(RawOp::Insert);
        }
        let Mix {
            create,
            update,
            delete,
        } = self.settings.mix;
        let create = if (self.table.len() as u64) < self.settings.max_rows {
            create
        } else {
            0
        };
        let ops = [RawOp::Insert, RawOp::Update, RawOp::Delete];
        d.weighted(&[create.into(), update.into(), delete.into()])
            .map(|i| ops[i])
    }
}

/// A deposit or a withdrawal (never below 0.00: a withdrawal larger than the
/// balance becomes a deposit), sometimes with a new last name.
fn updated(old: &Row, ts_ms: i64, d: &mut Draw) -> Row {
    let amount = d.between(MOVE_CENTS.0, MOVE_CENTS.1);
    let withdraw = d.below(2) == 0 && amount <= old.balance_cents;
    let rename = d.below(100) < RENAME_PERCENT;
    Row {
        id: old.id,
        name: if rename {
            names::renamed(&old.name, d)
        } else {
            old.name.clone()
        },
        balance_cents: if withdraw {
            old.balance_cents - amount
        } else {
            old.balance_cents.saturating_add(amount)
        },
        created_at: old.created_at,
        updated_at: ts_ms,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn settings(
        initial_rows: u64,
        create: u32,
        update: u32,
        delete: u32,
        max_rows: u64,
    ) -> Settings {
        Settings {
            initial_rows,
            mix: Mix {
                create,
                update,
                delete,
            },
            max_rows,
        }
    }

    fn run(g: &mut Generator, n: usize) -> Vec<Change> {
        (0..n).map_while(|i| g.next(1_000 + i as i64)).collect()
    }

    /// Replays changes onto a map, asserting each is consistent with it.
    fn replay(changes: &[Change]) -> BTreeMap<u64, Row> {
        let mut t = BTreeMap::new();
        for c in changes {
            match c.op {
                RawOp::Insert | RawOp::Snapshot => {
                    assert!(c.old.is_none());
                    assert_eq!(c.row.created_at, c.ts_ms);
                    assert!(t.insert(c.row.id, c.row.clone()).is_none(), "{c:?}");
                }
                RawOp::Update => {
                    let before = t.insert(c.row.id, c.row.clone());
                    assert_eq!(before.as_ref(), c.old.as_ref(), "{c:?}");
                    assert_eq!(c.row.updated_at, c.ts_ms);
                }
                RawOp::Delete => {
                    let before = t.remove(&c.row.id);
                    assert_eq!(before.as_ref(), Some(&c.row));
                    assert_eq!(c.old.as_ref(), Some(&c.row));
                }
            }
            assert!(c.row.balance_cents >= 0);
        }
        t
    }

    #[test]
    fn changes_are_consistent_with_the_table() {
        let mut g = Generator::new(5, settings(20, 30, 60, 10, 200));
        let changes = run(&mut g, 20_000);
        assert_eq!(changes.len(), 20_000);
        let table = replay(&changes);
        let own: Vec<&Row> = g.table().rows().iter().collect();
        assert_eq!(table.values().collect::<Vec<_>>(), own);
        for (i, c) in changes.iter().enumerate() {
            assert_eq!(c.seq, i as u64 + 1);
            assert_eq!(c.op == RawOp::Snapshot, i < 20, "{c:?}");
            assert_eq!(c.table, "users");
        }
        let ids: Vec<u64> = changes
            .iter()
            .filter(|c| matches!(c.op, RawOp::Insert | RawOp::Snapshot))
            .map(|c| c.row.id)
            .collect();
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "ids are never reused"
        );
        assert!(table.len() <= 200);
    }

    #[test]
    fn the_mix_and_the_update_rules_hold() {
        let mut g = Generator::new(11, settings(0, 30, 60, 10, 10_000));
        let changes = run(&mut g, 20_000);
        let count = |op| changes.iter().filter(|c| c.op == op).count();
        assert!(
            (5_600..6_400).contains(&count(RawOp::Insert)),
            "{}",
            count(RawOp::Insert)
        );
        assert!((11_400..12_600).contains(&count(RawOp::Update)));
        assert!((1_700..2_300).contains(&count(RawOp::Delete)));
        let mut renames = 0;
        for c in changes.iter().filter(|c| c.op == RawOp::Update) {
            let old = c.old.as_ref().expect("old");
            let moved = (c.row.balance_cents - old.balance_cents).abs();
            assert!((100..=50_000).contains(&moved), "{c:?}");
            renames += usize::from(c.row.name != old.name);
            assert_eq!((c.row.id, c.row.created_at), (old.id, old.created_at));
        }
        let share = renames as f64 / count(RawOp::Update) as f64;
        assert!((0.04..0.06).contains(&share), "{share}");
        for c in changes.iter().filter(|c| c.op == RawOp::Insert) {
            assert!((0..=500_000).contains(&c.row.balance_cents));
        }
    }

    #[test]
    fn an_empty_table_gets_an_insert_and_a_full_one_no_creates() {
        let mut g = Generator::new(3, settings(0, 0, 0, 1, 10));
        let ops: Vec<RawOp> = run(&mut g, 6).iter().map(|c| c.op).collect();
        assert_eq!(ops, [RawOp::Insert, RawOp::Delete].repeat(3));

        let mut g = Generator::new(3, settings(2, 1, 1, 0, 3));
        let changes = run(&mut g, 500);
        assert_eq!(g.table().len(), 3);
        assert_eq!(changes.iter().filter(|c| c.op == RawOp::Insert).count(), 1);

        let mut g = Generator::new(3, settings(0, 1, 0, 0, 4));
        assert_eq!(
            run(&mut g, 10).len(),
            4,
            "full and only creates: nothing to do"
        );
        assert_eq!(g.next(0), None);
        assert_eq!(g.seq(), 4);
    }

    #[test]
    fn a_change_depends_on_seed_seq_and_table_only() {
        let s = settings(5, 30, 60, 10, 50);
        let mut a = Generator::new(9, s);
        let all = run(&mut a, 300);
        let mut b = Generator::new(9, s);
        run(&mut b, 120);
        let mut c = b.clone();
        let rest: Vec<Change> = (0..180).map_while(|i| c.next(1_000 + 120 + i)).collect();
        assert_eq!(all[120..], rest[..]);
        let mut other = Generator::new(10, s);
        assert_ne!(run(&mut other, 300), all);
    }
}
