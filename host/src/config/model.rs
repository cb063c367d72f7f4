//! The connector TOML model. Each field's doc comment shows the line it accepts;
//! defaults live in [`defaults`] and nowhere else.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One pipeline: a source, plugin stages, sinks, and the settings they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// `name = "purchases-gen"`: names the DLQ topic, the consumer group, logs.
    /// Defaults to the file name without `.toml`.
    pub name: Option<String>,
    /// `[source.generator]` or `[source.kafka]`.
    pub source: SourceConfig,
    /// `[[transform]]` stages, applied in order.
    #[serde(default)]
    pub transform: Vec<TransformConfig>,
    /// `[aggregate]`: a stateful stage after the transforms, driven by triggers.
    pub aggregate: Option<AggregateConfig>,
    /// `[sink.kafka]`, `[sink.console]`: at least one.
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

/// Where records come from (externally tagged: exactly one table under `[source]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    Generator(GeneratorSource),
    Kafka(KafkaSource),
    Http(HttpSource),
}

/// An HTTP endpoint polled on an interval; each new response body is one record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSource {
    /// `url = "${VEHICLE_URL}"`
    pub url: String,
    /// `interval_ms = 60000`: time between the starts of two polls.
    #[serde(default = "defaults::poll_interval_ms")]
    pub interval_ms: u64,
    /// `timeout_ms = 10000`: the whole request, body included.
    #[serde(default = "defaults::http_timeout_ms")]
    pub timeout_ms: u64,
    /// `max_body_bytes = 16777216`: a larger response is refused, not truncated.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// `retries = 4`: further attempts on a network error, 429 or 5xx.
    #[serde(default = "defaults::http_retries")]
    pub retries: u32,
    /// `backoff_ms = 500`: first retry delay, doubled each time (with jitter).
    #[serde(default = "defaults::backoff_ms")]
    pub backoff_ms: u64,
    /// `backoff_max_ms = 30000`: longest retry delay, also for `Retry-After`.
    #[serde(default = "defaults::backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// `[source.http.headers]`: sent with every request, e.g. an API key from
    /// `${API_KEY}`. Values are never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `max_polls = 0`: stop after this many polls (0: never).
    #[serde(default)]
    pub max_polls: u64,
}

/// A source plugin called at a steady rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSource {
    /// `plugin = "purchases-gen"` (a built plugin's name) or `plugin = "path/x.wasm"`.
    pub plugin: String,
    /// `rate_per_sec = 1000`: records per second; `0` means as fast as possible.
    #[serde(default = "defaults::rate_per_sec")]
    pub rate_per_sec: u64,
    /// `batch_size = 500`: records asked of the plugin per call.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// `max_records = 10000`: stop after this many; `0` runs until stopped.
    #[serde(default)]
    pub max_records: u64,
    /// `[source.generator.config]`: handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// `lookups = ["campaigns"]`: tables added to `config` under `lookups`.
    #[serde(default)]
    pub lookups: Vec<String>,
}

/// A Kafka topic read in a consumer group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSource {
    /// `topic = "purchases"`
    pub topic: String,
    /// `group_id = "purchases-console"`; defaults to the connector name.
    pub group_id: Option<String>,
    /// `batch_size = 500`: most records handed on at once.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// `batch_timeout_ms = 200`: the longest a batch stays open.
    #[serde(default = "defaults::batch_timeout_ms")]
    pub batch_timeout_ms: u64,
    /// `linger_ms = 0`: how long a batch waits for more records once none
    /// is ready; 0 closes it at once (lowest latency; under load batches
    /// fill up anyway).
    #[serde(default)]
    pub linger_ms: u64,
    /// `start_from = "earliest"` or `"latest"`, when the group has no offset yet.
    #[serde(default)]
    pub start_from: StartFrom,
    /// `event_time = "start_timestamp"`: the JSON value's field (or dotted
    /// path) holding each record's event time, in epoch milliseconds or RFC
    /// 3339; the watermark and the aggregator's windows then use it instead of
    /// the Kafka timestamp. A record without it goes to the DLQ
    /// (`event_time_missing` / `event_time_invalid`). Unset: the Kafka timestamp.
    #[serde(default)]
    pub event_time: Option<String>,
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

/// Where records go; several sinks may be set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub kafka: Option<KafkaSink>,
    pub console: Option<ConsoleSink>,
    pub parquet: Option<ParquetSink>,
}

