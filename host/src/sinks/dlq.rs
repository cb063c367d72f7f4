//! The dead-letter queue: rejected records, as they entered the stage that
//! rejected them, with the reason and their provenance in headers.

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureProducer;

use super::kafka::{Pending, enqueue};
use crate::kafka::KafkaIoError;
use crate::record::{Record, now_ms};

/// A record the pipeline could not process, and why.
#[derive(Debug, Clone)]
pub struct DlqEntry {
    pub record: Record,
    pub reason: String,
    /// `transform[0]`, `source`, …
    pub stage: String,
    pub plugin: String,
    /// The contract version the plugin was built against.
    pub plugin_contract: String,
}

pub struct Dlq {
    producer: FutureProducer,
    topic: String,
    connector: String,
}

impl Dlq {
    pub fn new(producer: FutureProducer, topic: String, connector: String) -> Self {
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
            let mut h = OwnedHeaders::new()
                .insert(header("weir.dlq.reason", &e.reason))
                .insert(header("weir.dlq.stage", &e.stage))
                .insert(header("weir.dlq.plugin", &e.plugin))
                .insert(header("weir.dlq.plugin.contract", &e.plugin_contract))
                .insert(header("weir.dlq.connector", &self.connector))
                .insert(header("weir.dlq.time", &time));
            if let Some(o) = &e.record.origin {
                h = h
                    .insert(header("weir.dlq.source.topic", &o.topic))
                    .insert(header(
                        "weir.dlq.source.partition",
                        &o.partition.to_string(),
                    ))
                    .insert(header("weir.dlq.source.offset", &o.offset.to_string()));
            }
            (&e.record, Some(h))
        });
        enqueue(&self.producer, &self.topic, items).await.map(Some)
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
