//! Connector files: parse, interpolate, validate, and resolve plugin paths, all
//! before anything starts.

pub mod error;
pub mod interpolate;
pub mod lookup;
pub mod model;
pub mod secrets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use lookup::LookupTable;

pub use error::{ConfigError, Location};
pub use model::*;

/// A connector file that parsed and validated, with its plugins located.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub name: String,
    pub connector: Connector,
    /// The source plugin's component, for `[source.generator]`.
    pub source_plugin: Option<PathBuf>,
    /// One component per `[[transform]]`, in order.
    pub transform_plugins: Vec<PathBuf>,
    /// The `[aggregate]` stage's component.
    pub aggregate_plugin: Option<PathBuf>,
    pub dlq_topic: String,
    /// The compacted topic of a partitioned aggregator's state.
    pub state_topic: Option<String>,
    /// The `[lookup.NAME]` tables, loaded.
    pub lookups: BTreeMap<String, LookupTable>,
    /// The Kafka sink's Avro writer schema, parsed, when `format = "avro"`.
    pub value_schema: Option<AvroSchema>,
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
    /// Where this connector's checkpoint lives: `--state-dir`/`WEIR_STATE_DIR`,
    /// else `[checkpoint] dir`, else the default (relative to the working directory).
    pub fn state_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.connector.checkpoint.dir.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(defaults::state_dir()))
    }

    /// The JSON a plugin's `init` gets: its `config` table, plus the lookup
    /// tables it names under the reserved key `lookups`.
    pub fn init_config(&self, config: &toml::Table, lookups: &[String]) -> String {
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
) -> Result<Connector, ConfigError> {
    let expanded = interpolate::interpolate(text, env).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        location: e.location,
        message: e.message,
        hint: None,
    })?;
    toml::from_str::<Connector>(&expanded).map_err(|e| {
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

/// Checks what serde cannot and finds the plugins; `text` (interpolation keeps
/// its lines) locates errors.
fn resolve(
    path: &Path,
    text: &str,
    connector: Connector,
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
    let source_plugin = match &connector.source {
        SourceConfig::Generator(g) => {
            if g.batch_size == 0 {
                return Err(invalid(
                    "source.generator.batch_size",
                    "must be at least 1".into(),
                ));
            }
            Some(find_plugin(path, base, &g.plugin, plugin_dirs)?)
        }
        SourceConfig::Http(h) => {
            match url::Url::parse(&h.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => {
                    return Err(invalid(
                        "source.http.url",
                        format!("`{}` is not http(s)", u.scheme()),
                    ));
                }
                Err(e) => {
                    return Err(invalid(
                        "source.http.url",
                        format!("`{}` is not a URL: {e}", h.url),
                    ));
                }
            }
            if h.interval_ms < 100 || h.timeout_ms == 0 || h.max_body_bytes == 0 {
                return Err(invalid(
                    "source.http",
                    "interval_ms must be at least 100, timeout_ms and max_body_bytes above 0"
                        .into(),
                ));
            }
            None
        }
        SourceConfig::Kafka(k) => {
            check_topic_name(&k.topic).map_err(|m| invalid("source.kafka.topic", m))?;
            if k.batch_size == 0 {
                return Err(invalid(
                    "source.kafka.batch_size",
                    "must be at least 1".into(),
                ));
            }
            if let Some(field) = &k.event_time
                && field.split('.').any(str::is_empty)
            {
                return Err(invalid(
                    "source.kafka.event_time",
                    format!(
                        "`{field}` is not a field name: name a field of the JSON value, e.g. `start_timestamp`, or a dotted path such as `event.ts`"
                    ),
                ));
            }
            None
        }
    };
    let transform_plugins = connector
        .transform
        .iter()
        .map(|t| find_plugin(path, base, &t.plugin, plugin_dirs))
        .collect::<Result<Vec<_>, _>>()?;
    let aggregate_plugin = match &connector.aggregate {
        Some(a) => {
            if a.trigger_interval_ms < 100 {
                return Err(invalid(
                    "aggregate.trigger_interval_ms",
                    "must be at least 100".into(),
                ));
            }
            if a.allowed_lateness_ms < 0 {
                return Err(invalid(
                    "aggregate.allowed_lateness_ms",
                    "must be 0 or more".into(),
                ));
            }
            if a.partitioned && !matches!(connector.source, SourceConfig::Kafka(_)) {
                return Err(invalid(
                    "aggregate.partitioned",
                    "a partitioned aggregator needs `[source.kafka]`: its state follows the topic's partitions".into(),
                ));
            }
            if a.partitioned && !connector.transform.is_empty() {
                return Err(invalid(
                    "aggregate.partitioned",
                    "a partitioned aggregator cannot follow `[[transform]]` stages yet (their state is kept per host, not per partition); aggregate in a connector of its own".into(),
                ));
            }
            Some(find_plugin(path, base, &a.plugin, plugin_dirs)?)
        }
        None => None,
    };
    let exactly_once = connector
        .sink
        .kafka
        .as_ref()
        .is_some_and(|k| k.exactly_once);
    if exactly_once {
        check_exactly_once(&connector).map_err(|m| invalid("sink.kafka.exactly_once", m))?;
    }
    let state_topic = match &connector.aggregate {
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
    if connector.checkpoint.interval_ms < 100 {
        return Err(invalid(
            "checkpoint.interval_ms",
            "must be at least 100".into(),
        ));
    }

    let sinks = &connector.sink;
    if sinks.kafka.is_none() && sinks.console.is_none() && sinks.parquet.is_none() {
        return Err(invalid(
            "sink",
            "no sink configured; add `[sink.kafka]`, `[sink.console]` or `[sink.parquet]`".into(),
        ));
    }
    let mut value_schema = None;
    if let Some(k) = &connector.sink.kafka {
        check_topic_name(&k.topic).map_err(|m| invalid("sink.kafka.topic", m))?;
        match (k.format, &k.value_schema) {
            (ValueFormat::Avro, None) => {
                return Err(invalid(
                    "sink.kafka.format",
                    "`format = \"avro\"` needs `value_schema = \"path/to/schema.avsc\"`".into(),
                ));
            }
            (ValueFormat::Avro, Some(file)) => {
                value_schema = Some(
                    load_avro(&base.join(file))
                        .map_err(|m| invalid("sink.kafka.value_schema", m))?,
                );
            }
            (ValueFormat::Json, Some(_)) => {
                return Err(invalid(
                    "sink.kafka.value_schema",
                    "a value schema is only used with `format = \"avro\"`".into(),
                ));
            }
            (ValueFormat::Json, None) => {}
        }
        if k.partitions < 1 {
            return Err(invalid(
                "sink.kafka.partitions",
                "must be at least 1".into(),
            ));
        }
        if k.replication_factor < 1 {
            return Err(invalid(
                "sink.kafka.replication_factor",
                "must be at least 1".into(),
            ));
        }
    }
    let kafka = &connector.kafka;
    if kafka.idempotent && kafka.acks != Acks::All {
        return Err(invalid(
            "kafka.acks",
            "an idempotent producer needs `acks = \"all\"`; set it, or `idempotent = false`".into(),
        ));
    }
    if connector.limits.memory_mb == 0 {
        return Err(invalid("limits.memory_mb", "must be at least 1".into()));
    }
    if connector.limits.call_timeout_ms < 10 {
        return Err(invalid(
            "limits.call_timeout_ms",
            "must be at least 10".into(),
        ));
    }
    let mut lookups = BTreeMap::new();
    for (table, cfg) in &connector.lookup {
        let t = lookup::load(base, cfg).map_err(|m| invalid(&format!("lookup.{table}"), m))?;
        lookups.insert(table.clone(), t);
    }
    let mut named: Vec<(String, &Vec<String>)> = Vec::new();
    if let SourceConfig::Generator(g) = &connector.source {
        named.push(("source.generator.lookups".into(), &g.lookups));
    }
    for t in &connector.transform {
        named.push(("transform.lookups".into(), &t.lookups));
    }
    if let Some(a) = &connector.aggregate {
        named.push(("aggregate.lookups".into(), &a.lookups));
    }
    for (key, names) in named {
        if let Some(missing) = names.iter().find(|n| !lookups.contains_key(*n)) {
            return Err(invalid(
                &key,
                format!(
                    "no lookup table `{missing}`; declare it as `[lookup.{missing}]` with `path` and `key`"
                ),
            ));
        }
    }
    if let Some(p) = &connector.sink.parquet {
        check_parquet(p).map_err(|(k, m)| invalid(&format!("sink.parquet.{k}"), m))?;
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        name,
        connector,
        source_plugin,
        transform_plugins,
        aggregate_plugin,
        dlq_topic,
        state_topic,
        lookups,
        value_schema,
    })
}

/// What `exactly_once = true` needs: offsets to commit in the transaction
/// (a Kafka source), and only sinks that can join it.
fn check_exactly_once(c: &Connector) -> Result<(), String> {
    if !matches!(c.source, SourceConfig::Kafka(_)) {
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
fn load_avro(path: &Path) -> Result<AvroSchema, String> {
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

/// Columns named once, partition columns among them, sizes above zero.
fn check_parquet(p: &ParquetSink) -> Result<(), (&'static str, String)> {
    if p.path.trim().is_empty() {
        return Err(("path", "must name a folder or an object store URL".into()));
    }
    if let Err(e) = crate::sinks::parquet::Output::open(&p.path, &p.storage) {
        return Err(("path", e.to_string()));
    }
    if p.columns.is_empty() {
        return Err(("columns", "declare at least one column".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &p.columns {
        if c.name.is_empty() || !seen.insert(c.name.as_str()) {
            return Err((
                "columns",
                format!("column `{}` is empty or named twice", c.name),
            ));
        }
    }
    for part in &p.partition_by {
        if !seen.contains(part.as_str()) {
            return Err((
                "partition_by",
                format!("`{part}` is not one of the declared columns"),
            ));
        }
    }
    if p.partition_by.len() >= p.columns.len() {
        return Err((
            "partition_by",
            "every column is a partition column; the files would have no columns".into(),
        ));
    }
    if p.row_group_size == 0 || p.max_buffered_rows == 0 {
        return Err((
            "row_group_size",
            "row_group_size and max_buffered_rows must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`.
fn check_topic_name(topic: &str) -> Result<(), String> {
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

    fn parse_str(text: &str) -> Result<Connector, ConfigError> {
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
        let SourceConfig::Kafka(k) = &c.source else {
            panic!("kafka source expected")
        };
        assert_eq!(k.batch_size, 500);
        assert_eq!(c.limits.memory_mb, 64);
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
