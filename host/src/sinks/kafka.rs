//! `[sink.kafka]`: produce a batch and wait for every delivery report.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::kafka::KafkaIoError;
use crate::record::{Batch, Record};

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
}

impl KafkaSink {
    pub fn new(producer: FutureProducer, topic: String) -> Self {
        KafkaSink { producer, topic }
    }

    pub async fn write(&mut self, batch: &Batch) -> Result<(), KafkaIoError> {
        produce_all(&self.producer, &self.topic, batch.iter().map(|r| (r, None))).await
    }
}

/// Produces records (each with optional extra headers) to `topic` and waits for
/// all delivery reports; the one produce path of the host, shared with the DLQ.
pub async fn produce_all<'a>(
    producer: &FutureProducer,
    topic: &str,
    records: impl Iterator<Item = (&'a Record, Option<OwnedHeaders>)>,
) -> Result<(), KafkaIoError> {
    let mut pending: Vec<DeliveryFuture> = Vec::new();
    for (r, extra) in records {
        let mut headers = extra.unwrap_or_else(|| OwnedHeaders::new_with_capacity(r.headers.len()));
        for (k, v) in &r.headers {
            headers = headers.insert(rdkafka::message::Header {
                key: k,
                value: Some(v),
            });
        }
        loop {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
                .timestamp(r.timestamp_ms)
                .headers(headers.clone());
            if let Some(k) = &r.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                fr = fr.payload(v.as_slice());
            }
            match producer.send_result(fr) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Back-pressure: wait for what is in flight, then retry.
                    settle(topic, std::mem::take(&mut pending)).await?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => {
                    return Err(KafkaIoError::Delivery {
                        topic: topic.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
    settle(topic, pending).await
}

async fn settle(topic: &str, pending: Vec<DeliveryFuture>) -> Result<(), KafkaIoError> {
    for r in join_all(pending).await {
        match r {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => {
                return Err(KafkaIoError::Delivery {
                    topic: topic.to_string(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(KafkaIoError::Delivery {
                    topic: topic.to_string(),
                    reason: "the producer was dropped before the delivery report".into(),
                });
            }
        }
    }
    Ok(())
}
