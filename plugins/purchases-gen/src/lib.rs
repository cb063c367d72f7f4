//! `purchases-gen`: a source plugin making e-commerce purchase events as JSON,
//! keyed by `customer_id`, optionally with labelled defects and duplicates for
//! testing validators (see [`stream`]).

pub mod config;
pub mod events;
pub mod faults;
pub mod stream;

use config::Config;
use stream::{INJECTED_HEADER, Stream};
use weir_sdk::{FlatBatch, Source};

/// The plugin: a [`Stream`] stamped with the wall clock.
pub struct PurchasesGen {
    stream: Stream,
}

impl Source for PurchasesGen {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        let seed = config.seed.unwrap_or_else(|| {
            rand::Rng::random(&mut <rand::rngs::SmallRng as rand::SeedableRng>::from_os_rng())
        });
        Ok(PurchasesGen {
            stream: Stream::new(
                seed,
                config.customers,
                config.invalid_ratio,
                config.duplicate_ratio,
            ),
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        let now_ms = weir_sdk::now_ms();
        for _ in 0..max_records {
            let e = self.stream.next(now_ms).map_err(|e| e.to_string())?;
            let label;
            let headers: &[(&str, &[u8])] = match e.injected {
                Some(code) => {
                    label = [(INJECTED_HEADER, code.as_bytes())];
                    &label
                }
                None => &[],
            };
            out.push(
                Some(e.key.as_bytes()),
                Some(&e.value),
                headers,
                e.timestamp_ms,
            );
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.stream.seq().to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let seq: [u8; 8] = state.try_into().map_err(|_| {
            format!(
                "purchases-gen snapshot: expected 8 bytes, got {}",
                state.len()
            )
        })?;
        self.stream.resume(u64::from_le_bytes(seq));
        Ok(())
    }
}

weir_sdk::export_source!(PurchasesGen);
