//! `customer-events`: a source plugin making the events a media-streaming
//! service records (content plays, searches, browsing) as JSON keyed by
//! `user_id`, shaped like `schemas/user_event.v1.avsc`, so a Kafka sink with
//! `format = "avro"` writes them as Avro registered in the schema registry.

pub mod catalog;
pub mod config;
pub mod events;

use config::Config;
use events::Generator;
use weir_sdk::{FlatBatch, Source};

pub struct CustomerEvents {
    events: Generator,
}

impl Source for CustomerEvents {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        let seed = config.seed.unwrap_or_else(|| {
            rand::Rng::random(&mut <rand::rngs::SmallRng as rand::SeedableRng>::from_os_rng())
        });
        Ok(CustomerEvents {
            events: Generator::new(seed, config.users, config.mix),
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        let now_ms = weir_sdk::now_ms();
        let mut buf = Vec::with_capacity(2048);
        for _ in 0..max_records {
            let (key, value) = self.events.next(now_ms);
            buf.clear();
            value.write_json(&mut buf);
            out.push(Some(key.as_bytes()), Some(&buf), &[], now_ms);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.events.seq.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let seq: [u8; 8] = state.try_into().map_err(|_| {
            format!(
                "customer-events snapshot: expected 8 bytes, got {}",
                state.len()
            )
        })?;
        self.events.resume(u64::from_le_bytes(seq));
        Ok(())
    }
}

weir_sdk::export_source!(CustomerEvents);
