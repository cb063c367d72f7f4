//! Connector files: parse, interpolate, validate, and resolve plugin paths, all
//! before anything starts.

pub mod error;
pub mod interpolate;
pub mod lookup;
pub mod model;
pub mod secrets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::connectors::{ResolveContext, SubjectPlan, TopicPlan};
use crate::kafka::admin::TopicSpec;
use crate::runtime::Role;

pub use lookup::LookupTable;

pub use error::{ConfigError, Location};
pub use model::*;

/// A connector file that parsed and was resolved: every check done, every
/// derived list (plugins, topics, subjects) made once, for `validate`, `plan`
/// and `run` to iterate over.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub name: String,
    /// The connector as written; its source and sinks hold what they derived
    /// when resolved (a parsed schema, an opened object store).
    pub connector: ConnectorConfig,
    /// Every plugin the connector runs, in stage order.
    pub plugins: Vec<PluginStage>,
    pub dlq_topic: String,
    /// The compacted topic of a partitioned aggregator's state, or of the
    /// checkpoints of an exactly-once connector.
    pub state_topic: Option<String>,
    /// Topics the run creates when they are missing, with their settings.
    pub topics: Vec<TopicPlan>,
    /// Schemas the run registers before it writes.
    pub subjects: Vec<SubjectPlan>,
    /// The `[lookup.NAME]` tables, loaded.
    pub lookups: BTreeMap<String, LookupTable>,
}

/// A plugin stage, located and configured.
#[derive(Debug, Clone)]
pub struct PluginStage {
    /// `source`, `transform[0]`, `aggregate`: where it sits, as logs,
    /// checkpoints and `weir plan` name it.
    pub label: String,
    pub role: Role,
    pub path: PathBuf,
    /// What its `init` gets: its `config` table and the lookups it names, as JSON.
    pub config_json: String,
}

/// An Avro schema file as written, and parsed.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    pub path: PathBuf,
    /// The schema text, compacted: what is registered.
    pub text: String,
    pub schema: apache_avro::Schema,
}

impl Loaded {
    /// The plugin stage labelled `label`.
    pub fn plugin(&self, label: &str) -> Option<&PluginStage> {
        self.plugins.iter().find(|p| p.label == label)
    }

    /// Where this connector's checkpoint lives: `--state-dir`/`WEIR_STATE_DIR`,
    /// else `[checkpoint] dir`, else the default (relative to the working directory).
    pub fn state_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.connector.checkpoint.dir.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(defaults::state_dir()))
    }

    /// The JSON a plugin's `init` gets: its `config` table, plus the lookup
    /// tables it names under the reserved key `lookups`.
    fn init_config(&self, config: &toml::Table, lookups: &[String]) -> String {
        let mut json = serde_json::Map::new();
        for (k, v) in config {
            // A TOML value always has a JSON form (datetimes become strings).
            json.insert(k.clone(), serde_json::to_value(v).unwrap_or_default());
        }
        if !lookups.is_empty() {
            let tables = lookups
                .iter()
                .filter_map(|n| {
                    self.lookups
                        .get(n)
                        .map(|t| (n.clone(), t.rows.clone().into()))
                })
                .collect::<serde_json::Map<_, _>>();
            json.insert("lookups".into(), tables.into());
        }
        serde_json::Value::Object(json).to_string()
    }
}

/// Reads, interpolates, parses and validates a connector file.
pub fn load(path: &Path, plugin_dirs: &[PathBuf]) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let connector = parse(path, &text, |name| std::env::var(name).ok())?;
    resolve(path, &text, connector, plugin_dirs)
}

/// Parses connector text; `env` answers `${VAR}` look-ups.
pub fn parse(
    path: &Path,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ConnectorConfig, ConfigError> {
    let expanded = interpolate::interpolate(text, env).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        location: e.location,
        message: e.message,
        hint: None,
    })?;
    toml::from_str::<ConnectorConfig>(&expanded).map_err(|e| {
        let location = e
            .span()
            .map(|s| Location::of_offset(&expanded, s.start))
            .unwrap_or(Location { line: 1, column: 1 });
        let message = e.message().trim().to_string();
        ConfigError::Syntax {
            path: path.to_path_buf(),
            location,
            hint: error::suggestion(&message),
            message,
        }
    })
}

