//! `purchases-gen`: a source plugin making e-commerce purchase events as JSON,
//! keyed by `customer_id`.

pub mod events;

use events::Generator;
use serde::Deserialize;
use weir_sdk::{FlatBatch, Source};

/// `[source.generator.config]` of a connector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `seed = 42`: fixed seed for repeatable streams; random when absent.
    seed: Option<u64>,
    /// `customers = 1000`: how many distinct customer ids to draw from.
    #[serde(default = "default_customers")]
    customers: u32,
}

fn default_customers() -> u32 {
    1000
}

pub struct PurchasesGen {
    generator: Generator,
}

impl Source for PurchasesGen {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| format!("purchases-gen config: {e}"))?;
        let seed = config.seed.unwrap_or_else(|| {
            rand::Rng::random(&mut <rand::rngs::SmallRng as rand::SeedableRng>::from_os_rng())
        });
        Ok(PurchasesGen {
            generator: Generator::new(seed, config.customers),
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        let now_ms = now_ms();
        let mut buf = Vec::with_capacity(512);
        for _ in 0..max_records {
            let p = self.generator.next(now_ms);
            buf.clear();
            serde_json::to_writer(&mut buf, &p).map_err(|e| e.to_string())?;
            out.push(Some(p.customer_id.as_bytes()), Some(&buf), &[], now_ms);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.generator.seq.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let seq: [u8; 8] = state.try_into().map_err(|_| {
            format!(
                "purchases-gen snapshot: expected 8 bytes, got {}",
                state.len()
            )
        })?;
        self.generator.resume(u64::from_le_bytes(seq));
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

weir_sdk::export_source!(PurchasesGen);
