//! The loop: source → plugin stages → sinks, one batch at a time. A batch's
//! offsets are committed only after its outputs and its DLQ entries are durable.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weir_sdk::flat::Outcome;

use crate::config::{Loaded, SourceConfig};
use crate::kafka::KafkaIoError;
use crate::kafka::admin::{TopicSpec, ensure_topics};
use crate::kafka::client::Cluster;
use crate::record::{self, Batch, Origin};
use crate::runtime::{
    AsyncInstance, CallError, Limits, Plugin, PluginInstance, Role, Runtime, RuntimeError,
};
use crate::sinks::{ConsoleSink, Dlq, DlqEntry, KafkaSink, Sink, SinkError};
use crate::sources::{GeneratorSource, KafkaSource, Source, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("connector {connector}: {source}")]
    Runtime {
        connector: String,
        source: Box<RuntimeError>,
    },
    #[error("connector {connector}: {source}")]
    Kafka {
        connector: String,
        source: KafkaIoError,
    },
    #[error("connector {connector}: source: {source}")]
    Source {
        connector: String,
        source: SourceError,
    },
    #[error("connector {connector}: sink: {source}")]
    Sink {
        connector: String,
        source: SinkError,
    },
    #[error("connector {connector}: the plugin config is not valid JSON: {reason}")]
    PluginConfig { connector: String, reason: String },
}

/// When a run stops by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopAfter {
    pub max_records: Option<u64>,
    pub duration: Option<Duration>,
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub batches: u64,
    /// Records read from the source.
    pub read: u64,
    /// Records handed to the sinks.
    pub written: u64,
    /// Records sent to the DLQ.
    pub dead_lettered: u64,
}

/// A plugin stage between source and sinks.
struct Stage {
    index: usize,
    plugin: AsyncInstance,
    contract: String,
}

/// A connector ready to run.
pub struct Pipeline {
    name: String,
    source: Source,
    stages: Vec<Stage>,
    sinks: Vec<Sink>,
    dlq: Dlq,
}

/// Loads a plugin, checks its contract and role, and calls `init` with its
/// connector config: what `run` does first and `validate` does only.
pub fn start_plugin(
    runtime: &Runtime,
    connector: &str,
    path: &Path,
    role: Role,
    config: &toml::Table,
    limits: Limits,
) -> Result<PluginInstance, PipelineError> {
    let rt_err = |source| PipelineError::Runtime {
        connector: connector.to_string(),
        source: Box::new(source),
    };
    let plugin = Plugin::load(runtime, path, role).map_err(rt_err)?;
    let json = serde_json::to_string(config).map_err(|e| PipelineError::PluginConfig {
        connector: connector.to_string(),
        reason: e.to_string(),
    })?;
    PluginInstance::start(Arc::new(plugin), connector, json, limits).map_err(rt_err)
}