/// Checks what serde cannot, finds the plugins and derives the lists the
/// run needs; `text` (interpolation keeps its lines) locates errors.
fn resolve(
    path: &Path,
    text: &str,
    mut connector: ConnectorConfig,
    plugin_dirs: &[PathBuf],
) -> Result<Loaded, ConfigError> {
    let name = match &connector.name {
        Some(n) => n.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "connector".into()),
    };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        location: error::locate_key(text, key),
        key: key.to_string(),
        message,
    };
    check_topic_name(&name).map_err(|m| invalid("name", m))?;
    let dlq_topic = connector
        .dlq
        .topic
        .clone()
        .unwrap_or_else(|| format!("{name}.dlq"));
    check_topic_name(&dlq_topic).map_err(|m| invalid("dlq.topic", m))?;

    let base = path.parent().unwrap_or(Path::new("."));
    if connector.sink.connectors().is_empty() {
        return Err(invalid(
            "sink",
            format!(
                "no sink configured; add {}",
                crate::connectors::SinkConfig::KINDS
            ),
        ));
    }
    let cx = ResolveContext { name: &name, base };
    crate::connectors::resolve(&mut connector.source, &mut connector.sink, &cx)
        .map_err(|e| invalid(&e.key, e.message))?;
    let c = &connector;
    check_aggregate(c).map_err(|(k, m)| invalid(k, m))?;
    let exactly_once = c.sink.kafka.as_ref().is_some_and(|k| k.exactly_once);
    if exactly_once {
        check_exactly_once(c).map_err(|m| invalid("sink.kafka.exactly_once", m))?;
    }
    let state_topic = match &c.aggregate {
        _ if exactly_once => Some(format!("{name}.state")),
        Some(a) if a.partitioned => {
            let t = a
                .state_topic
                .clone()
                .unwrap_or_else(|| format!("{name}.state"));
            check_topic_name(&t).map_err(|m| invalid("aggregate.state_topic", m))?;
            Some(t)
        }
        Some(a) if a.state_topic.is_some() => {
            return Err(invalid(
                "aggregate.state_topic",
                "only a partitioned aggregator (`partitioned = true`) keeps its state in a topic"
                    .into(),
            ));
        }
        _ => None,
    };
    if c.checkpoint.interval_ms < 100 {
        return Err(invalid(
            "checkpoint.interval_ms",
            "must be at least 100".into(),
        ));
    }
    if c.kafka.idempotent && c.kafka.acks != Acks::All {
        return Err(invalid(
            "kafka.acks",
            "an idempotent producer needs `acks = \"all\"`; set it, or `idempotent = false`".into(),
        ));
    }
    if c.limits.memory_mb == Some(0) {
        return Err(invalid("limits.memory_mb", "must be at least 1".into()));
    }
    if c.limits.call_timeout_ms.is_some_and(|ms| ms < 10) {
        return Err(invalid(
            "limits.call_timeout_ms",
            "must be at least 10".into(),
        ));
    }
    let mut lookups = BTreeMap::new();
    for (table, cfg) in &c.lookup {
        let t = lookup::load(base, cfg).map_err(|m| invalid(&format!("lookup.{table}"), m))?;
        lookups.insert(table.clone(), t);
    }
    let topics = topics_of(c, &dlq_topic, state_topic.as_deref());
    let subjects = c
        .sink
        .connectors()
        .iter()
        .flat_map(|s| s.subjects())
        .collect();
    let mut loaded = Loaded {
        path: path.to_path_buf(),
        name,
        plugins: Vec::new(),
        dlq_topic,
        state_topic,
        topics,
        subjects,
        lookups,
        connector,
    };
    loaded.plugins = plugins_of(&loaded, text, plugin_dirs)?;
    Ok(loaded)
}

/// The plugin stages in order, each located, with its `init` JSON. A stage
/// naming a lookup table that is not declared is an error.
fn plugins_of(
    loaded: &Loaded,
    text: &str,
    plugin_dirs: &[PathBuf],
) -> Result<Vec<PluginStage>, ConfigError> {
    let c = &loaded.connector;
    let base = loaded.path.parent().unwrap_or(Path::new("."));
    let source = c.source.connector();
    let source_key = format!("source.{}", source.kind());
    let mut named = Vec::new();
    if let Some(p) = source.plugin() {
        named.push((
            "source".to_string(),
            source_key,
            Role::Source,
            p.plugin,
            p.config,
            p.lookups,
        ));
    }
    for (i, t) in c.transform.iter().enumerate() {
        let stage = (
            format!("transform[{i}]"),
            "transform".to_string(),
            Role::Transform,
        );
        named.push((
            stage.0,
            stage.1,
            stage.2,
            &t.plugin,
            &t.config,
            &t.lookups[..],
        ));
    }
    if let Some(a) = &c.aggregate {
        let stage = (
            "aggregate".to_string(),
            "aggregate".to_string(),
            Role::Aggregator,
        );
        named.push((
            stage.0,
            stage.1,
            stage.2,
            &a.plugin,
            &a.config,
            &a.lookups[..],
        ));
    }
    let mut plugins = Vec::new();
    for (label, key, role, plugin, config, lookups) in named {
        if let Some(missing) = lookups.iter().find(|n| !loaded.lookups.contains_key(*n)) {
            return Err(ConfigError::Invalid {
                path: loaded.path.clone(),
                location: error::locate_key(text, &format!("{key}.lookups")),
                key: format!("{key}.lookups"),
                message: format!(
                    "no lookup table `{missing}`; declare it as `[lookup.{missing}]` with `path` and `key`"
                ),
            });
        }
        plugins.push(PluginStage {
            label,
            role,
            path: find_plugin(&loaded.path, base, plugin, plugin_dirs)?,
            config_json: loaded.init_config(config, lookups),
        });
    }
    Ok(plugins)
}

