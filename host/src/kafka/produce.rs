//! The one produce path of the host: a producer whose delivery reports are
//! counted per batch. Every record of a batch carries the same [`Acks`] (an
//! `Arc`, so no allocation per record); librdkafka's delivery callback counts
//! it down and wakes the batch's waiter once, when the last report arrives.
//! A future per record (rdkafka's `FutureProducer`) costs an allocation, a
//! channel and a wake-up for every message.
//!
//! Records go to librdkafka through `rd_kafka_produceva` with a topic handle
//! taken once per batch and header names passed with their lengths: rdkafka's
//! `BaseProducer::send` makes a `CString` of the topic for every record, and
//! `OwnedHeaders::insert` one of every header name (on the validate path the
//! host's heap allocations per record fell from 2.97 to 2.00).

use std::ffi::CString;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{Producer as _, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, IntoOpaque};
use tokio::sync::Notify;

use super::KafkaIoError;
use super::context::log_line;
use crate::record::{Record, RecordView};
use crate::telemetry::{DeliveryFailed, Emit};

/// The producer every sink, the DLQ, the state topics and the registry log use.
pub use super::producer::Producer;

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
    extra: Option<Headers>,
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
    pub fn with_headers(self, extra: Headers) -> Self {
        Outgoing {
            extra: Some(extra),
            ..self
        }
    }

    /// The record's headers after the extra ones; `None` when there are none,
    /// so a record without headers costs no header list.
    fn headers(&mut self) -> Option<Headers> {
        let extra = self.extra.take();
        let fill = |mut h: Headers, own: &mut dyn Iterator<Item = (&str, &[u8])>| {
            own.for_each(|(k, v)| h.add(k, v));
            h
        };
        match self.own {
            Own::Record(r) if r.headers.is_empty() => extra,
            Own::Record(r) => {
                let h = extra.unwrap_or_else(|| Headers::with_capacity(r.headers.len()));
                let mut own = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
                Some(fill(h, &mut own))
            }
            Own::View(r) if !r.has_headers() => extra,
            Own::View(r) => {
                let mut own = r.headers();
                let h = extra.unwrap_or_else(|| Headers::with_capacity(own.len()));
                Some(fill(h, &mut own))
            }
        }
    }
}

/// A record's header list in librdkafka's own form, filled with explicit
/// name lengths (no `CString` per name). librdkafka owns it once the record
/// is queued; until then dropping it frees it.
pub struct Headers(NonNull<rdsys::rd_kafka_headers_t>);

// SAFETY: a header list is plain data owned by this value alone until
// librdkafka takes it; nothing else holds the pointer.
unsafe impl Send for Headers {}

impl Headers {
    pub fn with_capacity(capacity: usize) -> Self {
        // SAFETY: no preconditions; librdkafka's allocator aborts rather than
        // return NULL.
        let list = unsafe { rdsys::rd_kafka_headers_new(capacity) };
        Headers(NonNull::new(list).expect("rd_kafka_headers_new never returns NULL"))
    }

    /// Appends a header; librdkafka copies the name and the value.
    pub fn add(&mut self, name: &str, value: &[u8]) {
        // SAFETY: the list is ours and writable; both lengths are given, so
        // neither slice needs a NUL. The only error is a read-only list,
        // which a list not yet produced never is.
        unsafe {
            rdsys::rd_kafka_header_add(
                self.0.as_ptr(),
                name.as_ptr().cast(),
                name.len() as isize,
                value.as_ptr().cast(),
                value.len() as isize,
            );
        }
    }

    /// Chained [`Headers::add`] for a text value.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.add(name, value.as_bytes());
        self
    }
}

impl Drop for Headers {
    fn drop(&mut self) {
        // SAFETY: the list is still ours (see `Topic::produce`).
        unsafe { rdsys::rd_kafka_headers_destroy(self.0.as_ptr()) }
    }
}

/// A producer's handle on one topic, taken once per batch: librdkafka looks
/// a topic up by name under a lock for every record produced by name.
struct Topic {
    rk: *mut rdsys::rd_kafka_t,
    rkt: NonNull<rdsys::rd_kafka_topic_t>,
}

// SAFETY: librdkafka's client and topic handles are thread-safe and
// reference-counted; this value holds one reference of the topic, and the
// client outlives it (it is borrowed from the producer for `enqueue`).
unsafe impl Send for Topic {}

