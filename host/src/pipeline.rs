//! The loop: source → plugin stages → aggregator → sinks, one batch at a time.
//! A batch counts as handled once its outputs and DLQ entries are durable; every
//! checkpoint saves the plugins' state with the handled positions, and only then
//! are those positions committed to the source.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weir_sdk::flat::Outcome;

use crate::config::{Loaded, SourceConfig};
use crate::kafka::KafkaIoError;
use crate::kafka::admin::{TopicSpec, ensure_topics};
use crate::kafka::client::Cluster;
use crate::kafka::tail::last_sequence;
use crate::record::{self, Batch, Origin};
use crate::runtime::{
    AsyncInstance, CallError, GuestEnv, Limits, Plugin, PluginInstance, Role, Runtime, RuntimeError,
};
use crate::sinks::{ConsoleSink, Dlq, DlqEntry, KafkaSink, Sink, SinkError};
use crate::sources::generator::{LINEAGE_HEADER, SEQ_HEADER};
use crate::sources::{GeneratorSource, KafkaSource, Source, SourceError};
use crate::state::{Checkpoint, CheckpointStore, StageState, StateError};

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
    #[error("connector {connector}: {source}")]
    State {
        connector: String,
        source: StateError,
    },
    #[error("connector {connector}: cannot restore {stage} from {path}: {reason}")]
    Restore {
        connector: String,
        stage: String,
        path: String,
        reason: String,
    },
    #[error(
        "connector {connector}: cannot checkpoint: {stage} failed to snapshot its state: {reason}"
    )]
    Snapshot {
        connector: String,
        stage: String,
        reason: String,
    },
}

/// When a run stops by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopAfter {
    pub max_records: Option<u64>,
    pub duration: Option<Duration>,
    /// Stop once a Kafka source has handled everything up to the end of its partitions.
    pub at_end: bool,
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub batches: u64,
    /// Records read from the source.
    pub read: u64,
    /// Records handed to the sinks (including an aggregator's reports).
    pub written: u64,
    /// Records sent to the DLQ.
    pub dead_lettered: u64,
    /// DLQ records per reason code (see [`reason_codes`]).
    pub dlq_reasons: BTreeMap<String, u64>,
    /// Aggregator triggers.
    pub triggers: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// A plugin stage between source and sinks.
struct Stage {
    /// `transform[0]`, `aggregate`: names the stage in checkpoints and the DLQ.
    label: String,
    plugin: AsyncInstance,
    contract: String,
}

/// The aggregator stage and the event-time clock that drives it.
struct Aggregate {
    stage: Stage,
    trigger_every: Duration,
    allowed_lateness_ms: i64,
    /// Newest event time seen; the watermark trails it by the allowed lateness.
    max_event_ms: Option<i64>,
    next_trigger: tokio::time::Instant,
}

impl Aggregate {
    fn watermark(&self) -> i64 {
        self.max_event_ms
            .map_or(i64::MIN, |m| m.saturating_sub(self.allowed_lateness_ms))
    }
}

/// Where and how often state is saved, and the last sequence number.
struct Checkpoints {
    store: CheckpointStore,
    every: Duration,
    next: tokio::time::Instant,
    sequence: u64,
    source_cluster: Option<String>,
}

/// A connector ready to run.
pub struct Pipeline {
    name: String,
    source: Source,
    stages: Vec<Stage>,
    aggregate: Option<Aggregate>,
    sinks: Vec<Sink>,
    dlq: Dlq,
    checkpoints: Checkpoints,
    cluster: Cluster,
    /// The Kafka sink's topic, where a generator's delivered records are looked up.
    sink_topic: Option<String>,
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
    PluginInstance::start(Arc::new(plugin), connector, json, limits, GuestEnv::Real).map_err(rt_err)
}

