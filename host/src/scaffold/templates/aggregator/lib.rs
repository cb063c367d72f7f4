//! `{{name}}`: an aggregator plugin. It counts records per key and, on every
//! tick, emits one `{"count": N, "key": K}` row per key. The counts are its
//! state, checkpointed by the host. Replace the logic in `update` and `tick`.

use std::collections::BTreeMap;

use serde::Deserialize;
use weir_sdk::{Aggregator, FlatBatch, Outcome, RecordRef};

/// The connector's `[aggregate.config]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

pub struct {{Type}} {
    counts: BTreeMap<String, u64>,
}

impl Aggregator for {{Type}} {
    fn init(config: &str) -> Result<Self, String> {
        let _: Config = weir_sdk::parse_config("{{name}}", config)?;
        Ok({{Type}} {
            counts: BTreeMap::new(),
        })
    }

    fn update(&mut self, input: &[RecordRef<'_>], _out: &mut Outcome) -> Result<(), String> {
        for r in input {
            let key = String::from_utf8_lossy(r.key.unwrap_or(b"(none)")).into_owned();
            *self.counts.entry(key).or_default() += 1;
        }
        Ok(())
    }

    fn tick(&mut self, _watermark_ms: i64, now_ms: i64, out: &mut FlatBatch) -> Result<(), String> {
        for (key, count) in &self.counts {
            let row = serde_json::json!({ "key": key, "count": count });
            let bytes = serde_json::to_vec(&row).map_err(|e| e.to_string())?;
            out.push(Some(key.as_bytes()), Some(&bytes), &[], now_ms);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(&self.counts)
    }

    /// An empty state starts afresh; anything else must be a snapshot of counts.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.counts = weir_sdk::restore_json("{{name}}", state)?.unwrap_or_default();
        Ok(())
    }
}

weir_sdk::export_aggregator!({{Type}});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key() {
        let mut p = {{Type}}::init("{}").unwrap();
        let mut batch = FlatBatch::default();
        batch.push(Some(b"a"), None, &[], 0);
        batch.push(Some(b"a"), None, &[], 0);
        p.update(&batch.records().unwrap(), &mut Outcome::default()).unwrap();
        assert_eq!(p.counts["a"], 2);
    }
}