impl Topic {
    fn new(producer: &Producer, name: &str) -> Result<Self, KafkaIoError> {
        let failed = |reason: String| KafkaIoError::Delivery {
            topic: name.to_string(),
            reason,
        };
        let c_name = CString::new(name).map_err(|e| failed(e.to_string()))?;
        let rk = producer.client().native_ptr();
        // SAFETY: `rk` is a live producer; NULL asks for the producer's
        // default topic configuration, as producing by name does.
        let rkt = unsafe { rdsys::rd_kafka_topic_new(rk, c_name.as_ptr(), ptr::null_mut()) };
        match NonNull::new(rkt) {
            Some(rkt) => Ok(Topic { rk, rkt }),
            // SAFETY: reads this thread's last librdkafka error.
            None => Err(failed(
                RDKafkaErrorCode::from(unsafe { rdsys::rd_kafka_last_error() }).to_string(),
            )),
        }
    }

    /// Queues one record (librdkafka copies key and value); on an error the
    /// headers come back with it, for a retry.
    fn produce(
        &self,
        out: &Outgoing<'_>,
        headers: Option<Headers>,
        acks: &Arc<Acks>,
    ) -> Result<(), (RDKafkaErrorCode, Option<Headers>)> {
        use rdsys::rd_kafka_vtype_t as V;
        let vu = |vtype, u| rdsys::rd_kafka_vu_t { vtype, u };
        let mem = |b: &[u8]| rdsys::rd_kafka_vu_s__bindgen_ty_1 {
            mem: rdsys::rd_kafka_vu_s__bindgen_ty_1__bindgen_ty_1 {
                ptr: b.as_ptr().cast_mut().cast(),
                size: b.len(),
            },
        };
        type U = rdsys::rd_kafka_vu_s__bindgen_ty_1;
        let opaque = Arc::clone(acks).into_ptr();
        let mut vus = [vu(V::RD_KAFKA_VTYPE_END, U { i: 0 }); 8];
        let mut n = 0;
        let mut push = |v| {
            vus[n] = v;
            n += 1;
        };
        push(vu(
            V::RD_KAFKA_VTYPE_RKT,
            U {
                rkt: self.rkt.as_ptr(),
            },
        ));
        push(vu(
            V::RD_KAFKA_VTYPE_MSGFLAGS,
            U {
                i: rdsys::RD_KAFKA_MSG_F_COPY,
            },
        ));
        push(vu(V::RD_KAFKA_VTYPE_OPAQUE, U { ptr: opaque }));
        push(vu(
            V::RD_KAFKA_VTYPE_TIMESTAMP,
            U {
                i64_: out.timestamp_ms,
            },
        ));
        if let Some(p) = out.partition {
            push(vu(V::RD_KAFKA_VTYPE_PARTITION, U { i32_: p }));
        }
        if let Some(k) = out.key {
            push(vu(V::RD_KAFKA_VTYPE_KEY, mem(k)));
        }
        if let Some(v) = out.value {
            push(vu(V::RD_KAFKA_VTYPE_VALUE, mem(v)));
        }
        if let Some(h) = &headers {
            push(vu(
                V::RD_KAFKA_VTYPE_HEADERS,
                U {
                    headers: h.0.as_ptr(),
                },
            ));
        }
        // SAFETY: `rk` and `rkt` are live (see `Topic`); the slices outlive
        // the call (F_COPY: librdkafka copies them); `opaque` is an `Arc`
        // that the delivery callback takes back (`DeliveryCounter`).
        let error = unsafe { rdsys::rd_kafka_produceva(self.rk, vus.as_ptr(), n) };
        if error.is_null() {
            // librdkafka owns the header list now.
            std::mem::forget(headers);
            return Ok(());
        }
        // SAFETY: on an error nothing was queued: the opaque is ours again,
        // the header list stays the caller's, and the error is ours to free.
        let code = unsafe {
            drop(Arc::<Acks>::from_ptr(opaque));
            let code = rdsys::rd_kafka_error_code(error);
            rdsys::rd_kafka_error_destroy(error);
            code
        };
        Err((code.into(), headers))
    }
}

impl Drop for Topic {
    fn drop(&mut self) {
        // SAFETY: gives back the reference `rd_kafka_topic_new` took.
        unsafe { rdsys::rd_kafka_topic_destroy(self.rkt.as_ptr()) }
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
    let handle = Topic::new(producer, topic)?;
    let acks = Arc::new(Acks::default());
    let mut volume = (0u64, 0u64);
    for mut out in records {
        let mut headers = out.headers();
        volume.0 += 1;
        volume.1 += (out.key.map_or(0, <[u8]>::len) + out.value.map_or(0, <[u8]>::len)) as u64;
        acks.expect_one();
        loop {
            match handle.produce(&out, headers, &acks) {
                Ok(()) => break,
                Err((RDKafkaErrorCode::QueueFull, back)) => {
                    // librdkafka's queue is full: let the broker take some.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    headers = back;
                }
                Err((code, _)) => {
                    let e = KafkaError::MessageProduction(code);
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
