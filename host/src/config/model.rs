//! The connector TOML model. Each field's doc comment shows the line it accepts;
//! defaults live in [`defaults`] and nowhere else.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::connectors::{SinkConfig, SourceConfig};

/// One pipeline: a source, plugin stages, sinks, and the settings they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// `name = "purchases-gen"`: names the DLQ topic, the consumer group, logs.
    /// Defaults to the file name without `.toml`.
    pub name: Option<String>,
    /// `[source.KIND]`: exactly one (see [`crate::connectors`]).
    pub source: SourceConfig,
    /// `[[transform]]` stages, applied in order.
    #[serde(default)]
    pub transform: Vec<TransformConfig>,
    /// `[aggregate]`: a stateful stage after the transforms, driven by triggers.
    pub aggregate: Option<AggregateConfig>,
    /// `[sink.KIND]`: at least one (see [`crate::connectors`]).
    pub sink: SinkConfig,
    /// `[kafka]`: cluster and client settings shared by every Kafka part.
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// `[limits]`: sandbox limits for every plugin of this connector.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[dlq]`: where rejected records go.
    #[serde(default)]
    pub dlq: DlqConfig,
    /// `[checkpoint]`: where plugin state and source positions are saved together.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// `[schema_registry]`: where Avro schemas are registered.
    #[serde(default)]
    pub schema_registry: RegistryConfig,
    /// `[lookup.NAME]`: CSV tables the host loads and hands to the stages that
    /// name them in `lookups = ["NAME"]`.
    #[serde(default)]
    pub lookup: BTreeMap<String, LookupConfig>,
}

/// A CSV lookup table (header row, then one row per entry), e.g. campaigns.csv.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// `path = "data/campaigns.csv"`: relative to the connector file.
    pub path: String,
    /// `key = "campaign_id"`: the column whose values must be present and unique.
    pub key: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    #[default]
    Earliest,
    Latest,
}

/// A plugin stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// `plugin = "purchases-validate"` or `plugin = "path/x.wasm"`.
    pub plugin: String,
    /// `config = { ... }`: handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// `lookups = ["campaigns"]`: tables added to `config` under `lookups`.
    #[serde(default)]
    pub lookups: Vec<String>,
}

/// The aggregator stage: the host feeds it batches, and every trigger hands it
/// the watermark so it can emit what is complete.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateConfig {
    /// `plugin = "purchases-daily"` or `plugin = "path/x.wasm"`.
    pub plugin: String,
    /// `trigger_interval_ms = 10000`: how often the aggregator is ticked (processing time).
    #[serde(default = "defaults::trigger_interval_ms")]
    pub trigger_interval_ms: u64,
    /// `allowed_lateness_ms = 5000`: the watermark trails the newest event time by this much.
    #[serde(default = "defaults::allowed_lateness_ms")]
    pub allowed_lateness_ms: i64,
    /// `tick_every_batch = false`: also tick after every input batch (windowed
    /// aggregations: windows close and late records are told apart as soon as
    /// the watermark moves, whatever the processing speed). Reports that should
    /// come once per interval leave it off.
    #[serde(default)]
    pub tick_every_batch: bool,
    /// `partitioned = false`: one aggregator per input partition, each
    /// checkpointed with its partition's position to a compacted Kafka topic
    /// (`state_topic`) instead of the local checkpoint file. Several hosts in the
    /// consumer group then share the topic: a partition's state moves with it.
    /// Needs a Kafka source and input keyed so that a window's records share a
    /// partition (each partition is aggregated on its own).
    #[serde(default)]
    pub partitioned: bool,
    /// `state_topic = "NAME.state"`: where partitioned state is kept.
    pub state_topic: Option<String>,
    /// `config = { ... }`: handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// `lookups = ["campaigns"]`: tables added to `config` under `lookups`.
    #[serde(default)]
    pub lookups: Vec<String>,
}

/// Checkpoints: every plugin's snapshot plus the source positions they cover,
/// written atomically, so a restart continues without losing or recounting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// `dir = ".weir/state"`: one file per connector inside (`--state-dir` overrides).
    pub dir: Option<String>,
    /// `interval_ms = 5000`: time between checkpoints (an aggregator's trigger also makes one).
    #[serde(default = "defaults::checkpoint_interval_ms")]
    pub interval_ms: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            dir: None,
            interval_ms: defaults::checkpoint_interval_ms(),
        }
    }
}

/// The schema registry Avro sinks register their schemas with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// `url = "${SCHEMA_REGISTRY_URL:-}"`: empty or absent uses the embedded
    /// registry (unless `--schema-registry-url` or `WEIR_SCHEMA_REGISTRY_URL` is set).
    pub url: Option<String>,
}

