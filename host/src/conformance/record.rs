//! `weir record`: captures real records from a topic into a fixture case's
//! `input.jsonl`, so a conformance case can be made from production data.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use serde_json::{Map, Value};

use super::ConformanceError;
use super::render::value_field;
use crate::config::{KafkaConfig, StartFrom};
use crate::kafka::client::Cluster;

/// Reads up to `max` records of `topic` from the beginning (in a throwaway
/// group, committing nothing) until `idle` passes without one, and writes them
/// to `dir/input.jsonl`, plus a `case.toml` when the case has none. Returns how
/// many records were written.
pub async fn record_topic(
    bootstrap: &str,
    topic: &str,
    max: usize,
    idle: Duration,
    dir: &Path,
) -> Result<usize, ConformanceError> {
    let cluster = Cluster {
        bootstrap: bootstrap.to_string(),
        settings: KafkaConfig::default(),
    };
    let group = format!("weir-record-{}", uuid::Uuid::new_v4());
    let consumer = cluster
        .consumer(&group, StartFrom::Earliest)
        .map_err(|e| ConformanceError::Plugin(e.to_string()))?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| ConformanceError::Plugin(format!("cannot subscribe to {topic}: {e}")))?;
    let mut lines = String::new();
    let mut n = 0;
    while n < max {
        let msg = match tokio::time::timeout(idle, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => {
                return Err(ConformanceError::Plugin(format!("reading {topic}: {e}")));
            }
            Ok(Ok(m)) => m,
        };
        let mut line = Map::new();
        line.insert(
            "key".into(),
            msg.key()
                .map_or(Value::Null, |k| String::from_utf8_lossy(k).into()),
        );
        if let Some(v) = msg.payload() {
            let (field, value) = value_field(v);
            line.insert(field.into(), value);
        }
        if let Some(h) = msg.headers() {
            let headers: Map<String, Value> = h
                .iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into(),
                    )
                })
                .collect();
            line.insert("headers".into(), headers.into());
        }
        line.insert(
            "timestamp_ms".into(),
            msg.timestamp().to_millis().unwrap_or(0).into(),
        );
        lines.push_str(&Value::Object(line).to_string());
        lines.push('\n');
        n += 1;
    }
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|source| ConformanceError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| ConformanceError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(dir.join("input.jsonl"), &lines)?;
    let case = dir.join("case.toml");
    if !case.exists() {
        write(
            case,
            &format!("description = \"{n} records recorded from topic {topic}\"\n\n[config]\n"),
        )?;
    }
    Ok(n)
}
