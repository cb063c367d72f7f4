//! The dead-letter queue: rejected records, as they entered the stage that
//! rejected them, with the reason and their provenance in headers.

use crate::kafka::KafkaIoError;
use crate::kafka::produce::{Headers, Outgoing, Pending, Producer, enqueue};
use crate::record::{Record, now_ms};
use weir_sdk::Rejection;
use weir_sdk::codes::reason_text;

/// A record the pipeline could not process, and why.
#[derive(Debug, Clone)]
pub struct DlqEntry {
    pub record: Record,
    /// The rules the record broke; the DLQ is counted per code.
    pub codes: Vec<String>,
    /// Why, in words an operator can act on.
    pub reason: String,
    /// `transform[0]`, `source`, …
    pub stage: String,
    pub plugin: String,
    /// The contract version the plugin was built against.
    pub plugin_contract: String,
}

impl DlqEntry {
    /// An entry for `record`, refused by the host itself (`stage` names where).
    pub fn from_host(record: Record, why: Rejection, stage: &str, kind: &str) -> Self {
        DlqEntry {
            record,
            codes: why.codes.iter().map(|c| c.to_string()).collect(),
            reason: why.reason,
            stage: stage.to_string(),
            plugin: kind.to_string(),
            plugin_contract: String::new(),
        }
    }

    /// The codes the DLQ counts this entry under: `rejected` when it has none.
    pub fn counted_codes(&self) -> impl Iterator<Item = &str> {
        let fallback = self.codes.is_empty().then_some(REJECTED);
        self.codes.iter().map(String::as_str).chain(fallback)
    }

    /// `code[,code…]: reason`, the `weir.dlq.reason` header.
    pub fn reason_text(&self) -> String {
        reason_text(&self.codes, &self.reason)
    }
}

/// The code of a rejection that named none.
pub const REJECTED: &str = "rejected";

pub struct Dlq {
    producer: Producer,
    topic: String,
    connector: String,
}

impl Dlq {
    pub fn new(producer: Producer, topic: String, connector: String) -> Self {
        Dlq {
            producer,
            topic,
            connector,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues entries for the broker; they are durable once the returned
    /// delivery reports are settled.
    pub async fn send(&mut self, entries: &[DlqEntry]) -> Result<Option<Pending>, KafkaIoError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let time = now_ms().to_string();
        let items = entries.iter().map(|e| {
            let mut h = Headers::with_capacity(10 + e.record.headers.len())
                .with("weir.dlq.reason", &e.reason_text())
                .with("weir.dlq.codes", &codes_text(e))
                .with("weir.dlq.stage", &e.stage)
                .with("weir.dlq.plugin", &e.plugin)
                .with("weir.dlq.plugin.contract", &e.plugin_contract)
                .with("weir.dlq.connector", &self.connector)
                .with("weir.dlq.time", &time);
            if let Some(o) = &e.record.origin {
                h = h
                    .with("weir.dlq.source.topic", &o.topic)
                    .with("weir.dlq.source.partition", &o.partition.to_string())
                    .with("weir.dlq.source.offset", &o.offset.to_string());
            }
            Outgoing::record(&e.record).with_headers(h)
        });
        enqueue(&self.producer, &self.topic, items).await.map(Some)
    }
}

/// The counted codes, comma-separated: `weir.dlq.codes`.
fn codes_text(e: &DlqEntry) -> String {
    e.counted_codes().collect::<Vec<_>>().join(",")
}
