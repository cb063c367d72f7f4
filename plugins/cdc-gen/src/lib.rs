//! `cdc-gen`: a source plugin that keeps a model of a `users (id, name, balance)`
//! table and emits the raw changes that made it (`INSERT`, `UPDATE`, `DELETE`,
//! and `SNAPSHOT` rows first), keyed by id. Every change is a pure function of
//! the seed, its sequence number and the table before it (see [`generator`]), so
//! a restored instance regenerates exactly the changes it would have made.

pub mod change;
pub mod config;
pub mod draw;
pub mod generator;
pub mod names;
pub mod snapshot;
pub mod table;

use config::Config;
use generator::{Generator, Settings};
use rand::TryRngCore;
use weir_sdk::{FlatBatch, Level, Source};

/// The plugin: a [`Generator`] stamped with the wall clock.
pub struct CdcGen {
    generator: Generator,
    /// Where a fresh start (an empty restore) begins.
    fresh: Generator,
    configured_seed: Option<u64>,
}

impl CdcGen {
    /// The generator, for tests that compare its table with a consumer's.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }
}

impl Source for CdcGen {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        let seed = match config.seed {
            Some(seed) => seed,
            None => rand::rngs::OsRng
                .try_next_u64()
                .map_err(|e| format!("cdc-gen: no seed configured and no randomness: {e}"))?,
        };
        let fresh = Generator::new(seed, Settings::from(&config));
        Ok(CdcGen {
            generator: fresh.clone(),
            fresh,
            configured_seed: config.seed,
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        let now_ms = weir_sdk::now_ms();
        let mut value = Vec::with_capacity(256);
        for _ in 0..max_records {
            let Some(change) = self.generator.next(now_ms) else {
                break;
            };
            value.clear();
            serde_json::to_writer(&mut value, &change)
                .map_err(|e| format!("cdc-gen: change {}: {e}", change.seq))?;
            out.push(
                Some(change.key().as_bytes()),
                Some(&value),
                &[],
                change.ts_ms,
            );
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        snapshot::encode(&self.generator)
    }

    /// An empty state starts afresh; anything else must be a consistent snapshot.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let Some(restored) = snapshot::decode(state, self.fresh.settings)? else {
            self.generator = self.fresh.clone();
            return Ok(());
        };
        if let Some(seed) = self.configured_seed.filter(|s| *s != restored.seed()) {
            weir_sdk::log(
                Level::Warn,
                &format!(
                    "cdc-gen: configured seed {seed} differs from the snapshot's {}; \
                     continuing the snapshot's stream",
                    restored.seed()
                ),
            );
        }
        self.generator = restored;
        Ok(())
    }
}

weir_sdk::export_source!(CdcGen);

#[cfg(test)]
mod tests;
