//! `purchases-daily`: an aggregator of purchase events into daily totals per
//! calendar date and category, in exact cents, reported on each tick as titled
//! sections (see [`report`]).

pub mod config;
pub mod event;
pub mod report;
pub mod share;
pub mod state;

use config::Config;
use purchases_model::time::Zone;
use state::State;
use weir_sdk::{Aggregator, FlatBatch, Outcome, RecordRef};

/// The plugin: settings plus the state that is checkpointed.
pub struct PurchasesDaily {
    zone: Zone,
    details_rows: usize,
    state: State,
}

impl Aggregator for PurchasesDaily {
    fn init(config: &str) -> Result<Self, String> {
        let (config, zone): (Config, Zone) = Config::parse(config)?;
        Ok(PurchasesDaily {
            zone,
            details_rows: config.details_rows as usize,
            state: State::new(),
        })
    }

    /// Folds valid events into the state and drops them; rejects the others.
    fn update(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            match event::parse(r.value) {
                Ok(e) => {
                    let date = self.zone.date(e.event_ms);
                    self.state.fold(e, date, self.details_rows);
                }
                Err(rejection) => out.reject(i, rejection),
            }
        }
        Ok(())
    }

    /// Reports what arrived since the last tick, then starts a new report.
    fn tick(&mut self, _watermark_ms: i64, now_ms: i64, out: &mut FlatBatch) -> Result<(), String> {
        report::write(&self.state, self.zone, now_ms, out)?;
        self.state.pending = Default::default();
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// An empty state starts afresh; anything else must be a snapshot that adds up.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.state = State::decode(state)?.unwrap_or_else(State::new);
        Ok(())
    }
}

weir_sdk::export_aggregator!(PurchasesDaily);

#[cfg(test)]
mod tests;