impl Pipeline {
    /// Loads plugins, creates topics and clients, restores the last checkpoint
    /// from `state_dir`: everything that can fail before data moves.
    pub async fn build(
        loaded: &Loaded,
        runtime: &Runtime,
        bootstrap: &str,
        state_dir: &Path,
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
        let stage = |label: String, inst: PluginInstance| Stage {
            label,
            contract: inst.plugin().contract.to_string(),
            plugin: AsyncInstance::new(inst),
        };

        let mut stages = Vec::new();
        for (index, (t, path)) in c
            .transform
            .iter()
            .zip(&loaded.transform_plugins)
            .enumerate()
        {
            let inst = start(path, Role::Transform, &t.config)?;
            stages.push(stage(format!("transform[{index}]"), inst));
        }
        let aggregate = match (&c.aggregate, &loaded.aggregate_plugin) {
            (Some(a), Some(path)) => {
                let inst = start(path, Role::Aggregator, &a.config)?;
                let every = Duration::from_millis(a.trigger_interval_ms);
                Some(Aggregate {
                    stage: stage("aggregate".into(), inst),
                    trigger_every: every,
                    allowed_lateness_ms: a.allowed_lateness_ms,
                    max_event_ms: None,
                    next_trigger: tokio::time::Instant::now() + every,
                })
            }
            _ => None,
        };

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
        let every = Duration::from_millis(c.checkpoint.interval_ms);
        let source_cluster = source.cluster_id();
        let mut pipeline = Pipeline {
            name,
            source,
            stages,
            aggregate,
            sinks,
            dlq,
            checkpoints: Checkpoints {
                store: CheckpointStore::new(state_dir, &loaded.name),
                every,
                next: tokio::time::Instant::now() + every,
                sequence: 0,
                source_cluster,
            },
            sink_topic: c.sink.kafka.as_ref().map(|k| k.topic.clone()),
            cluster,
        };
        pipeline.restore().await?;
        Ok(pipeline)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where this connector's checkpoint is written.
    pub fn checkpoint_path(&self) -> &Path {
        self.checkpoints.store.path()
    }

    /// Every plugin with state, by stage label.
    fn stateful(&mut self) -> Vec<(String, &mut AsyncInstance)> {
        let mut out = Vec::new();
        if let Some(p) = self.source.plugin() {
            out.push(("source".to_string(), p));
        }
        for s in &mut self.stages {
            out.push((s.label.clone(), &mut s.plugin));
        }
        if let Some(a) = &mut self.aggregate {
            out.push((a.stage.label.clone(), &mut a.stage.plugin));
        }
        out
    }

    /// Restores the last checkpoint: each plugin's snapshot and the source
    /// positions they cover. A checkpoint taken on another cluster is ignored.
    async fn restore(&mut self) -> Result<(), PipelineError> {
        let state_err = |source| PipelineError::State {
            connector: self.name.clone(),
            source,
        };
        let Some(ckpt) = self.checkpoints.store.load().map_err(state_err)? else {
            return Ok(());
        };
        let path = self.checkpoints.store.path().display().to_string();
        if ckpt.source_cluster.is_some() && ckpt.source_cluster != self.checkpoints.source_cluster {
            tracing::warn!(
                connector = %self.name,
                checkpoint = %path,
                written_for = ?ckpt.source_cluster,
                source_cluster = ?self.checkpoints.source_cluster,
                "The checkpoint belongs to another Kafka cluster; starting from scratch (it will be replaced)."
            );
            return Ok(());
        }
        let name = self.name.clone();
        for (label, plugin) in self.stateful() {
            let restore_err = |reason: String| PipelineError::Restore {
                connector: name.clone(),
                stage: label.clone(),
                path: path.clone(),
                reason,
            };
            let Some(state) = ckpt.stage(&label, plugin.name()).map_err(restore_err)? else {
                continue;
            };
            let state = state.to_vec();
            plugin
                .call(move |p| p.restore(state))
                .await
                .map_err(|e| restore_err(e.to_string()))?;
        }
        self.source.resume_at(&ckpt.positions);
        self.checkpoints.sequence = ckpt.sequence;
        if let (Source::Generator(g), Some(lineage)) = (&mut self.source, &ckpt.lineage) {
            let delivered = match &self.sink_topic {
                Some(topic) => {
                    last_sequence(&self.cluster, topic, LINEAGE_HEADER, lineage, SEQ_HEADER)
                        .await
                        .map_err(|source| PipelineError::Kafka {
                            connector: self.name.clone(),
                            source,
                        })?
                        .unwrap_or(ckpt.generated)
                }
                None => ckpt.generated,
            };
            if delivered > ckpt.generated {
                tracing::info!(
                    connector = %self.name,
                    checkpoint_seq = ckpt.generated,
                    delivered_seq = delivered,
                    "Records past the checkpoint were already delivered; the generator makes them again and they are skipped."
                );
            }
            g.resume(lineage.clone(), ckpt.generated, delivered);
        }
        tracing::info!(
            connector = %self.name,
            checkpoint = %path,
            sequence = ckpt.sequence,
            positions = ?ckpt.positions,
            "Restored state and positions from the last checkpoint."
        );
        Ok(())
    }

    /// Saves every plugin's snapshot with the handled positions, then commits
    /// those positions to the source.
    async fn checkpoint(&mut self, stats: &mut RunStats) -> Result<(), PipelineError> {
        let name = self.name.clone();
        let mut stages = Vec::new();
        for (label, plugin) in self.stateful() {
            let snapshot =
                plugin
                    .call(|p| p.snapshot())
                    .await
                    .map_err(|e| PipelineError::Snapshot {
                        connector: name.clone(),
                        stage: label.clone(),
                        reason: e.to_string(),
                    })?;
            stages.push(StageState {
                stage: label,
                plugin: plugin.name().to_string(),
                snapshot,
            });
        }
        self.checkpoints.sequence += 1;
        let (lineage, generated) = match &self.source {
            Source::Generator(g) => {
                let (l, s) = g.position();
                (Some(l.to_string()), s)
            }
            Source::Kafka(_) => (None, 0),
        };
        let ckpt = Checkpoint {
            sequence: self.checkpoints.sequence,
            written_ms: record::now_ms(),
            source_cluster: self.checkpoints.source_cluster.clone(),
            positions: self.source.positions(),
            lineage,
            generated,
            stages,
        };
        let store = self.checkpoints.store.clone();
        tokio::task::block_in_place(|| store.save(&ckpt)).map_err(|source| {
            PipelineError::State {
                connector: name.clone(),
                source,
            }
        })?;
        self.source
            .commit()
            .map_err(|source| PipelineError::Source {
                connector: name,
                source,
            })?;
        stats.checkpoints += 1;
        metrics::counter!("weir_checkpoints_total", "connector" => self.name.clone()).increment(1);
        self.checkpoints.next = tokio::time::Instant::now() + self.checkpoints.every;
        tracing::debug!(connector = %self.name, sequence = ckpt.sequence, "Checkpoint written.");
        Ok(())
    }

    /// Runs until the source ends, `stop` says so, or `shutdown` is cancelled;
    /// the batch in flight is always finished, then the aggregator is ticked a
    /// last time and a final checkpoint is written and committed.
    pub async fn run(
        mut self,
        stop: StopAfter,
        shutdown: CancellationToken,
    ) -> Result<RunStats, PipelineError> {
        let mut stats = RunStats::default();
        // Sources watch `stop` while they wait, so a call into a plugin is never
        // abandoned half way (that would lose the instance and its batch).
        let stop_token = shutdown.child_token();
        if let Some(d) = stop.duration {
            let t = stop_token.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                t.cancel();
            });
        }
        let batch_cap = 10_000usize;
        let mut input_ended = false;
        tracing::info!(
            connector = %self.name,
            dlq = self.dlq.topic(),
            checkpoint = %self.checkpoints.store.path().display(),
            "Pipeline running."
        );
        loop {
            let remaining = stop.max_records.map(|m| m.saturating_sub(stats.read));
            if remaining == Some(0) || stop_token.is_cancelled() {
                break;
            }
            let max = remaining.map_or(batch_cap, |r| r.min(batch_cap as u64) as usize);
            let next = self.source.next_batch(max, &stop_token).await;
            let input = match next.map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })? {
                None => {
                    input_ended = true;
                    break;
                }
                Some(b) => b,
            };
            let idle = input.is_empty();
            if !idle {
                self.handle(input, &mut stats).await?;
            }
            let now = tokio::time::Instant::now();
            if self
                .aggregate
                .as_ref()
                .is_some_and(|a| now >= a.next_trigger)
            {
                self.trigger(false, &mut stats).await?;
                self.checkpoint(&mut stats).await?;
            } else if now >= self.checkpoints.next {
                self.checkpoint(&mut stats).await?;
            }
            if stop.at_end && idle && self.source.at_end() {
                tracing::info!(connector = %self.name, "Reached the end of the source.");
                break;
            }
        }
        // A source that ended has nothing more to say: every window may close.
        self.trigger(input_ended, &mut stats).await?;
        self.checkpoint(&mut stats).await?;
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
            dlq_reasons = ?stats.dlq_reasons,
            checkpoints = stats.checkpoints,
            "Pipeline stopped."
        );
        Ok(stats)
    }

    /// One batch through every stage and the aggregator, into the sinks and the
    /// DLQ; then its records count as handled.
    async fn handle(&mut self, input: Batch, stats: &mut RunStats) -> Result<(), PipelineError> {
        stats.batches += 1;
        stats.read += input.len() as u64;
        let started = std::time::Instant::now();
        metrics::counter!("weir_records_read_total", "connector" => self.name.clone())
            .increment(input.len() as u64);
        // Only the origins are needed to commit; the records move into the stages.
        let origins: Vec<Origin> = input.iter().filter_map(|r| r.origin.clone()).collect();
        let mut dead = Vec::new();
        let mut records = input;
        for stage in &mut self.stages {
            if records.is_empty() {
                break;
            }
            records = run_stage(stage, records, &mut dead, Call::Process).await;
        }
        if let Some(agg) = &mut self.aggregate
            && !records.is_empty()
        {
            let newest = records.iter().map(|r| r.timestamp_ms).max();
            records = run_stage(&mut agg.stage, records, &mut dead, Call::Update).await;
            agg.max_event_ms = agg.max_event_ms.max(newest);
        }
        self.deliver(&records, &dead, stats).await?;
        self.source.mark_handled(&origins);
        metrics::histogram!("weir_batch_seconds", "connector" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Writes outputs to every sink and rejected records to the DLQ, durably.
    async fn deliver(
        &mut self,
        records: &Batch,
        dead: &[DlqEntry],
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        for sink in &mut self.sinks {
            sink.write(records)
                .await
                .map_err(|source| PipelineError::Sink {
                    connector: self.name.clone(),
                    source,
                })?;
        }
        self.dlq
            .send(dead)
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.name.clone(),
                source,
            })?;
        stats.written += records.len() as u64;
        stats.dead_lettered += dead.len() as u64;
        let connector = self.name.clone();
        metrics::counter!("weir_records_written_total", "connector" => connector.clone())
            .increment(records.len() as u64);
        for e in dead {
            for code in reason_codes(&e.reason) {
                *stats.dlq_reasons.entry(code.to_string()).or_default() += 1;
                metrics::counter!(
                    "weir_dlq_records_total",
                    "connector" => connector.clone(),
                    "stage" => e.stage.clone(),
                    "reason" => code.to_string()
                )
                .increment(1);
            }
        }
        Ok(())
    }

    /// Ticks the aggregator with the current watermark (or, when the input has
    /// ended, one past every event) and delivers what it emits.
    async fn trigger(
        &mut self,
        input_ended: bool,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        let Some(agg) = &mut self.aggregate else {
            return Ok(());
        };
        let watermark = if input_ended {
            i64::MAX
        } else {
            agg.watermark()
        };
        let now = record::now_ms();
        agg.next_trigger = tokio::time::Instant::now() + agg.trigger_every;
        let emitted = agg.stage.plugin.call(move |p| p.tick(watermark, now)).await;
        let output = match emitted {
            Ok(flat) => record::from_flat(&flat, |_| None)
                .map_err(|e| format!("plugin returned a malformed batch: {e}")),
            Err(e) => Err(e.to_string()),
        };
        stats.triggers += 1;
        metrics::counter!("weir_triggers_total", "connector" => self.name.clone()).increment(1);
        metrics::gauge!("weir_watermark_ms", "connector" => self.name.clone())
            .set(watermark.max(0) as f64);
        match output {
            Ok(records) => self.deliver(&records, &[], stats).await,
            Err(reason) => {
                tracing::error!(connector = %self.name, plugin = agg.stage.plugin.name(), %reason, "Aggregator tick failed; its output for this trigger is lost, its state continues.");
                Ok(())
            }
        }
    }
}