/// Kafka cluster and client settings. Its `Debug` form hides secret values
/// (see [`super::secrets`]), so no log line can carry a password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap_servers = "${KAFKA_BROKER:-}"`: empty or absent starts the
    /// embedded broker (unless `--bootstrap-servers` or `WEIR_BOOTSTRAP_SERVERS` is set).
    pub bootstrap_servers: Option<String>,
    /// `compression = "zstd"`: none, gzip, snappy, lz4 or zstd.
    #[serde(default)]
    pub compression: Compression,
    /// `acks = "all"`: all, 1 or 0. Idempotence needs `all`.
    #[serde(default)]
    pub acks: Acks,
    /// `idempotent = true`
    #[serde(default = "defaults::yes")]
    pub idempotent: bool,
    /// `linger_ms = 5`: how long the producers wait for more records before
    /// they send a request (librdkafka's `linger.ms`). Unset, it is
    /// [`defaults::linger_ms`]: 2 behind a Kafka source, whose batches reach
    /// the sink whole, and 5 behind a generator or a poller, whose small
    /// paced batches it gathers into fewer requests.
    #[serde(default)]
    pub linger_ms: Option<u64>,
    /// `[kafka.properties]`: any librdkafka property passed through, e.g.
    /// `"security.protocol" = "SASL_SSL"`, `"sasl.password" = "${KAFKA_PASSWORD}"`.
    /// Set after weir's own settings, so an operator can override them.
    /// Values of secret-looking keys never reach logs or `weir plan`.
    #[serde(default, alias = "options")]
    pub properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), super::secrets::shown(k, v)))
            .collect();
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("compression", &self.compression)
            .field("acks", &self.acks)
            .field("idempotent", &self.idempotent)
            .field("linger_ms", &self.linger_ms)
            .field("properties", &properties)
            .finish()
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: None,
            compression: Compression::default(),
            acks: Acks::default(),
            idempotent: defaults::yes(),
            linger_ms: None,
            properties: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    #[default]
    Zstd,
}

impl Compression {
    pub fn as_librdkafka(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Acks {
    #[default]
    #[serde(rename = "all")]
    All,
    #[serde(rename = "1")]
    One,
    #[serde(rename = "0")]
    Zero,
}

impl Acks {
    pub fn as_librdkafka(self) -> &'static str {
        match self {
            Acks::All => "all",
            Acks::One => "1",
            Acks::Zero => "0",
        }
    }
}

/// Sandbox limits per plugin instance. Each one left out takes the default for
/// the plugin's language (`runtime::Language::default_limits`): an interpreter
/// inside a Python or JavaScript component needs more room than compiled Rust.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// `memory_mb = 64`: linear memory cap; growing past it traps.
    pub memory_mb: Option<u64>,
    /// `call_timeout_ms = 2000`: CPU deadline for one call into a plugin.
    pub call_timeout_ms: Option<u64>,
}

/// Dead-letter queue settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqConfig {
    /// `topic = "purchases-gen.dlq"`; defaults to `<name>.dlq`.
    pub topic: Option<String>,
}

/// Every default of the connector model, in one place.
pub mod defaults {
    pub fn rate_per_sec() -> u64 {
        1000
    }
    pub fn batch_size() -> u32 {
        500
    }
    pub fn batch_timeout_ms() -> u64 {
        200
    }
    pub fn partitions() -> i32 {
        3
    }
    pub fn replication_factor() -> i32 {
        1
    }
    pub fn max_rows() -> usize {
        20
    }
    pub fn yes() -> bool {
        true
    }
    /// The producers' `linger.ms`, chosen by measurement on the validate
    /// pipeline (docs/connectors.md): 2 instead of 5 on the host that reads
    /// Kafka halved its p99 at half of peak; 2 on a generating host cut the
    /// end-to-end median by a third but cost it 26–56 % more CPU at a fixed
    /// rate (and the broker 70 % more), so paced sources keep 5.
    pub fn linger_ms(batches_arrive_whole: bool) -> u64 {
        if batches_arrive_whole { 2 } else { 5 }
    }
    pub fn trigger_interval_ms() -> u64 {
        10_000
    }
    pub fn allowed_lateness_ms() -> i64 {
        5_000
    }
    pub fn checkpoint_interval_ms() -> u64 {
        5_000
    }
    pub fn poll_interval_ms() -> u64 {
        60_000
    }
    pub fn http_timeout_ms() -> u64 {
        10_000
    }
    pub fn max_body_bytes() -> u64 {
        16 << 20
    }
    pub fn http_retries() -> u32 {
        4
    }
    pub fn backoff_ms() -> u64 {
        500
    }
    pub fn backoff_max_ms() -> u64 {
        30_000
    }
    pub fn row_group_size() -> usize {
        65_536
    }
    pub fn max_buffered_rows() -> usize {
        100_000
    }
    pub fn state_dir() -> &'static str {
        ".weir/state"
    }
    pub fn offsets_table() -> String {
        "weir_sink_offsets".into()
    }
}
