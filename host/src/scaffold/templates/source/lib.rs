//! `{{name}}`: a source plugin. It counts: each record is `{"id": "PREFIX-N",
//! "n": N}` keyed by N, stamped with the guest's clock. Its position is its state,
//! so a restart continues the count. Replace the logic in `next_batch`.

use serde::Deserialize;
use weir_sdk::{FlatBatch, Source};

/// The connector's `[source.generator.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `prefix = "event"`: the start of every id.
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_prefix() -> String {
    "event".into()
}

pub struct {{Type}} {
    prefix: String,
    next: u64,
}

impl Source for {{Type}} {
    fn init(config: &str) -> Result<Self, String> {
        let c: Config = weir_sdk::parse_config("{{name}}", config)?;
        Ok({{Type}} {
            prefix: c.prefix,
            next: 0,
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        let now = weir_sdk::now_ms();
        for _ in 0..max_records {
            let n = self.next;
            self.next += 1;
            let value = serde_json::json!({ "id": format!("{}-{n}", self.prefix), "n": n });
            let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
            out.push(Some(n.to_string().as_bytes()), Some(&bytes), &[], now);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.next.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let bytes: [u8; 8] = state
            .try_into()
            .map_err(|_| format!("{{name}} snapshot: expected 8 bytes, got {}", state.len()))?;
        self.next = u64::from_le_bytes(bytes);
        Ok(())
    }
}

weir_sdk::export_source!({{Type}});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resumes() {
        let mut p = {{Type}}::init("{}").unwrap();
        let mut out = FlatBatch::default();
        p.next_batch(2, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let mut q = {{Type}}::init("{}").unwrap();
        q.restore(&p.snapshot()).unwrap();
        assert_eq!(q.next, 2);
    }
}
