//! `weir plan`: what `weir run` would do with these connector files, without
//! producing anything — topics it would create (and whether they exist with
//! other settings), schemas it would register with the registry's verdict,
//! plugin components with their contract versions and limits, sinks, lookups,
//! state and client settings (secrets hidden). An error marks a deploy that
//! would fail.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use rdkafka::consumer::Consumer;

use crate::config::{Loaded, PluginStage, secrets};
use crate::connectors::{DescribeContext, SubjectPlan, TopicPlan};
use crate::kafka::client::Cluster;
use crate::pipeline::start_plugin;
use crate::registry::client::RegistryClient;
use crate::runtime::Runtime;

/// How a line of the plan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Error,
}

/// One connector's plan: what would happen, line by line.
#[derive(Debug, Clone)]
pub struct ConnectorPlan {
    pub name: String,
    pub path: String,
    pub lines: Vec<(Level, String)>,
}

impl ConnectorPlan {
    fn add(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push((level, text.into()));
    }

    pub fn count(&self, level: Level) -> usize {
        self.lines.iter().filter(|(l, _)| *l == level).count()
    }

    /// The plan as text, one `ok`/`warn`/`error` line per item.
    pub fn render(&self) -> String {
        let mut out = format!("{} ({})\n", self.name, self.path);
        for (level, text) in &self.lines {
            let tag = match level {
                Level::Ok => "  ok   ",
                Level::Warn => "  warn ",
                Level::Error => "  ERROR",
            };
            let _ = writeln!(out, "{tag} {text}");
        }
        out
    }
}

/// Where a connector would run: its cluster (`None`: the embedded broker) and
/// schema registry (`None`: the embedded one).
pub struct Target {
    pub bootstrap: Option<String>,
    pub registry: Option<String>,
    pub state_dir: std::path::PathBuf,
}

/// Plans one connector.
pub async fn plan(loaded: &Loaded, runtime: &Runtime, target: &Target) -> ConnectorPlan {
    let c = &loaded.connector;
    let mut p = ConnectorPlan {
        name: loaded.name.clone(),
        path: loaded.path.display().to_string(),
        lines: Vec::new(),
    };
    let cluster = Cluster {
        bootstrap: target.bootstrap.clone().unwrap_or_default(),
        settings: c.kafka.clone(),
    };
    let metadata = match &target.bootstrap {
        None => {
            p.add(
                Level::Ok,
                "cluster: the embedded broker (memory storage); every topic is created fresh",
            );
            None
        }
        Some(b) => match topics_on(&cluster) {
            Ok(m) => {
                p.add(Level::Ok, format!("cluster: {b} ({} topics)", m.len()));
                Some(m)
            }
            Err(e) => {
                p.add(Level::Error, format!("cluster: cannot reach {b}: {e}"));
                None
            }
        },
    };

    // Source.
    let topics = metadata.as_deref();
    let cx = DescribeContext {
        name: &loaded.name,
        topics,
        kafka: &c.kafka,
    };
    let (level, line) = c.source.connector().describe(&cx);
    p.add(level, line);

    // Plugins, loaded and started as `run` starts them.
    let limits = c.limits;
    for stage in &loaded.plugins {
        let PluginStage {
            label, path, role, ..
        } = stage;
        let started = start_plugin(
            runtime,
            &loaded.name,
            path,
            *role,
            stage.config_json.clone(),
            limits,
        );
        match started {
            Ok(inst) => {
                let plugin = inst.plugin();
                p.add(
                    Level::Ok,
                    format!(
                        "plugin {label}: {} ({role}, {}, weir:plugin@{}) from {}, memory {} MiB, deadline {} ms per call",
                        plugin.name,
                        plugin.language,
                        plugin.contract,
                        path.display(),
                        inst.limits().memory_bytes >> 20,
                        inst.limits().call_timeout_ms
                    ),
                );
            }
            Err(e) => p.add(Level::Error, format!("plugin {label}: {e}")),
        }
    }

    // Topics the run creates.
    for TopicPlan { role, spec: t } in &loaded.topics {
        let settings = if t.config.is_empty() {
            String::new()
        } else {
            let kv: Vec<String> = t.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(", {}", kv.join(", "))
        };
        let asked = format!(
            "partitions {}, replication {}{settings}",
            t.partitions, t.replication_factor
        );
        match (topics, cx.partitions(&t.name)) {
            (Some(_), Some(n)) if n != t.partitions => p.add(
                Level::Warn,
                format!(
                    "{role} topic `{}` exists with {n} partitions, the connector asks {}; it is used as it is",
                    t.name, t.partitions
                ),
            ),
            (Some(_), Some(n)) => p.add(
                Level::Ok,
                format!("{role} topic `{}` exists ({n} partitions)", t.name),
            ),
            _ => p.add(
                Level::Ok,
                format!("{role} topic `{}` would be created ({asked})", t.name),
            ),
        }
    }

    // Schemas.
    for SubjectPlan { subject, schema } in &loaded.subjects {
        let file = schema.path.display();
        match &target.registry {
            None => p.add(
                Level::Ok,
                format!(
                    "schema {file}: subject `{subject}` on the embedded registry (new subject: version 1)"
                ),
            ),
            Some(url) => match check_schema(url, subject, &schema.text).await {
                Ok(verdict) => p.add(Level::Ok, format!("schema {file}: subject `{subject}`: {verdict}")),
                Err(e) => p.add(Level::Error, format!("schema {file}: {e}")),
            },
        }
    }

    // Sinks.
    for sink in c.sink.connectors() {
        let (level, line) = sink.describe(&cx);
        p.add(level, line);
    }
    for (name, table) in &loaded.lookups {
        p.add(
            Level::Ok,
            format!("lookup `{name}`: {} rows", table.rows.len()),
        );
    }

    // State.
    match &loaded.state_topic {
        Some(t) => p.add(
            Level::Ok,
            format!(
                "state: per partition in topic `{t}` (scale-out: hosts of the group share the work)"
            ),
        ),
        None => {
            let file = target.state_dir.join(format!("{}.ckpt", loaded.name));
            let (level, where_) = folder_verdict(&target.state_dir);
            let exists = if file.exists() {
                "a checkpoint exists; restored if it was written on this cluster"
            } else {
                "no checkpoint yet"
            };
            p.add(
                level,
                format!("state: {} ({exists}; {where_})", file.display()),
            );
        }
    }
    if !c.kafka.properties.is_empty() {
        let kv: Vec<String> = c
            .kafka
            .properties
            .iter()
            .map(|(k, v)| format!("{k}={}", secrets::shown(k, v)))
            .collect();
        p.add(Level::Ok, format!("kafka properties: {}", kv.join(", ")));
    }
    p
}

