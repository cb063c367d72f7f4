//! `[sink.kafka]`: produce a batch and wait for every delivery report; with
//! `format = "avro"`, values are encoded with the registered writer schema in
//! Confluent's framing first, and a value that does not fit is refused.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use super::Rejected;
use super::avro::AvroEncoder;
use crate::kafka::KafkaIoError;
use crate::record::{Batch, Record};
use crate::registry::wire;

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    /// The writer schema and its registry id, for `format = "avro"`.
    avro: Option<Box<(AvroEncoder, u32)>>,
    /// Delivery reports since the last summary in the log.
    report: DeliveryReport,
}

/// Acknowledged records and bytes, logged about every [`REPORT_EVERY`]. A
/// failed delivery is not counted here: it stops the connector with its reason.
struct DeliveryReport {
    records: u64,
    bytes: u64,
    since: std::time::Instant,
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

impl KafkaSink {
    pub fn new(producer: FutureProducer, topic: String) -> Self {
        KafkaSink {
            producer,
            topic,
            avro: None,
            report: DeliveryReport {
                records: 0,
                bytes: 0,
                since: std::time::Instant::now(),
            },
        }
    }

    /// Values are Avro, written with `encoder`'s schema, registered as `id`.
    pub fn with_avro(mut self, encoder: AvroEncoder, id: u32) -> Self {
        self.avro = Some(Box::new((encoder, id)));
        self
    }

    pub async fn write(&mut self, batch: &Batch) -> Result<Rejected, KafkaIoError> {
        let Some((encoder, id)) = self.avro.as_deref() else {
            produce_all(&self.producer, &self.topic, batch.iter().map(|r| (r, None))).await?;
            self.delivered(batch);
            return Ok(Vec::new());
        };
        let mut rejected = Vec::new();
        let mut encoded = Vec::with_capacity(batch.len());
        for (i, r) in batch.iter().enumerate() {
            // A tombstone stays a tombstone.
            let value = match r.value.as_deref().map(|v| encoder.encode(v)) {
                None => None,
                Some(Ok(body)) => Some(wire::encode(*id, &body)),
                Some(Err(reason)) => {
                    rejected.push((i, format!("schema_mismatch: {reason}")));
                    continue;
                }
            };
            encoded.push(Record {
                value,
                key: r.key.clone(),
                headers: r.headers.clone(),
                timestamp_ms: r.timestamp_ms,
                origin: None,
            });
        }
        produce_all(
            &self.producer,
            &self.topic,
            encoded.iter().map(|r| (r, None)),
        )
        .await?;
        self.delivered(&encoded);
        Ok(rejected)
    }

    /// Counts acknowledged records and logs a summary every [`REPORT_EVERY`].
    fn delivered(&mut self, records: &[Record]) {
        let r = &mut self.report;
        r.records += records.len() as u64;
        r.bytes += records
            .iter()
            .map(|x| x.value.as_ref().map_or(0, Vec::len) + x.key.as_ref().map_or(0, Vec::len))
            .sum::<usize>() as u64;
        let elapsed = r.since.elapsed();
        if elapsed >= REPORT_EVERY {
            let secs = elapsed.as_secs_f64();
            tracing::info!(
                topic = %self.topic,
                delivered = r.records,
                bytes = r.bytes,
                per_sec = (r.records as f64 / secs).round(),
                "Delivery reports: every record acknowledged, none failed, in the last {secs:.0} s."
            );
            *r = DeliveryReport {
                records: 0,
                bytes: 0,
                since: std::time::Instant::now(),
            };
        }
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
        if !matches!(r, Ok(Ok(_))) {
            metrics::counter!("weir_producer_delivery_errors_total", "topic" => topic.to_string())
                .increment(1);
        }
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
