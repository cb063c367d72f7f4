//! The one produce path of the host: a producer whose delivery reports are
//! counted per batch. Every record of a batch carries the same [`Acks`] (an
//! `Arc`, so no allocation per record); librdkafka's delivery callback counts
//! it down and wakes the batch's waiter once, when the last report arrives.
//! A future per record (rdkafka's `FutureProducer`) costs an allocation, a
//! channel and a wake-up for every message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::Notify;

use super::KafkaIoError;
use super::context::log_line;
use crate::record::{Record, RecordView};
use crate::telemetry::{DeliveryFailed, Emit};

/// The producer every sink, the DLQ, the state topics and the registry log use.
pub type Producer = ThreadedProducer<DeliveryCounter>;

/// The producer's context: counts delivery reports into the batch's [`Acks`]
/// and logs librdkafka's own lines through tracing.
#[derive(Default)]
pub struct DeliveryCounter;

impl ClientContext for DeliveryCounter {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line("producer", level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka producer error; librdkafka retries.");
    }
}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = Arc<Acks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<Acks>) {
        acks.report(result.as_ref().err().map(|(e, _)| e));
    }
}

/// The delivery reports still owed for one batch, and the first failure.
#[derive(Default)]
pub struct Acks {
    outstanding: AtomicU64,
    failure: Mutex<Option<String>>,
    done: Notify,
}

impl Acks {
    fn expect_one(&self) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    /// One report arrived (`error` when the record was not delivered).
    fn report(&self, error: Option<&KafkaError>) {
        if let Some(e) = error
            && let Ok(mut f) = self.failure.lock()
        {
            f.get_or_insert_with(|| e.to_string());
        }
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Waits until every record handed to the producer has its report.
    async fn all_reported(&self) {
        while self.outstanding.load(Ordering::Acquire) > 0 {
            self.done.notified().await;
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }
}

/// Records handed to the producer whose delivery reports are still to come.
/// Until [`Pending::settle`] says they all arrived, nothing about them may be
/// checkpointed or committed.
#[must_use = "records are durable only once their delivery reports are settled"]
pub struct Pending {
    topic: String,
    acks: Arc<Acks>,
    /// Records and key + value bytes queued.
    volume: (u64, u64),
    /// Where the sink sums up what was acknowledged.
    summary: Option<DeliverySummary>,
}

impl Pending {
    /// Counts these records into `summary` once they are acknowledged.
    pub fn summed_into(mut self, summary: &DeliverySummary) -> Self {
        self.summary = Some(summary.clone());
        self
    }

    /// Waits for every delivery report: the first failure is the error.
    pub async fn settle(self) -> Result<(), KafkaIoError> {
        self.acks.all_reported().await;
        match self.acks.failure() {
            None => {
                if let Some(s) = &self.summary
                    && let Ok(mut s) = s.0.lock()
                {
                    s.delivered(&self.topic, self.volume);
                }
                Ok(())
            }
            Some(reason) => {
                DeliveryFailed { topic: &self.topic }.emit();
                Err(KafkaIoError::Delivery {
                    topic: self.topic,
                    reason,
                })
            }
        }
    }
}

/// One record on its way to the producer: a record of a batch (or an owned
/// one), optionally with another value (an encoded one) and extra headers
/// first (the DLQ's).
pub struct Outgoing<'a> {
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp_ms: i64,
    own: Own<'a>,
    extra: Option<OwnedHeaders>,
    partition: Option<i32>,
}

/// Where an outgoing record's own headers are read from.
enum Own<'a> {
    Record(&'a Record),
    View(RecordView<'a>),
}

impl<'a> Outgoing<'a> {
    /// A record of a batch, read in place.
    pub fn view(r: RecordView<'a>) -> Self {
        Outgoing {
            key: r.key(),
            value: r.value(),
            timestamp_ms: r.timestamp_ms(),
            own: Own::View(r),
            extra: None,
            partition: None,
        }
    }

    /// An owned record as it is.
    pub fn record(record: &'a Record) -> Self {
        Outgoing {
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            timestamp_ms: record.timestamp_ms,
            own: Own::Record(record),
            extra: None,
            partition: None,
        }
    }

    /// With `value` instead of the record's own.
    pub fn with_value(self, value: Option<&'a [u8]>) -> Self {
        Outgoing { value, ..self }
    }

    /// To partition `p` instead of the partitioner's choice.
    pub fn to_partition(self, p: i32) -> Self {
        Outgoing {
            partition: Some(p),
            ..self
        }
    }

    /// With `extra` headers before the record's own.
    pub fn with_headers(self, extra: OwnedHeaders) -> Self {
        Outgoing {
            extra: Some(extra),
            ..self
        }
    }

    /// The record's headers after the extra ones; `None` when there are none,
    /// so a record without headers costs no header list.
    fn headers(&mut self) -> Option<OwnedHeaders> {
        let extra = self.extra.take();
        let insert = |h: OwnedHeaders, (key, value): (&str, &[u8])| {
            h.insert(Header {
                key,
                value: Some(value),
            })
        };
        match self.own {
            Own::Record(r) if r.headers.is_empty() => extra,
            Own::Record(r) => {
                let h = extra.unwrap_or_else(|| OwnedHeaders::new_with_capacity(r.headers.len()));
                Some(
                    r.headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_slice()))
                        .fold(h, insert),
                )
            }
            Own::View(r) if !r.has_headers() => extra,
            Own::View(r) => {
                let own = r.headers();
                let h = extra.unwrap_or_else(|| OwnedHeaders::new_with_capacity(own.len()));
                Some(own.fold(h, insert))
            }
        }
    }
}

/// Hands records to the producer; the one produce path of the host. When
/// librdkafka's queue is full it waits a moment for the broker to take some,
/// then goes on.
pub async fn enqueue<'a>(
    producer: &Producer,
    topic: &str,
    records: impl Iterator<Item = Outgoing<'a>>,
) -> Result<Pending, KafkaIoError> {
    let acks = Arc::new(Acks::default());
    let mut volume = (0u64, 0u64);
    for mut out in records {
        let mut br: BaseRecord<'_, [u8], [u8], Arc<Acks>> =
            BaseRecord::with_opaque_to(topic, Arc::clone(&acks)).timestamp(out.timestamp_ms);
        if let Some(h) = out.headers() {
            br = br.headers(h);
        }
        if let Some(k) = out.key {
            br = br.key(k);
        }
        if let Some(v) = out.value {
            br = br.payload(v);
        }
        if let Some(p) = out.partition {
            br = br.partition(p);
        }
        volume.0 += 1;
        volume.1 += (out.key.map_or(0, <[u8]>::len) + out.value.map_or(0, <[u8]>::len)) as u64;
        acks.expect_one();
        loop {
            match producer.send(br) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: let the broker take some.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    br = back;
                }
                Err((e, _)) => {
                    acks.report(Some(&e));
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
        acks,
        volume,
        summary: None,
    })
}

/// A sink's running count of acknowledged records and bytes, logged about
/// every [`REPORT_EVERY`]. A failed delivery is not counted here: it stops the
/// connector with its reason.
#[derive(Clone)]
pub struct DeliverySummary(Arc<Mutex<Delivered>>);

struct Delivered {
    records: u64,
    bytes: u64,
    since: std::time::Instant,
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

impl Default for DeliverySummary {
    fn default() -> Self {
        DeliverySummary(Arc::new(Mutex::new(Delivered::new())))
    }
}

impl Delivered {
    fn new() -> Self {
        Delivered {
            records: 0,
            bytes: 0,
            since: std::time::Instant::now(),
        }
    }

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
            *self = Delivered::new();
        }
    }
}
