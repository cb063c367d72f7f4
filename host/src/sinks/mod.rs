//! Where records leave a pipeline. Every kind of sink is listed once, here; the
//! DLQ is the one path for rejected records.

pub mod avro;
pub mod console;
pub mod dlq;
pub mod kafka;
pub mod parquet;

use crate::kafka::KafkaIoError;
use crate::record::Batch;
use weir_sdk::Rejection;

pub use crate::kafka::produce::Pending;
pub use console::ConsoleSink;
pub use dlq::{Dlq, DlqEntry};
pub use kafka::KafkaSink;
pub use parquet::ParquetSink;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error("console: {0}")]
    Console(#[from] std::io::Error),
    #[error(transparent)]
    Parquet(#[from] parquet::ParquetError),
}

/// The sinks a connector can name: `[sink.kafka]`, `[sink.console]`, `[sink.parquet]`.
pub enum Sink {
    Kafka(KafkaSink),
    Console(ConsoleSink),
    Parquet(Box<ParquetSink>),
}

/// Records a sink refused (index in the batch, why); they go to the DLQ.
pub type Rejected = Vec<(usize, Rejection)>;

/// DLQ code of a value that does not fit the sink's schema.
pub const SCHEMA_MISMATCH: &str = "schema_mismatch";

impl Sink {
    /// `kafka`, `console`, `parquet`: names the sink in DLQ entries.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::Kafka(_) => "kafka",
            Sink::Console(_) => "console",
            Sink::Parquet(_) => "parquet",
        }
    }

    /// Writes a batch: Kafka queues it and hands back its delivery reports to
    /// settle (the batch is durable once they are); Parquet holds it for the
    /// next checkpoint (see [`Sink::flush`]); the console prints it.
    pub async fn send(&mut self, batch: &Batch) -> Result<(Rejected, Option<Pending>), SinkError> {
        match self {
            Sink::Kafka(s) => {
                let (rejected, pending) = s.send(batch).await?;
                Ok((rejected, Some(pending)))
            }
            Sink::Console(s) => {
                s.write(batch)?;
                Ok((Vec::new(), None))
            }
            Sink::Parquet(s) => Ok((s.write(batch), None)),
        }
    }

    /// Makes everything held durable, under checkpoint `sequence`'s name.
    pub fn flush(&mut self, sequence: u64) -> Result<(), SinkError> {
        if let Sink::Parquet(s) = self {
            let files = s.flush(sequence)?;
            if !files.is_empty() {
                tracing::debug!(files = files.len(), sequence, "Parquet files written.");
            }
        }
        Ok(())
    }

    /// The sink holds enough to want a checkpoint now.
    pub fn wants_flush(&self) -> bool {
        matches!(self, Sink::Parquet(s) if s.wants_flush())
    }
}
