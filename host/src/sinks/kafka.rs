//! `[sink.kafka]`: produce a batch and hand back its delivery reports as a
//! [`Pending`], so the pipeline can read and process the next batch while the
//! broker acknowledges this one; with `format = "avro"`, values are encoded with
//! the registered writer schema in Confluent's framing first, and a value that
//! does not fit is refused.

use std::sync::{Arc, Mutex};
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
    /// Shared with the [`Pending`]s it hands out: they count what was acknowledged.
    report: SharedReport,
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
            report: Arc::new(Mutex::new(DeliveryReport {
                records: 0,
                bytes: 0,
                since: std::time::Instant::now(),
            })),
        }
    }

    /// Values are Avro, written with `encoder`'s schema, registered as `id`.
    pub fn with_avro(mut self, encoder: AvroEncoder, id: u32) -> Self {
        self.avro = Some(Box::new((encoder, id)));
        self
    }

    /// Queues a batch for the broker: the records a schema refused, and the
    /// delivery reports still to come for the rest.
    pub async fn send(&mut self, batch: &Batch) -> Result<(Rejected, Pending), KafkaIoError> {
        let Some((encoder, id)) = self.avro.as_deref() else {
            let mut pending =
                enqueue(&self.producer, &self.topic, batch.iter().map(|r| (r, None))).await?;
            pending.report = Some((self.report.clone(), volume(batch)));
            return Ok((Vec::new(), pending));
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
        let mut pending = enqueue(
            &self.producer,
            &self.topic,
            encoded.iter().map(|r| (r, None)),
        )
        .await?;
        pending.report = Some((self.report.clone(), volume(&encoded)));
        Ok((rejected, pending))
    }
}

/// Records and bytes (keys and values) in `records`.
fn volume(records: &[Record]) -> (u64, u64) {
    let bytes = records
        .iter()
        .map(|x| x.value.as_ref().map_or(0, Vec::len) + x.key.as_ref().map_or(0, Vec::len))
        .sum::<usize>();
    (records.len() as u64, bytes as u64)
}

impl DeliveryReport {
    /// Counts acknowledged records and logs a summary every [`REPORT_EVERY`].
    fn delivered(&mut self, topic: &str, (records, bytes): (u64, u64)) {
        self.records += records;
        self.bytes += bytes;
        let elapsed = self.since.elapsed();
        if elapsed >= REPORT_EVERY {
            let secs = elapsed.as_secs_f64();
            tracing::info!(
                topic = %topic,
                delivered = self.records,
                bytes = self.bytes,
                per_sec = (self.records as f64 / secs).round(),
                "Delivery reports: every record acknowledged, none failed, in the last {secs:.0} s."
            );
            *self = DeliveryReport {
                records: 0,
                bytes: 0,
                since: std::time::Instant::now(),
            };
        }
    }
}

/// A sink's delivery summary, counted as its [`Pending`]s settle.
type SharedReport = Arc<Mutex<DeliveryReport>>;

/// Records handed to the producer whose delivery reports are still to come.
/// Until [`Pending::settle`] says they all arrived, nothing about them may be
/// checkpointed or committed.
#[must_use = "records are durable only once their delivery reports are settled"]
pub struct Pending {
    topic: String,
    reports: Vec<DeliveryFuture>,
    /// The sink's running summary, and what these records add to it.
    report: Option<(SharedReport, (u64, u64))>,
}

impl Pending {
    /// Waits for every delivery report: the first failure is the error.
    pub async fn settle(self) -> Result<(), KafkaIoError> {
        settle(&self.topic, self.reports).await?;
        if let Some((report, volume)) = self.report
            && let Ok(mut r) = report.lock()
        {
            r.delivered(&self.topic, volume);
        }
        Ok(())
    }
}

/// Hands records (each with optional extra headers) to the producer; the one
/// produce path of the host, shared with the DLQ. When librdkafka's queue is
/// full it waits for the reports of what it queued so far, then goes on.
pub async fn enqueue<'a>(
    producer: &FutureProducer,
    topic: &str,
    records: impl Iterator<Item = (&'a Record, Option<OwnedHeaders>)>,
) -> Result<Pending, KafkaIoError> {
    let mut reports: Vec<DeliveryFuture> = Vec::new();
    for (r, extra) in records {
        let mut headers = extra;
        for (k, v) in &r.headers {
            let h = rdkafka::message::Header {
                key: k.as_str(),
                value: Some(v),
            };
            headers = Some(
                headers
                    .unwrap_or_else(|| OwnedHeaders::new_with_capacity(r.headers.len()))
                    .insert(h),
            );
        }
        let mut fr: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).timestamp(r.timestamp_ms);
        if let Some(h) = headers {
            fr = fr.headers(h);
        }
        if let Some(k) = &r.key {
            fr = fr.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            fr = fr.payload(v.as_slice());
        }
        loop {
            match producer.send_result(fr) {
                Ok(f) => {
                    reports.push(f);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: let what is queued drain.
                    settle(topic, std::mem::take(&mut reports)).await?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    fr = back;
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
    Ok(Pending {
        topic: topic.to_string(),
        reports,
        report: None,
    })
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
