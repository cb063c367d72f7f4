//! The aggregation state: totals per date and category, the running total, and
//! what arrived since the last report. All of it is the snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// A sum of cents and how many events made it. Cents are `i128` so no realistic
/// stream can overflow them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    pub cents: i128,
    pub count: u64,
}

impl Tally {
    fn add(&mut self, cents: i64) {
        self.cents += i128::from(cents);
        self.count += 1;
    }

    /// Far beyond any real stream, far below overflow: a snapshot past it is forged.
    fn plausible(&self) -> bool {
        self.cents.unsigned_abs() < 1 << 100 && self.count < 1 << 60
    }

    /// The sum of two tallies, `None` on overflow (only a forged snapshot gets there).
    fn plus(self, other: &Tally) -> Option<Tally> {
        Some(Tally {
            cents: self.cents.checked_add(other.cents)?,
            count: self.count.checked_add(other.count)?,
        })
    }
}

/// One calendar date's totals, overall and per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Day {
    pub total: Tally,
    pub categories: BTreeMap<String, Tally>,
}

/// An event listed in the next report's `BATCH DETAILS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub event_id: String,
    pub customer_id: String,
    pub category: String,
    pub cents: i64,
    pub event_ms: i64,
}

/// What arrived since the last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub total: Tally,
    pub dates: BTreeSet<String>,
    pub details: Vec<Detail>,
}

/// Everything the aggregator knows; maps are ordered so snapshots are
/// byte-for-byte deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Snapshot format version, [`State::VERSION`].
    pub version: u32,
    pub days: BTreeMap<String, Day>,
    pub running: Tally,
    pub pending: Pending,
}

impl State {
    pub const VERSION: u32 = 1;

    pub fn new() -> Self {
        State {
            version: Self::VERSION,
            ..State::default()
        }
    }

    /// Adds one event to its date (in the configured zone), the running total and
    /// the next report, listing it when fewer than `details_rows` are listed.
    pub fn fold(&mut self, event: Event, date: String, details_rows: usize) {
        let day = self.days.entry(date.clone()).or_default();
        day.total.add(event.cents);
        day.categories
            .entry(event.category.clone())
            .or_default()
            .add(event.cents);
        self.running.add(event.cents);
        self.pending.total.add(event.cents);
        self.pending.dates.insert(date);
        if self.pending.details.len() < details_rows {
            self.pending.details.push(Detail {
                event_id: event.event_id,
                customer_id: event.customer_id,
                category: event.category,
                cents: event.cents,
                event_ms: event.event_ms,
            });
        }
    }

    /// A state read from a snapshot, checked to add up; `None` for an empty
    /// snapshot, a fresh start.
    pub fn decode(bytes: &[u8]) -> Result<Option<State>, String> {
        let Some(state) = weir_sdk::restore_json::<State>("purchases-daily", bytes)? else {
            return Ok(None);
        };
        weir_sdk::check_snapshot_version("purchases-daily", state.version, Self::VERSION)?;
        state
            .check()
            .map_err(|e| weir_sdk::inconsistent_snapshot("purchases-daily", e))?;
        Ok(Some(state))
    }

    pub fn encode(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(self)
    }

    /// Checks that a restored state adds up (its version is checked before).
    fn check(&self) -> Result<(), String> {
        let mut sum = Some(Tally::default());
        for (date, day) in &self.days {
            let cats = day
                .categories
                .values()
                .try_fold(Tally::default(), |acc, t| acc.plus(t));
            if cats != Some(day.total) {
                return Err(format!(
                    "{date}: categories do not add up to the day's total"
                ));
            }
            if !day.total.plausible() {
                return Err(format!("{date}: implausible total"));
            }
            sum = sum.and_then(|s| s.plus(&day.total));
        }
        if sum != Some(self.running) || !self.running.plausible() {
            return Err("the days do not add up to the running total".into());
        }
        if let Some(date) = self
            .pending
            .dates
            .iter()
            .find(|d| !self.days.contains_key(*d))
        {
            return Err(format!("pending date {date} has no totals"));
        }
        if !self.pending.total.plausible() || self.pending.total.count > self.running.count {
            return Err("more pending events than events".into());
        }
        if self.pending.details.len() as u64 > self.pending.total.count {
            return Err("more pending details than pending events".into());
        }
        Ok(())
    }
}
