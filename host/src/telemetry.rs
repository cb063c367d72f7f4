//! Every metric weir exports, as one typed event per fact (Vector's internal
//! events): a call site says what happened (`RecordsRead { connector, count
//! }.emit()`), and the metric's name, kind and labels are written here, once.
//! The reference table is `docs/connectors.md` (Metrics).

/// A fact worth a metric.
pub trait Emit {
    fn emit(self);
}

/// Records a connector took from its source.
pub struct RecordsRead<'a> {
    pub connector: &'a str,
    pub count: u64,
}

impl Emit for RecordsRead<'_> {
    fn emit(self) {
        metrics::counter!("weir_records_read_total", "connector" => self.connector.to_string())
            .increment(self.count);
    }
}

/// Records a connector handed to its sinks.
pub struct RecordsWritten<'a> {
    pub connector: &'a str,
    pub count: u64,
}

impl Emit for RecordsWritten<'_> {
    fn emit(self) {
        metrics::counter!("weir_records_written_total", "connector" => self.connector.to_string())
            .increment(self.count);
    }
}

/// Inputs a transform neither passed, emitted from nor failed (filtered).
pub struct RecordsDropped<'a> {
    pub connector: &'a str,
    pub stage: &'a str,
    pub count: u64,
}

impl Emit for RecordsDropped<'_> {
    fn emit(self) {
        metrics::counter!("weir_records_dropped_total", "connector" => self.connector.to_string(), "stage" => self.stage.to_string())
            .increment(self.count);
    }
}

/// One failure code of a record sent to the dead letters.
pub struct DeadLettered<'a> {
    pub connector: &'a str,
    pub stage: &'a str,
    pub reason: &'a str,
}

impl Emit for DeadLettered<'_> {
    fn emit(self) {
        metrics::counter!(
            "weir_dlq_records_total",
            "connector" => self.connector.to_string(),
            "stage" => self.stage.to_string(),
            "reason" => self.reason.to_string()
        )
        .increment(1);
    }
}

/// One batch through a plugin stage: records in, emitted, failed.
pub struct StageBatch<'a> {
    pub plugin: &'a str,
    pub stage: &'a str,
    pub inputs: u64,
    pub outputs: u64,
    pub failed: u64,
}

impl Emit for StageBatch<'_> {
    fn emit(self) {
        let labels = [
            ("plugin", self.plugin.to_string()),
            ("stage", self.stage.to_string()),
        ];
        metrics::counter!("weir_stage_records_in_total", &labels).increment(self.inputs);
        metrics::counter!("weir_stage_records_out_total", &labels).increment(self.outputs);
        metrics::counter!("weir_stage_records_failed_total", &labels).increment(self.failed);
    }
}

/// One call into a plugin (the sandbox round trip), and whether it trapped.
pub struct GuestCall<'a> {
    pub plugin: &'a str,
    pub seconds: f64,
    pub trapped: bool,
}

impl Emit for GuestCall<'_> {
    fn emit(self) {
        metrics::histogram!("weir_guest_call_seconds", "plugin" => self.plugin.to_string())
            .record(self.seconds);
        if self.trapped {
            metrics::counter!("weir_sandbox_traps_total", "plugin" => self.plugin.to_string())
                .increment(1);
        }
    }
}

/// One batch through every stage and sink.
pub struct BatchDone<'a> {
    pub connector: &'a str,
    pub seconds: f64,
}

impl Emit for BatchDone<'_> {
    fn emit(self) {
        metrics::histogram!("weir_batch_seconds", "connector" => self.connector.to_string())
            .record(self.seconds);
    }
}

/// Time a batch spent in one phase of the record loop.
pub struct PhaseTime<'a> {
    pub connector: &'a str,
    pub phase: &'a str,
    pub seconds: f64,
}

impl Emit for PhaseTime<'_> {
    fn emit(self) {
        metrics::histogram!(
            "weir_phase_seconds",
            "connector" => self.connector.to_string(),
            "phase" => self.phase.to_string()
        )
        .record(self.seconds);
    }
}

/// Records written, each from its timestamp (event time when configured).
pub struct EndToEnd<'a> {
    pub connector: &'a str,
    pub latencies_ms: &'a [i64],
}

impl Emit for EndToEnd<'_> {
    fn emit(self) {
        let h = metrics::histogram!("weir_end_to_end_seconds", "connector" => self.connector.to_string());
        for &ms in self.latencies_ms {
            h.record(ms as f64 / 1000.0);
        }
    }
}

/// A checkpoint is durable and its positions committed.
pub struct CheckpointDone<'a> {
    pub connector: &'a str,
}

impl Emit for CheckpointDone<'_> {
    fn emit(self) {
        metrics::counter!("weir_checkpoints_total", "connector" => self.connector.to_string())
            .increment(1);
    }
}

/// An aggregator trigger, with the watermark it ran at when there is one.
pub struct Triggered<'a> {
    pub connector: &'a str,
    pub watermark_ms: Option<i64>,
}

impl Emit for Triggered<'_> {
    fn emit(self) {
        metrics::counter!("weir_triggers_total", "connector" => self.connector.to_string())
            .increment(1);
        if let Some(ms) = self.watermark_ms {
            metrics::gauge!("weir_watermark_ms", "connector" => self.connector.to_string())
                .set(ms.max(0) as f64);
        }
    }
}

/// Records of an assigned partition not yet handled.
pub struct ConsumerLag<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub records: i64,
}

impl Emit for ConsumerLag<'_> {
    fn emit(self) {
        metrics::gauge!("weir_consumer_lag", "topic" => self.topic.to_string(), "partition" => self.partition.to_string())
            .set(self.records.max(0) as f64);
    }
}

/// A produce request that failed after librdkafka's retries.
pub struct DeliveryFailed<'a> {
    pub topic: &'a str,
}

impl Emit for DeliveryFailed<'_> {
    fn emit(self) {
        metrics::counter!("weir_producer_delivery_errors_total", "topic" => self.topic.to_string())
            .increment(1);
    }
}

/// One HTTP source poll: its outcome, duration and body size.
pub struct HttpPolled<'a> {
    pub connector: &'a str,
    pub status: &'a str,
    pub seconds: f64,
    pub body_bytes: Option<u64>,
}

impl Emit for HttpPolled<'_> {
    fn emit(self) {
        let connector = self.connector.to_string();
        metrics::counter!("weir_http_polls_total", "connector" => connector.clone(), "status" => self.status.to_string())
            .increment(1);
        metrics::histogram!("weir_http_poll_seconds", "connector" => connector.clone())
            .record(self.seconds);
        if let Some(bytes) = self.body_bytes {
            metrics::counter!("weir_http_bytes_total", "connector" => connector).increment(bytes);
        }
    }
}
