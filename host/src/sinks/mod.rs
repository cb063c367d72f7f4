//! Where records leave a pipeline: one folder per kind (config, runtime and
//! tests together), listed once in [`crate::connectors`]. The DLQ is the one
//! path for rejected records.

pub mod console;
pub mod dlq;
pub mod kafka;
pub mod parquet;
pub mod postgres;

use futures::future::BoxFuture;

use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SubjectPlan, TopicPlan,
};
use crate::kafka::KafkaIoError;
use crate::record::Batch;
use weir_sdk::Rejection;

pub use crate::kafka::produce::Pending;
pub use console::ConsoleSink;
pub use dlq::{Dlq, DlqEntry};
pub use kafka::KafkaSink;
pub use parquet::ParquetSink;
pub use postgres::PostgresSink;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    /// What a kind with its own error type reports; `retryable` when the
    /// output could not be reached or written (a full disk, a bucket that
    /// refuses writes): the pipeline then pauses and retries.
    #[error("{source}")]
    Connector {
        kind: &'static str,
        retryable: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SinkError {
    /// Worth retrying later: nothing else is wrong.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SinkError::Connector {
                retryable: true,
                ..
            }
        )
    }
}

/// A `[sink.KIND]` table: what the kind does before anything runs.
pub trait SinkConnector: Send + Sync {
    /// The table's name: `kafka`, `console`, `parquet`, `postgres`.
    fn kind(&self) -> &'static str;

    /// Checks what serde cannot and keeps what it derives (a parsed schema,
    /// an opened object store); the error's key is relative to the table.
    fn resolve(&mut self, cx: &ResolveContext<'_>) -> Result<(), Invalid>;

    /// Topics the run creates when they are missing.
    fn topics(&self) -> Vec<TopicPlan> {
        Vec::new()
    }

    /// Schemas the run registers before it writes.
    fn subjects(&self) -> Vec<SubjectPlan> {
        Vec::new()
    }

    /// The `weir plan` line; may check the output (a bucket answers).
    fn describe(&self, cx: &DescribeContext<'_>) -> PlanLine;

    /// The `weir validate` summary: `kafka(purchases, 3 partitions)`.
    fn summary(&self) -> String;

    /// The running sink.
    fn open(&self, cx: &OpenContext<'_>) -> Result<Box<dyn Sink>, SinkError>;
}

/// A running sink.
pub trait Sink: Send {
    /// `kafka`, `console`, `parquet`: names the sink in DLQ entries and
    /// labels its state in checkpoints (`sink.KIND`).
    fn kind(&self) -> &'static str;

    /// Writes a batch. Returns the records it refused (they go to the DLQ)
    /// and, for a sink whose writes are acknowledged later, the reports to
    /// settle: the batch is durable once they are. A sink that holds records
    /// until the next checkpoint makes them durable in [`Sink::flush`].
    fn send<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<(Rejected, Option<Pending>), SinkError>>;

    /// Makes everything held durable under checkpoint `sequence`'s name.
    /// Returns the state the checkpoint keeps for [`Sink::recover`].
    fn flush(&mut self, _sequence: u64) -> Result<Option<Vec<u8>>, SinkError> {
        Ok(None)
    }

    /// Holds enough to want a checkpoint now.
    fn wants_flush(&self) -> bool {
        false
    }

    /// After a (re)start: removes output that checkpoint `sequence` (with
    /// the `state` its flush returned) does not cover; the restored state
    /// makes it again.
    fn recover(&mut self, _state: Option<&[u8]>, _sequence: u64) -> Result<(), SinkError> {
        Ok(())
    }

    /// Its output is named for the checkpoint that covers it, so a first
    /// checkpoint must exist before anything is written.
    fn names_output_by_checkpoint(&self) -> bool {
        false
    }
}

/// Records a sink refused (index in the batch, why); they go to the DLQ.
pub type Rejected = Vec<(usize, Rejection)>;

/// DLQ code of a value that does not fit the sink's schema.
pub const SCHEMA_MISMATCH: &str = "schema_mismatch";
