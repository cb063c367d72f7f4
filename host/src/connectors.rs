//! The one list of connector kinds. Config parsing (`[source.KIND]`,
//! `[sink.KIND]`), `validate`, `plan` and `run` all go through it, so a kind is
//! either wired everywhere or nowhere: adding one is a folder under `sources/`
//! or `sinks/` and a line here.
//!
//! Each kind's config type implements [`SourceConnector`] or [`SinkConnector`]
//! (check itself, describe itself for `weir plan`, open the running part);
//! the running part implements [`Source`](crate::sources::Source) or
//! [`Sink`](crate::sinks::Sink).

use std::path::Path;

use serde::Deserialize;

use crate::config::{AvroSchema, KafkaConfig};
use crate::kafka::admin::TopicSpec;
use crate::kafka::client::Cluster;
use crate::kafka::produce::Producer;
use crate::plan::Level;
use crate::runtime::AsyncInstance;

pub use crate::sinks::SinkConnector;
pub use crate::sources::SourceConnector;

use crate::sinks::console::ConsoleSinkConfig;
use crate::sinks::kafka::KafkaSinkConfig;
use crate::sinks::parquet::ParquetSinkConfig;
use crate::sinks::postgres::PostgresSinkConfig;
use crate::sources::generator::GeneratorSourceConfig;
use crate::sources::http::HttpSourceConfig;
use crate::sources::kafka::KafkaSourceConfig;
use crate::sources::postgres_cdc::PostgresCdcSourceConfig;

/// Where records come from: exactly one table under `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    Generator(GeneratorSourceConfig),
    Kafka(KafkaSourceConfig),
    Http(HttpSourceConfig),
    PostgresCdc(PostgresCdcSourceConfig),
}

impl SourceConfig {
    /// The source kind behind this table.
    pub fn connector(&self) -> &dyn SourceConnector {
        match self {
            SourceConfig::Generator(c) => c,
            SourceConfig::Kafka(c) => c,
            SourceConfig::Http(c) => c,
            SourceConfig::PostgresCdc(c) => c,
        }
    }

    fn connector_mut(&mut self) -> &mut dyn SourceConnector {
        match self {
            SourceConfig::Generator(c) => c,
            SourceConfig::Kafka(c) => c,
            SourceConfig::Http(c) => c,
            SourceConfig::PostgresCdc(c) => c,
        }
    }

    /// The Kafka source, for what only it can do (exactly-once offsets in a
    /// transaction, partitioned state).
    pub fn kafka(&self) -> Option<&KafkaSourceConfig> {
        match self {
            SourceConfig::Kafka(k) => Some(k),
            _ => None,
        }
    }
}

/// Where records go: one table per kind under `[sink]`, several at once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub kafka: Option<KafkaSinkConfig>,
    pub console: Option<ConsoleSinkConfig>,
    pub parquet: Option<ParquetSinkConfig>,
    pub postgres: Option<PostgresSinkConfig>,
}

impl SinkConfig {
    /// Every sink the connector names, in the order records reach them.
    pub fn connectors(&self) -> Vec<&dyn SinkConnector> {
        // Destructured, so a kind added above and not here does not compile.
        let SinkConfig {
            kafka,
            console,
            parquet,
            postgres,
        } = self;
        let mut out: Vec<&dyn SinkConnector> = Vec::new();
        out.extend(kafka.as_ref().map(|c| c as &dyn SinkConnector));
        out.extend(console.as_ref().map(|c| c as &dyn SinkConnector));
        out.extend(parquet.as_ref().map(|c| c as &dyn SinkConnector));
        out.extend(postgres.as_ref().map(|c| c as &dyn SinkConnector));
        out
    }