/// The topics of a cluster with their partition counts.
fn topics_on(cluster: &Cluster) -> Result<Vec<(String, i32)>, String> {
    let consumer = cluster.metadata_client().map_err(|e| e.to_string())?;
    let meta =
        tokio::task::block_in_place(|| consumer.fetch_metadata(None, Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
    Ok(meta
        .topics()
        .iter()
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect())
}

/// The registry's verdict on registering `schema` under `subject`.
async fn check_schema(url: &str, subject: &str, schema: &str) -> Result<String, String> {
    let client = RegistryClient::new(url).map_err(|e| e.to_string())?;
    let latest = client
        .latest_version(subject)
        .await
        .map_err(|e| e.to_string())?;
    client
        .check_compatible(subject, schema)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match latest {
        None => "new subject, would be registered as version 1".into(),
        Some(v) => format!("compatible with version {v} (registered again if it differs)"),
    })
}

/// Whether files can be written under `dir`: it exists and is writable, or
/// the nearest existing folder above it is.
pub(crate) fn folder_verdict(dir: &Path) -> (Level, String) {
    let mut probe = dir;
    loop {
        if probe.as_os_str().is_empty() {
            probe = Path::new(".");
        }
        if let Ok(meta) = std::fs::metadata(probe) {
            if !meta.is_dir() {
                return (Level::Error, format!("{} is not a folder", probe.display()));
            }
            if meta.permissions().readonly() {
                return (Level::Error, format!("{} is read-only", probe.display()));
            }
            return if probe == dir {
                (Level::Ok, "folder exists".into())
            } else {
                (
                    Level::Ok,
                    format!("would be created under {}", probe.display()),
                )
            };
        }
        match probe.parent() {
            Some(parent) => probe = parent,
            None => return (Level::Error, format!("no folder above {}", dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_judged_by_the_nearest_existing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(folder_verdict(dir.path()).0, Level::Ok);
        let (level, text) = folder_verdict(&dir.path().join("a/b"));
        assert_eq!(level, Level::Ok);
        assert!(text.starts_with("would be created under"), "{text}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert_eq!(folder_verdict(&file.join("sub")).0, Level::Error);
    }
}
