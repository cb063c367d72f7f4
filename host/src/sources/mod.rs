//! Where records enter a pipeline. Every kind of source is listed once, here.

pub mod event_time;
pub mod generator;
pub mod http;
pub mod kafka;

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use crate::kafka::KafkaIoError;
use crate::record::{Batch, NextOffsets};
use crate::runtime::{AsyncInstance, CallError};

pub use generator::GeneratorSource;
pub use http::HttpSource;
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
    #[error(transparent)]
    Http(#[from] http::HttpSourceError),
}

/// The sources a connector can name: `[source.generator]`, `[source.kafka]`, `[source.http]`.
pub enum Source {
    Generator(Box<GeneratorSource>),
    Kafka(Box<KafkaSource>),
    Http(Box<HttpSource>),
}

impl Source {
    /// Up to `max` records; `None` when the source has nothing more, ever. Once
    /// `stop` is cancelled, waiting ends early with what there is (maybe nothing).
    pub async fn next_batch(
        &mut self,
        max: usize,
        stop: &CancellationToken,
    ) -> Result<Option<Batch>, SourceError> {
        match self {
            Source::Generator(s) => s.next_batch(max, stop).await,
            Source::Kafka(s) => Ok(Some(s.next_batch(max, stop).await?)),
            Source::Http(s) => Ok(s.next_batch(stop).await),
        }
    }

    /// Marks the records read from `origins` as taken on by the pipeline:
    /// their outputs may still be on their way.
    pub fn mark_in_flight(&mut self, origins: &NextOffsets) {
        if let Source::Kafka(s) = self {
            s.mark_in_flight(origins);
        }
    }

    /// Marks the records read from `origins` as fully handled (delivered,
    /// filtered or dead-lettered).
    pub fn mark_handled(&mut self, origins: &NextOffsets) {
        if let Source::Kafka(s) = self {
            s.mark_handled(origins);
        }
    }

    /// Whether a record lost in flight can be read again after a restart
    /// (Kafka from its offsets, a generator from its lineage). A poller cannot
    /// fetch a feed again, so its batches are acknowledged one at a time.
    pub fn can_replay(&self) -> bool {
        match self {
            Source::Generator(_) | Source::Kafka(_) => true,
            Source::Http(_) => false,
        }
    }

    /// Commits a durable checkpoint's `positions` to the source.
    pub fn commit(
        &mut self,
        positions: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<(), SourceError> {
        match self {
            Source::Generator(_) | Source::Http(_) => Ok(()),
            Source::Kafka(s) => match positions.get(s.topic()) {
                Some(p) => s.commit(p).map_err(Into::into),
                None => Ok(()),
            },
        }
    }

    /// Positions per topic and partition that a checkpoint taken now covers,
    /// once the batches in flight have landed.
    pub fn positions(&self) -> BTreeMap<String, BTreeMap<i32, i64>> {
        match self {
            Source::Generator(_) | Source::Http(_) => BTreeMap::new(),
            Source::Kafka(s) => BTreeMap::from([(s.topic().to_string(), s.taken_positions())]),
        }
    }

    /// Continues after a checkpoint's positions.
    pub fn resume_at(&mut self, positions: &BTreeMap<String, BTreeMap<i32, i64>>) {
        if let Source::Kafka(s) = self
            && let Some(p) = positions.get(s.topic())
        {
            s.resume_at(p);
        }
    }

    /// The id of the cluster positions refer to (none for generators).
    pub fn cluster_id(&self) -> Option<String> {
        match self {
            Source::Generator(_) | Source::Http(_) => None,
            Source::Kafka(s) => s.cluster_id(),
        }
    }

    /// Whether a bounded read is complete: a Kafka source has handled everything
    /// up to the end of its partitions. Generators end by returning `None`.
    /// An error when the topic never appeared (a bounded run would wait forever).
    pub fn at_end(&mut self) -> Result<bool, SourceError> {
        match self {
            Source::Generator(_) | Source::Http(_) => Ok(false),
            Source::Kafka(s) => s.at_end().map_err(Into::into),
        }
    }

    /// Input partitions (topic, partition) that still have records to hand on,
    /// for the event-time watermark; `None` when the source has no partitions.
    pub fn live_partitions(&mut self) -> Option<Vec<(String, i32)>> {
        match self {
            Source::Generator(_) | Source::Http(_) => None,
            Source::Kafka(s) => {
                let topic = s.topic().to_string();
                let live = s.live_partitions();
                Some(live.into_iter().map(|p| (topic.clone(), p)).collect())
            }
        }
    }

    /// The source plugin, whose state goes into checkpoints.
    pub fn plugin(&mut self) -> Option<&mut AsyncInstance> {
        match self {
            Source::Generator(s) => Some(s.plugin()),
            Source::Kafka(_) | Source::Http(_) => None,
        }
    }

    /// Final commit before exit.
    pub async fn close(&mut self) -> Result<(), SourceError> {
        match self {
            Source::Generator(_) | Source::Http(_) => Ok(()),
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