    fn connectors_mut(&mut self) -> Vec<&mut dyn SinkConnector> {
        let SinkConfig {
            kafka,
            console,
            parquet,
            postgres,
        } = self;
        let mut out: Vec<&mut dyn SinkConnector> = Vec::new();
        out.extend(kafka.as_mut().map(|c| c as &mut dyn SinkConnector));
        out.extend(console.as_mut().map(|c| c as &mut dyn SinkConnector));
        out.extend(parquet.as_mut().map(|c| c as &mut dyn SinkConnector));
        out.extend(postgres.as_mut().map(|c| c as &mut dyn SinkConnector));
        out
    }

    /// The kinds a `[sink.KIND]` table may name, for messages.
    pub const KINDS: &'static str =
        "`[sink.kafka]`, `[sink.console]`, `[sink.parquet]` or `[sink.postgres]`";
}

/// Resolves the source and every sink once, before anything starts: each
/// checks what serde cannot and keeps what it derives (a parsed schema, an
/// opened object store) for `plan` and `run`. The error names the key, below
/// the connector's top level, and what is wrong.
pub fn resolve(
    source: &mut SourceConfig,
    sinks: &mut SinkConfig,
    cx: &ResolveContext<'_>,
) -> Result<(), Invalid> {
    let kind = source.connector().kind();
    source
        .connector_mut()
        .resolve(cx)
        .map_err(|e| e.under(&format!("source.{kind}")))?;
    for sink in sinks.connectors_mut() {
        let kind = sink.kind();
        sink.resolve(cx)
            .map_err(|e| e.under(&format!("sink.{kind}")))?;
    }
    Ok(())
}

/// What a connector kind may look at while it resolves.
pub struct ResolveContext<'a> {
    /// The connector's name.
    pub name: &'a str,
    /// The folder of the connector file: relative paths start there.
    pub base: &'a Path,
}

/// A setting that is wrong: its key (`topic`, then `source.kafka.topic` once
/// placed) and why.
#[derive(Debug)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

impl Invalid {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The same error, with its key placed under `table`.
    fn under(self, table: &str) -> Self {
        let key = if self.key.is_empty() {
            table.to_string()
        } else {
            format!("{table}.{}", self.key)
        };
        Invalid { key, ..self }
    }
}

/// A topic the run creates when it is missing, and what it is for.
#[derive(Debug, Clone)]
pub struct TopicPlan {
    /// `sink`, `dead letters`, `partitioned state`: how `weir plan` names it.
    pub role: &'static str,
    pub spec: TopicSpec,
}

/// An Avro schema the run registers under a subject before it produces.
#[derive(Debug, Clone)]
pub struct SubjectPlan {
    pub subject: String,
    pub schema: AvroSchema,
}

/// A plugin a connector kind runs itself (a generator's), as its table names it.
pub struct PluginRef<'a> {
    pub plugin: &'a str,
    pub config: &'a toml::Table,
    pub lookups: &'a [String],
}

/// What `weir plan` knows when a kind describes itself.
pub struct DescribeContext<'a> {
    pub name: &'a str,
    /// The cluster's topics and their partition counts; `None` on the
    /// embedded broker (every topic is new) or when the cluster did not answer.
    pub topics: Option<&'a [(String, i32)]>,
    pub kafka: &'a KafkaConfig,
}

impl DescribeContext<'_> {
    /// The partition count of `topic`, when the cluster was asked and has it.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        self.topics?
            .iter()
            .find(|(n, _)| n == topic)
            .map(|(_, n)| *n)
    }
}

/// One line of `weir plan`.
pub type PlanLine = (Level, String);

/// What a kind gets when the run opens it.
pub struct OpenContext<'a> {
    pub name: &'a str,
    pub cluster: &'a Cluster,
    /// The connector's producer (transactional with `exactly_once`), shared
    /// with the DLQ.
    pub producer: &'a Producer,
    /// The source's own plugin, started (see [`SourceConnector::plugin`]).
    pub plugin: Option<AsyncInstance>,
    /// The schema id of each subject in the resolved plan, registered.
    pub schema_ids: &'a std::collections::BTreeMap<String, u32>,
    /// Outputs and offsets go into Kafka transactions.
    pub exactly_once: bool,
}
