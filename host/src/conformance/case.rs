//! One fixture case on disk: `case.toml` (config, seed, clock, steps) and
//! `input.jsonl` (records; binary values may live in files beside it).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::ConformanceError;
use crate::config::LimitsConfig;
use crate::record::Record;

/// `case.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// `description = "…"`: what the case shows, for the reader of the fixture.
    pub description: Option<String>,
    /// `seed = 7`: the guest's random stream.
    #[serde(default)]
    pub seed: u64,
    /// `clock_ms = 1767225600000`: the guest's virtual wall clock at start.
    #[serde(default = "default_clock_ms")]
    pub clock_ms: i64,
    /// `[config]`: the plugin config, as a connector would give it.
    #[serde(default)]
    pub config: toml::Table,
    /// `[limits]`: the same sandbox limits as `weir run` unless set.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `steps = [{ process = 3 }, "restart", { tick = { watermark_ms = 0 } }]`;
    /// empty: one call with every input (sources: `next_batch = 10`;
    /// aggregators: then a final tick with the largest watermark).
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// 2026-01-01T00:00:00Z.
fn default_clock_ms() -> i64 {
    1_767_225_600_000
}

/// One call (or clock move) of a script.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Source: ask for up to N records.
    NextBatch(u32),
    /// Transform: the next N input records.
    Process(usize),
    /// Aggregator: the next N input records.
    Update(usize),
    /// Aggregator: emit what `watermark_ms` completes; `now_ms` also sets the clock.
    Tick {
        watermark_ms: i64,
        now_ms: Option<i64>,
    },
    /// Moves the virtual clock.
    Clock(i64),
    /// Snapshot, throw the instance away, start a fresh one and restore: what a
    /// host restart does.
    Restart,
}

/// One line of `input.jsonl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputLine {
    key: Option<String>,
    /// A JSON value, sent as its compact serialization.
    value: Option<Value>,
    /// A value given as text, byte for byte.
    value_text: Option<String>,
    value_b64: Option<String>,
    /// A file beside `input.jsonl` holding the raw value (e.g. a protobuf feed).
    value_file: Option<String>,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    timestamp_ms: i64,
}

/// A case ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    /// `plugin/case`.
    pub name: String,
    pub dir: PathBuf,
    pub spec: CaseSpec,
    pub input: Vec<Record>,
}

impl Case {
    pub fn load(plugin: &str, dir: &Path) -> Result<Case, ConformanceError> {
        let name = format!(
            "{plugin}/{}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        let bad = |file: &Path, reason: String| ConformanceError::Fixture {
            path: file.to_path_buf(),
            reason,
        };
        let spec_path = dir.join("case.toml");
        let text =
            std::fs::read_to_string(&spec_path).map_err(|e| bad(&spec_path, e.to_string()))?;
        let spec: CaseSpec = toml::from_str(&text).map_err(|e| bad(&spec_path, e.to_string()))?;
        let input_path = dir.join("input.jsonl");
        let mut input = Vec::new();
        if input_path.is_file() {
            let text = std::fs::read_to_string(&input_path)
                .map_err(|e| bad(&input_path, e.to_string()))?;
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = |reason: String| bad(&input_path, format!("line {}: {reason}", n + 1));
                let l: InputLine = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
                input.push(l.into_record(dir).map_err(at)?);
            }
        }
        Ok(Case {
            name,
            dir: dir.to_path_buf(),
            spec,
            input,
        })
    }
}

impl InputLine {
    fn into_record(self, dir: &Path) -> Result<Record, String> {
        let given = [
            self.value.is_some(),
            self.value_text.is_some(),
            self.value_b64.is_some(),
            self.value_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err("give at most one of value, value_text, value_b64, value_file".into());
        }
        let value = if let Some(v) = self.value {
            Some(serde_json::to_vec(&v).map_err(|e| e.to_string())?)
        } else if let Some(t) = self.value_text {
            Some(t.into_bytes())
        } else if let Some(b) = self.value_b64 {
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("value_b64: {e}"))?,
            )
        } else if let Some(f) = self.value_file {
            let path = dir.join(&f);
            Some(std::fs::read(&path).map_err(|e| format!("value_file {}: {e}", path.display()))?)
        } else {
            None
        };
        let headers = self
            .headers
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text.into_bytes())
            })
            .collect();
        Ok(Record {
            key: self.key.map(String::into_bytes),
            value,
            headers,
            timestamp_ms: self.timestamp_ms,
            origin: None,
        })
    }
}
