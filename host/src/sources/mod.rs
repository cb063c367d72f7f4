//! Where records enter a pipeline: one folder per kind (config, runtime and
//! tests together), listed once in [`crate::connectors`].

pub mod event_time;
pub mod generator;
pub mod http;
pub mod kafka;
pub mod postgres_cdc;

use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, PluginRef, ResolveContext,
};
use crate::kafka::KafkaIoError;
use crate::kafka::client::Cluster;
use crate::record::{Batch, NextOffsets};
use crate::runtime::{AsyncInstance, CallError};
use crate::state::SourcePosition;

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
    /// What a kind with its own error type reports (a poller's HTTP setup, …).
    #[error("{kind} source: {source}")]
    Connector {
        kind: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the checkpoint's {kind} position is unreadable ({reason})")]
    Position { kind: &'static str, reason: String },
}

/// A `[source.KIND]` table: what the kind does before anything runs.
pub trait SourceConnector: Send + Sync {
    /// The table's name: `kafka`, `generator`, `http`.
    fn kind(&self) -> &'static str;

    /// Checks what serde cannot (names, ranges, URLs) and keeps what it
    /// derives; the error's key is relative to the table.
    fn resolve(&mut self, cx: &ResolveContext<'_>) -> Result<(), Invalid>;

    /// The plugin the source runs itself, if any (a generator's).
    fn plugin(&self) -> Option<PluginRef<'_>> {
        None
    }

    /// Whether its batches arrive whole from a log (the producers then wait
    /// less for more records: see [`crate::config::defaults::linger_ms`]).
    fn batches_arrive_whole(&self) -> bool {
        false
    }

    /// The `weir plan` line.
    fn describe(&self, cx: &DescribeContext<'_>) -> PlanLine;

    /// The `weir validate` summary (`kafka(purchases)`); `None` when the
    /// plugin list says it all.
    fn summary(&self) -> Option<String>;

    /// The running source.
    fn open(&self, cx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, SourceError>;
}

/// A running source. Positions are opaque bytes that only the kind reads,
/// so a checkpoint holds a Kafka offset map, a generator's lineage or a
/// database's log position alike.
pub trait Source: Send {
    /// The kind, as in [`SourceConnector::kind`].
    fn kind(&self) -> &'static str;

    /// Up to `max` records; `None` when the source has nothing more, ever. Once
    /// `stop` is cancelled, waiting ends early with what there is (maybe nothing).
    fn next_batch<'a>(
        &'a mut self,
        max: usize,
        stop: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Option<Batch>, SourceError>>;

    /// How the last batch filled, for the phase times (sources that batch).
    fn last_fill(&self) -> Option<Fill> {
        None
    }

    /// The records read from `origins` are taken on by the pipeline: their
    /// outputs may still be on their way.
    fn mark_in_flight(&mut self, _origins: &NextOffsets) {}

    /// The records read from `origins` are fully handled (delivered,
    /// filtered or dead-lettered).
    fn mark_handled(&mut self, _origins: &NextOffsets) {}

    /// Whether a record lost in flight can be read again after a restart
    /// (Kafka from its offsets, a generator from its lineage). A poller cannot
    /// fetch a feed again, so its batches are acknowledged one at a time.
    fn can_replay(&self) -> bool;

    /// What a checkpoint taken now covers, once the batches in flight have
    /// landed, as bytes only this kind reads; `None` for a source without
    /// positions.
    fn position(&self) -> Option<SourcePosition> {
        None
    }

    /// Continues after a checkpoint's `position`. `cx` reaches the cluster
    /// the outputs went to (a generator looks up what it already delivered).
    fn recover<'a>(
        &'a mut self,
        _position: &'a SourcePosition,
        _cx: &'a RecoverContext<'a>,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async { Ok(()) })
    }

    /// A durable checkpoint's `position` is acknowledged to the source (a
    /// consumer group's commit, a replication slot's confirmed position).
    fn commit(&mut self, _position: &SourcePosition) -> Result<(), SourceError> {
        Ok(())
    }

    /// The id of the cluster positions refer to, if they refer to one.
    fn cluster_id(&self) -> Option<String> {
        None
    }

    /// Whether a bounded read is complete. An error when it never can be
    /// (a topic that never appeared).
    fn at_end(&mut self) -> Result<bool, SourceError> {
        Ok(false)
    }

    /// Input partitions (topic, partition) that still have records to hand on,
    /// for the event-time watermark; `None` when the source has no partitions.
    fn live_partitions(&mut self) -> Option<Vec<(String, i32)>> {
        None
    }

    /// The source's plugin, whose state goes into checkpoints.
    fn plugin(&mut self) -> Option<&mut AsyncInstance> {
        None
    }

    /// Labels a batch's outputs so a restart can tell what was delivered
    /// (a generator that makes its records again on replay).
    fn label_outputs(&self, _outputs: &mut Batch) {}

    /// The Kafka source, for what only it does: partitioned state,
    /// transactions.
    fn as_kafka(&mut self) -> Option<&mut KafkaSource> {
        None
    }

    /// Final acknowledgement before exit.
    fn close(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// What a source may reach when it continues after a checkpoint.
pub struct RecoverContext<'a> {
    pub connector: &'a str,
    pub cluster: &'a Cluster,
    /// The Kafka sink's topic, if the connector has one.
    pub sink_topic: Option<&'a str>,
}

/// How a batch filled: the time from its first record's timestamp to that
/// record's arrival (upstream batching, the broker, the fetch), then from that
/// arrival to the batch's close.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    pub waited: Duration,
    pub filling: Duration,
}

/// A plugin call error as text for logs.
pub(crate) fn call_reason(e: &CallError) -> String {
    match e {
        CallError::Trap(r) => format!("trap: {r}"),
        CallError::Plugin(r) => r.clone(),
    }
}