/// The failure codes at the start of a DLQ reason (`code[,code…]: message`),
/// which the DLQ is counted by; `rejected` when a plugin gave none.
pub fn reason_codes(reason: &str) -> Vec<&str> {
    let is_code = |c: &str| {
        !c.is_empty()
            && c.len() <= 40
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match reason.split_once(':') {
        Some((head, _)) if head.split(',').all(is_code) => head.split(',').collect(),
        _ => vec!["rejected"],
    }
}

/// Which call a stage gets for a batch.
#[derive(Clone, Copy)]
enum Call {
    Process,
    Update,
}

/// Runs one stage; rejected records (or the whole batch, when the call traps or
/// its outcome does not fit the input) go to `dead`.
async fn run_stage(
    stage: &mut Stage,
    records: Batch,
    dead: &mut Vec<DlqEntry>,
    call: Call,
) -> Batch {
    let flat = record::to_flat(&records);
    let result = stage
        .plugin
        .call(move |p| match call {
            Call::Process => p.process(flat),
            Call::Update => p.update(flat),
        })
        .await
        .map_err(|e| match e {
            CallError::Trap(r) => format!("plugin_trap: plugin trapped: {r}"),
            CallError::Plugin(r) => format!("batch_rejected: plugin rejected the batch: {r}"),
        })
        .and_then(|outcome| {
            split_outcome(&records, outcome)
                .map_err(|r| format!("malformed_outcome: plugin returned a malformed outcome: {r}"))
        });
    let entry = |r: &record::Record, reason: String| DlqEntry {
        record: r.clone(),
        reason,
        stage: stage.label.clone(),
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

#[cfg(test)]
mod tests {
    use super::reason_codes;

    #[test]
    fn reason_codes_come_from_the_prefix() {
        assert_eq!(
            reason_codes("quantity_positive,total_mismatch: quantity is -2"),
            vec!["quantity_positive", "total_mismatch"]
        );
        assert_eq!(reason_codes("late: window closed"), vec!["late"]);
        assert_eq!(reason_codes("record asked to fail"), vec!["rejected"]);
        assert_eq!(reason_codes("Bad thing: x"), vec!["rejected"]);
        assert_eq!(reason_codes("a,,b: x"), vec!["rejected"]);
    }
}
