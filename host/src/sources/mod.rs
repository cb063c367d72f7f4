//! Where records enter a pipeline. Every kind of source is listed once, here.

pub mod generator;
pub mod kafka;

use crate::kafka::KafkaIoError;
use crate::record::{Batch, Origin};
use crate::runtime::CallError;

pub use generator::GeneratorSource;
pub use kafka::KafkaSource;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error("source plugin {plugin} failed {attempts} times in a row; last error: {reason}")]
    Plugin {
        plugin: String,
        attempts: u32,
        reason: String,
    },
    #[error("source plugin {plugin} returned a malformed batch: {reason}")]
    Layout { plugin: String, reason: String },
}

/// The sources a connector can name: `[source.generator]`, `[source.kafka]`.
pub enum Source {
    Generator(GeneratorSource),
    Kafka(KafkaSource),
}

impl Source {
    /// Up to `max` records; `None` when the source has nothing more, ever.
    pub async fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, SourceError> {
        match self {
            Source::Generator(s) => s.next_batch(max).await,
            Source::Kafka(s) => Ok(Some(s.next_batch(max).await?)),
        }
    }

    /// Marks the records read from `origins` as fully handled (delivered,
    /// filtered or dead-lettered).
    pub async fn commit(&mut self, origins: &[Origin]) -> Result<(), SourceError> {
        match self {
            Source::Generator(_) => Ok(()),
            Source::Kafka(s) => s.commit(origins).map_err(Into::into),
        }
    }

    /// Final commit before exit.
    pub async fn close(&mut self) -> Result<(), SourceError> {
        match self {
            Source::Generator(_) => Ok(()),
            Source::Kafka(s) => s.close().map_err(Into::into),
        }
    }
}

/// A plugin call error as text for logs.
pub(crate) fn call_reason(e: &CallError) -> String {
    match e {
        CallError::Trap(r) => format!("trap: {r}"),
        CallError::Plugin(r) => r.clone(),
    }
}