/// Parquet files in Hive-style partition folders (`network_id=3/minute_timestamp=…/`).
/// Rows are buffered and written at each checkpoint, under names the checkpoint
/// covers, so a restart neither loses nor duplicates rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSink {
    /// `path = "out/campaign-minute"`: the dataset's root folder (relative to the
    /// working directory), or an object store: `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`.
    pub path: String,
    /// `[sink.parquet.storage]`: object store settings (`object_store`'s keys,
    /// e.g. `aws_endpoint_url`, `aws_region`, `aws_allow_http`), over the ones
    /// the standard environment gives (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    #[serde(default)]
    pub storage: StorageOptions,
    /// `partition_by = ["network_id", "minute_timestamp"]`: columns that become
    /// folders, in this order, and are left out of the files.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// `columns = [{ name = "campaign_id", type = "int64", nullable = false }, …]`:
    /// the Arrow schema; each record's JSON value must fit it.
    pub columns: Vec<ParquetColumn>,
    /// `compression = "zstd"`: none, snappy or zstd.
    #[serde(default)]
    pub compression: ParquetCompression,
    /// `row_group_size = 65536`: most rows per row group.
    #[serde(default = "defaults::row_group_size")]
    pub row_group_size: usize,
    /// `max_buffered_rows = 100000`: rows held before an early checkpoint writes them.
    #[serde(default = "defaults::max_buffered_rows")]
    pub max_buffered_rows: usize,
}

/// Object store settings. They may hold credentials, so `Debug` shows the
/// keys only.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct StorageOptions(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// `nullable = true`: a missing field or `null` is allowed.
    #[serde(default = "defaults::yes")]
    pub nullable: bool,
}

/// The column types a JSON value maps onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Int32,
    Int64,
    Float64,
    Boolean,
    /// Milliseconds since the epoch (UTC), from a JSON integer.
    TimestampMs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParquetCompression {
    None,
    Snappy,
    #[default]
    Zstd,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSink {
    /// `topic = "purchases"`
    pub topic: String,
    /// `partitions = 3`: used when weir creates the topic.
    #[serde(default = "defaults::partitions")]
    pub partitions: i32,
    /// `replication_factor = 1`: used when weir creates the topic.
    #[serde(default = "defaults::replication_factor")]
    pub replication_factor: i32,
    /// `[sink.kafka.topic_config]`: topic settings at creation, e.g. `"cleanup.policy" = "compact"`.
    #[serde(default)]
    pub topic_config: BTreeMap<String, String>,
    /// `format = "json"` (values as the plugin made them) or `"avro"` (encoded
    /// with `value_schema`, registered in the schema registry, Confluent framing).
    #[serde(default)]
    pub format: ValueFormat,
    /// `value_schema = "../schemas/user_event.v1.avsc"`: the Avro writer schema,
    /// relative to the connector file.
    pub value_schema: Option<String>,
    /// `subject = "customer_events-value"`: the registry subject; defaults to
    /// `<topic>-value` (Confluent's TopicNameStrategy).
    pub subject: Option<String>,
    /// `exactly_once = true`: a Kafka → plugins → Kafka connector writes each
    /// checkpoint's outputs, DLQ entries, plugin state and input offsets in
    /// one Kafka transaction, so a crash neither loses nor repeats a record for
    /// `read_committed` readers. Needs a broker with transactions.
    #[serde(default)]
    pub exactly_once: bool,
    /// `transactional_id = "weir-purchases"`: the producer's transactional id
    /// (default `weir-<connector>`). A restarted host with the same id fences
    /// its killed predecessor and aborts what it left open; two hosts running
    /// at once need different ids.
    pub transactional_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    #[default]
    Json,
    Avro,
}

/// The schema registry Avro sinks register their schemas with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// `url = "${SCHEMA_REGISTRY_URL:-}"`: empty or absent uses the embedded
    /// registry (unless `--schema-registry-url` or `WEIR_SCHEMA_REGISTRY_URL` is set).
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSink {
    /// `format = "table"` or `"json"` (one line per record).
    #[serde(default)]
    pub format: ConsoleFormat,
    /// `max_rows = 20`: rows shown per batch in table format.
    #[serde(default = "defaults::max_rows")]
    pub max_rows: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleFormat {
    #[default]
    Table,
    Json,
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

/// Sandbox limits per plugin instance.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// `memory_mb = 64`: linear memory cap; growing past it traps.
    #[serde(default = "defaults::memory_mb")]
    pub memory_mb: u64,
    /// `call_timeout_ms = 2000`: CPU deadline for one call into a plugin.
    #[serde(default = "defaults::call_timeout_ms")]
    pub call_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            memory_mb: defaults::memory_mb(),
            call_timeout_ms: defaults::call_timeout_ms(),
        }
    }
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
    pub fn memory_mb() -> u64 {
        64
    }
    pub fn call_timeout_ms() -> u64 {
        2000
    }
    pub fn yes() -> bool {
        true
    }
    /// The producers' `linger.ms`, chosen by measurement on the validate
    /// pipeline (docs/connectors.md): 2 instead of 5 on the host that reads
    /// Kafka halved its p99 at half of peak; below 5 on the generating host,
    /// every tail grew 3–5×.
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
}