impl Pipeline {
    /// Loads plugins, creates topics and clients: everything that can fail
    /// before data moves.
    pub async fn build(
        loaded: &Loaded,
        runtime: &Runtime,
        bootstrap: &str,
    ) -> Result<Pipeline, PipelineError> {
        let name = loaded.name.clone();
        let c = &loaded.connector;
        let kafka_err = |source| PipelineError::Kafka {
            connector: name.clone(),
            source,
        };
        let limits = Limits::from(c.limits);
        let cluster = Cluster {
            bootstrap: bootstrap.to_string(),
            settings: c.kafka.clone(),
        };

        let start = |path: &Path, role: Role, config: &toml::Table| {
            start_plugin(runtime, &name, path, role, config, limits)
        };

        let mut stages = Vec::new();
        for (index, (t, path)) in c
            .transform
            .iter()
            .zip(&loaded.transform_plugins)
            .enumerate()
        {
            let inst = start(path, Role::Transform, &t.config)?;
            stages.push(Stage {
                index,
                contract: inst.plugin().contract.to_string(),
                plugin: AsyncInstance::new(inst),
            });
        }

        let mut topics = vec![TopicSpec {
            name: loaded.dlq_topic.clone(),
            partitions: 1,
            replication_factor: c.sink.kafka.as_ref().map_or(1, |k| k.replication_factor),
            config: Default::default(),
        }];
        if let Some(k) = &c.sink.kafka {
            topics.push(TopicSpec {
                name: k.topic.clone(),
                partitions: k.partitions,
                replication_factor: k.replication_factor,
                config: k.topic_config.clone(),
            });
        }
        ensure_topics(&cluster, &topics).await.map_err(kafka_err)?;
        let producer = cluster.producer().map_err(kafka_err)?;

        let source = match &c.source {
            SourceConfig::Generator(g) => {
                let path = loaded
                    .source_plugin
                    .as_deref()
                    .unwrap_or(Path::new(&g.plugin));
                let inst = start(path, Role::Source, &g.config)?;
                Source::Generator(GeneratorSource::new(
                    AsyncInstance::new(inst),
                    g.rate_per_sec,
                    g.batch_size,
                    g.max_records,
                ))
            }
            SourceConfig::Kafka(k) => {
                let group = k.group_id.clone().unwrap_or_else(|| name.clone());
                let consumer = cluster.consumer(&group, k.start_from).map_err(kafka_err)?;
                Source::Kafka(
                    KafkaSource::new(consumer, &k.topic, k.batch_size, k.batch_timeout_ms)
                        .map_err(kafka_err)?,
                )
            }
        };

        let mut sinks = Vec::new();
        if let Some(k) = &c.sink.kafka {
            sinks.push(Sink::Kafka(KafkaSink::new(
                producer.clone(),
                k.topic.clone(),
            )));
        }
        if let Some(con) = &c.sink.console {
            sinks.push(Sink::Console(ConsoleSink::new(
                name.clone(),
                con.format,
                con.max_rows,
            )));
        }
        let dlq = Dlq::new(producer, loaded.dlq_topic.clone(), name.clone());
        Ok(Pipeline {
            name,
            source,
            stages,
            sinks,
            dlq,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs until the source ends, `stop` says so, or `shutdown` is cancelled;
    /// the batch in flight is always finished and committed first.
    pub async fn run(
        mut self,
        stop: StopAfter,
        shutdown: CancellationToken,
    ) -> Result<RunStats, PipelineError> {
        let mut stats = RunStats::default();
        let deadline = stop.duration.map(|d| tokio::time::Instant::now() + d);
        let batch_cap = 10_000usize;
        tracing::info!(connector = %self.name, dlq = self.dlq.topic(), "Pipeline running.");
        loop {
            let remaining = stop.max_records.map(|m| m.saturating_sub(stats.read));
            if remaining == Some(0) {
                break;
            }
            let max = remaining.map_or(batch_cap, |r| r.min(batch_cap as u64) as usize);
            let sleep_until_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = sleep_until_deadline => break,
                next = self.source.next_batch(max) => next,
            };
            let input = match next.map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })? {
                None => break,
                Some(b) if b.is_empty() => continue,
                Some(b) => b,
            };
            self.handle(input, &mut stats).await?;
        }
        self.source
            .close()
            .await
            .map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })?;
        tracing::info!(
            connector = %self.name,
            batches = stats.batches,
            read = stats.read,
            written = stats.written,
            dead_lettered = stats.dead_lettered,
            "Pipeline stopped."
        );
        Ok(stats)
    }

    /// One batch through every stage, into the sinks and the DLQ, then commit.
    async fn handle(&mut self, input: Batch, stats: &mut RunStats) -> Result<(), PipelineError> {
        stats.batches += 1;
        stats.read += input.len() as u64;
        // Only the origins are needed to commit; the records move into the stages.
        let origins: Vec<Origin> = input.iter().filter_map(|r| r.origin.clone()).collect();
        let mut dead = Vec::new();
        let mut records = input;
        for stage in &mut self.stages {
            if records.is_empty() {
                break;
            }
            records = run_stage(stage, records, &mut dead).await;
        }
        for sink in &mut self.sinks {
            sink.write(&records)
                .await
                .map_err(|source| PipelineError::Sink {
                    connector: self.name.clone(),
                    source,
                })?;
        }
        self.dlq
            .send(&dead)
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.name.clone(),
                source,
            })?;
        stats.written += records.len() as u64;
        stats.dead_lettered += dead.len() as u64;
        self.source
            .commit(&origins)
            .await
            .map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })
    }
}

/// Runs one stage; rejected records (or the whole batch, when the call traps or
/// its outcome does not fit the input) go to `dead`.
async fn run_stage(stage: &mut Stage, records: Batch, dead: &mut Vec<DlqEntry>) -> Batch {
    let flat = record::to_flat(&records);
    let result = stage
        .plugin
        .call(move |p| p.process(flat))
        .await
        .map_err(|e| match e {
            CallError::Trap(r) => format!("plugin trapped: {r}"),
            CallError::Plugin(r) => format!("plugin rejected the batch: {r}"),
        })
        .and_then(|outcome| {
            split_outcome(&records, outcome)
                .map_err(|r| format!("plugin returned a malformed outcome: {r}"))
        });
    let entry = |r: &record::Record, reason: String| DlqEntry {
        record: r.clone(),
        reason,
        stage: format!("transform[{}]", stage.index),
        plugin: stage.plugin.name().to_string(),
        plugin_contract: stage.contract.clone(),
    };
    match result {
        Ok((output, failures)) => {
            for (i, reason) in failures {
                dead.push(entry(&records[i as usize], reason));
            }
            output
        }
        Err(reason) => {
            tracing::warn!(plugin = stage.plugin.name(), records = records.len(), %reason, "Batch sent to the DLQ.");
            dead.extend(records.iter().map(|r| entry(r, reason.clone())));
            Vec::new()
        }
    }
}

/// The outputs of an outcome (each inheriting its input's origin) and its
/// failures, after checking that every index names an input record.
fn split_outcome(records: &Batch, outcome: Outcome) -> Result<(Batch, Vec<(u32, String)>), String> {
    let in_range = |i: &u32| (*i as usize) < records.len();
    if !outcome.origins.iter().all(in_range)
        || !outcome.failures.iter().all(|(i, _)| in_range(i))
        || outcome.origins.len() != outcome.output.len()
    {
        return Err("outputs name input records that do not exist".into());
    }
    let output = record::from_flat(&outcome.output, |i| {
        records[outcome.origins[i] as usize].origin.clone()
    })
    .map_err(|e| e.to_string())?;
    Ok((output, outcome.failures))
}