/// The topics a run creates when missing: the DLQ, the state topic, and the
/// sinks' own. The DLQ and state topics are replicated like the Kafka sink's.
fn topics_of(c: &ConnectorConfig, dlq_topic: &str, state_topic: Option<&str>) -> Vec<TopicPlan> {
    let replication_factor = c.sink.kafka.as_ref().map_or(1, |k| k.replication_factor);
    let mut topics = vec![TopicPlan {
        role: "dead letters",
        spec: TopicSpec {
            name: dlq_topic.to_string(),
            partitions: 1,
            replication_factor,
            config: BTreeMap::new(),
        },
    }];
    if let Some(t) = state_topic {
        topics.push(TopicPlan {
            role: "partitioned state",
            spec: TopicSpec {
                name: t.to_string(),
                partitions: 1,
                replication_factor,
                config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
            },
        });
    }
    topics.extend(c.sink.connectors().iter().flat_map(|s| s.topics()));
    topics
}

/// An aggregator's trigger, lateness and partitioning make sense.
fn check_aggregate(c: &ConnectorConfig) -> Result<(), (&'static str, String)> {
    let Some(a) = &c.aggregate else {
        return Ok(());
    };
    if a.trigger_interval_ms < 100 {
        return Err((
            "aggregate.trigger_interval_ms",
            "must be at least 100".into(),
        ));
    }
    if a.allowed_lateness_ms < 0 {
        return Err(("aggregate.allowed_lateness_ms", "must be 0 or more".into()));
    }
    if a.partitioned && c.source.kafka().is_none() {
        return Err((
            "aggregate.partitioned",
            "a partitioned aggregator needs `[source.kafka]`: its state follows the topic's partitions".into(),
        ));
    }
    if a.partitioned && !c.transform.is_empty() {
        return Err((
            "aggregate.partitioned",
            "a partitioned aggregator cannot follow `[[transform]]` stages yet (their state is kept per host, not per partition); aggregate in a connector of its own".into(),
        ));
    }
    Ok(())
}

/// What `exactly_once = true` needs: offsets to commit in the transaction
/// (a Kafka source), and only sinks that can join it.
fn check_exactly_once(c: &ConnectorConfig) -> Result<(), String> {
    if c.source.kafka().is_none() {
        return Err("exactly-once covers Kafka → plugins → Kafka: the input offsets are committed in the transaction with the outputs, so the source must be `[source.kafka]`".into());
    }
    if c.sink.parquet.is_some() {
        return Err("a Parquet sink cannot join a Kafka transaction (it is effectively-once on its own through its checkpointed files); write Parquet from a connector of its own".into());
    }
    if c.aggregate.as_ref().is_some_and(|a| a.partitioned) {
        return Err("a partitioned aggregator keeps its state per partition and is not transactional yet; use `partitioned = false`".into());
    }
    if !c.kafka.idempotent {
        return Err(
            "transactions need the idempotent producer; remove `idempotent = false` from `[kafka]`"
                .into(),
        );
    }
    Ok(())
}

/// Reads and parses an Avro schema file.
pub(crate) fn load_avro(path: &Path) -> Result<AvroSchema, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{shown}:{}:{}: {e}", e.line(), e.column()))?;
    let schema = apache_avro::Schema::parse(&json)
        .map_err(|e| format!("{shown}: not a valid Avro schema: {e}"))?;
    Ok(AvroSchema {
        path: path.to_path_buf(),
        text: json.to_string(),
        schema,
    })
}

/// Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`.
pub(crate) fn check_topic_name(topic: &str) -> Result<(), String> {
    if topic.is_empty() || topic.len() > 249 {
        return Err(format!("`{topic}` must be 1 to 249 characters long"));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{topic}` has `{c}`; topic names take letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok(())
}

/// A plugin given by name is looked up as `NAME.wasm` in the plugin directories;
/// one given as a path (with `/` or `.wasm`) is relative to the connector file.
fn find_plugin(
    path: &Path,
    base: &Path,
    plugin: &str,
    plugin_dirs: &[PathBuf],
) -> Result<PathBuf, ConfigError> {
    let tried: Vec<PathBuf> = if plugin.contains('/') || plugin.ends_with(".wasm") {
        vec![base.join(plugin)]
    } else {
        candidates(plugin, plugin_dirs).collect()
    };
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| ConfigError::PluginNotFound {
            path: path.to_path_buf(),
            plugin: plugin.to_string(),
            tried,
        })
}

/// The first `NAME.wasm` in the plugin directories.
pub fn find_plugin_by_name(name: &str, plugin_dirs: &[PathBuf]) -> Option<PathBuf> {
    candidates(name, plugin_dirs).find(|p| p.is_file())
}

/// `NAME.wasm` in each plugin directory, in lookup order.
fn candidates<'a>(name: &'a str, plugin_dirs: &'a [PathBuf]) -> impl Iterator<Item = PathBuf> + 'a {
    plugin_dirs
        .iter()
        .map(move |d| d.join(format!("{name}.wasm")))
}

/// Where plugins are looked up by name: `extra` (flag or `WEIR_PLUGIN_DIR`, `:`
/// separated) first, then `target/plugins` where `just plugin` puts them.
pub fn plugin_dirs(extra: Option<&str>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = extra
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    dirs.push(PathBuf::from("target/plugins"));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<ConnectorConfig, ConfigError> {
        parse(Path::new("c.toml"), text, |_| None)
    }

    const MINIMAL: &str = r#"
[source.kafka]
topic = "purchases"

[sink.console]
"#;

    #[test]
    fn minimal_connector_gets_defaults() {
        let c = parse_str(MINIMAL).unwrap();
        let k = c.source.kafka().expect("kafka source expected");
        assert_eq!(k.batch_size, 500);
        assert_eq!(c.limits.memory_mb, None);
        assert_eq!(c.kafka.compression, Compression::Zstd);
        assert!(c.kafka.idempotent);
    }

    #[test]
    fn misspelt_key_names_line_column_and_suggestion() {
        let text = "[source.kafka]\ntopic = \"p\"\nbatch_sise = 3\n[sink.console]\n";
        let e = parse_str(text).unwrap_err().to_string();
        assert!(
            e.starts_with("c.toml:3:1: unknown field `batch_sise`"),
            "{e}"
        );
        assert!(e.contains("did you mean `batch_size`?"), "{e}");
    }

    #[test]
    fn wrong_type_is_located() {
        let text = "[source.kafka]\ntopic = 5\n[sink.console]\n";
        let e = parse_str(text).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:2:9:"), "{e}");
    }

    #[test]
    fn exactly_once_needs_a_kafka_source_and_no_parquet_sink() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.toml");
        let gen_plugin = dir.path().join("g.wasm");
        std::fs::write(&gen_plugin, b"").unwrap();
        std::fs::write(
            &p,
            "[source.generator]\nplugin = \"g.wasm\"\n[sink.kafka]\ntopic = \"t\"\nexactly_once = true\n",
        )
        .unwrap();
        let e = load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("sink.kafka.exactly_once"), "{e}");
        assert!(e.contains("`[source.kafka]`"), "{e}");
        std::fs::write(
            &p,
            "[source.kafka]\ntopic = \"i\"\n[sink.kafka]\ntopic = \"t\"\nexactly_once = true\n[sink.parquet]\npath = \"o\"\ncolumns = [{ name = \"a\", type = \"int64\" }]\n",
        )
        .unwrap();
        let e = load(&p, &[]).unwrap_err().to_string();
        assert!(
            e.contains("Parquet sink cannot join a Kafka transaction"),
            "{e}"
        );
        std::fs::write(
            &p,
            "name = \"x\"\n[source.kafka]\ntopic = \"i\"\n[sink.kafka]\ntopic = \"t\"\nexactly_once = true\n",
        )
        .unwrap();
        let loaded = load(&p, &[]).unwrap();
        assert_eq!(loaded.state_topic.as_deref(), Some("x.state"));
    }

    #[test]
    fn validation_catches_missing_sink_and_bad_topics() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.toml");
        std::fs::write(&p, "[source.kafka]\ntopic = \"t\"\n[sink]\n").unwrap();
        let e = load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("no sink configured"), "{e}");
        std::fs::write(&p, "[source.kafka]\ntopic = \"a b\"\n[sink.console]\n").unwrap();
        let e = load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("source.kafka.topic"), "{e}");
    }

    #[test]
    fn missing_plugin_lists_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gen.toml");
        std::fs::write(
            &p,
            "[source.generator]\nplugin = \"nope\"\n[sink.console]\n",
        )
        .unwrap();
        let e = load(&p, &[dir.path().join("plugins")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("plugin `nope` not found"), "{e}");
        assert!(e.contains("plugins/nope.wasm"), "{e}");
        assert!(e.contains("just plugin nope"), "{e}");
    }
}
