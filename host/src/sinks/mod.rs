//! Where records leave a pipeline. Every kind of sink is listed once, here; the
//! DLQ is the one path for rejected records.

pub mod console;
pub mod dlq;
pub mod kafka;

use crate::kafka::KafkaIoError;
use crate::record::Batch;

pub use console::ConsoleSink;
pub use dlq::{Dlq, DlqEntry};
pub use kafka::KafkaSink;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error("console: {0}")]
    Console(#[from] std::io::Error),
}

/// The sinks a connector can name: `[sink.kafka]`, `[sink.console]`.
pub enum Sink {
    Kafka(KafkaSink),
    Console(ConsoleSink),
}

impl Sink {
    /// Writes a batch and returns once it is durable (Kafka: acknowledged).
    pub async fn write(&mut self, batch: &Batch) -> Result<(), SinkError> {
        match self {
            Sink::Kafka(s) => s.write(batch).await.map_err(Into::into),
            Sink::Console(s) => s.write(batch).map_err(Into::into),
        }
    }
}
