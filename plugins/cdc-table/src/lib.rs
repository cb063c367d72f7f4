//! `cdc-table`: an aggregator that applies Debezium-style envelopes (as
//! `cdc-shape` makes them) to a live `users` table keyed by id: the materialized
//! view of a CDC topic. Each applied change is shown at once as a `CHANGES` row;
//! each tick with news reports the table (see [`report`]). Changes that do not fit
//! the table (an update of an unknown id, a second create) are failed with a
//! reason, so the DLQ shows where the stream and the table disagree.

pub mod change;
pub mod config;
pub mod describe;
pub mod report;
pub mod state;

use cdc_model::Row;
use config::Config;
use report::Shown;
use state::State;
use weir_sdk::{Aggregator, FlatBatch, Outcome, RecordRef};

/// The plugin: settings plus the state that is checkpointed.
pub struct CdcTable {
    last_rows: usize,
    state: State,
}

impl CdcTable {
    /// The table's rows in id order, for tests that compare it with the source's.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.state.rows.values()
    }
}

impl Aggregator for CdcTable {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        Ok(CdcTable {
            last_rows: config.last_rows as usize,
            state: State::default(),
        })
    }

    /// Applies each change and shows it; drops tombstones; fails what does not
    /// parse or does not fit the table.
    fn update(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            let c = match change::parse(r.value) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(rejection) => {
                    out.reject(i, rejection);
                    continue;
                }
            };
            let (seq, op, id) = (c.seq, c.op, c.id);
            match self.state.apply(c, self.last_rows) {
                Ok(text) => report::change(
                    out,
                    &Shown {
                        origin: i,
                        seq,
                        op,
                        id,
                        change: &text,
                        timestamp_ms: r.timestamp_ms,
                    },
                )?,
                Err(rejection) => out.reject(i, rejection),
            }
        }
        Ok(())
    }

    /// Reports the table if anything changed since the last tick, then starts
    /// counting afresh.
    fn tick(&mut self, _watermark_ms: i64, now_ms: i64, out: &mut FlatBatch) -> Result<(), String> {
        report::write(&self.state, self.last_rows, now_ms, out)?;
        self.state.pending = Default::default();
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// An empty state starts afresh; anything else must be a consistent snapshot.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.state = State::decode(state)?.unwrap_or_default();
        Ok(())
    }
}

weir_sdk::export_aggregator!(CdcTable);

#[cfg(test)]
mod tests;
