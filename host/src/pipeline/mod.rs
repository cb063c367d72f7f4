//! The loop: source → plugin stages → aggregator → sinks, one batch at a time.
//! A batch counts as handled once its outputs and DLQ entries are durable; every
//! checkpoint saves the plugins' state with the handled positions, and only then
//! are those positions committed to the source.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::Producer;
use tokio_util::sync::CancellationToken;

use crate::config::{LimitsConfig, Loaded, PluginStage, defaults};
use crate::connectors::OpenContext;
use crate::kafka::KafkaIoError;
use crate::kafka::admin::{TopicSpec, ensure_topics};
use crate::kafka::client::Cluster;
use crate::kafka::state_topic::StateTopic;
use crate::kafka::transaction::Transactions;
use crate::record::{self, Batch, NextOffsets};
use crate::runtime::{
    AsyncInstance, GuestEnv, Limits, Plugin, PluginInstance, Role, Runtime, RuntimeError,
};
use crate::sinks::{Dlq, DlqEntry, Sink, SinkError};
use crate::sources::event_time::EventTimeField;
use crate::sources::{Source, SourceError};
use crate::state::{Checkpoint, CheckpointStore, StateError};
use crate::telemetry::{
    BatchDone, DeadLettered, Emit, RecordsDropped, RecordsRead, RecordsWritten, Triggered,
};

mod checkpoint;
mod landing;
mod partitioned;
mod stage;
mod stats;
mod timing;
mod watermark;

pub use stats::{Latency, RunStats, StopAfter};
pub use timing::{Phase, PhaseTimes};

use checkpoint::{Background, Durable};
use landing::InFlight;
use partitioned::{LaneSpec, Lanes};
use stage::{Call, Stage, run_stage};
use watermark::EventClock;

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
    #[error(
        "connector {connector} registers the Avro schema subject `{subject}` but no schema registry is configured; pass --schema-registry-url, set WEIR_SCHEMA_REGISTRY_URL or `[schema_registry] url`, or run on the embedded broker (which starts one)"
    )]
    NoRegistry { connector: String, subject: String },
    #[error("connector {connector}: schema {schema}: {source}")]
    Registry {
        connector: String,
        schema: String,
        source: crate::registry::client::ClientError,
    },
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
        "connector {connector}: the Parquet sink could not write its files before stopping ({reason}); nothing was committed, so the next start reads those records again"
    )]
    FlushPending { connector: String, reason: String },
    #[error(
        "connector {connector}: cannot checkpoint: {stage} failed to snapshot its state: {reason}"
    )]
    Snapshot {
        connector: String,
        stage: String,
        reason: String,
    },
}

impl PipelineError {
    /// A sink could not write its files (disk full, folder unwritable, a
    /// bucket that refuses writes): worth retrying, nothing else is wrong.
    fn is_sink_io(&self) -> bool {
        matches!(self, PipelineError::Sink { source, .. } if source.is_retryable())
    }
}

/// The aggregator stage and the event-time clock that drives it.
struct Aggregate {
    stage: Stage,
    clock: EventClock,
}

/// When the aggregator (or every lane of a partitioned one) is ticked.
struct Trigger {
    every: Duration,
    /// Also tick after every batch, so the watermark a record is judged late
    /// against never trails the input by more than a batch.
    every_batch: bool,
    next: tokio::time::Instant,
}

/// Where and how often state is saved, and the last sequence number.
struct Checkpoints {
    store: CheckpointStore,
    every: Duration,
    next: tokio::time::Instant,
    sequence: u64,
    source_cluster: Option<String>,
    /// `<cluster id>/<topic>` of the Kafka sink, for a source whose position
    /// is not a Kafka offset (see [`Checkpoint::output`]).
    output: Option<String>,
    /// A checkpoint that failed because a sink could not write: how many
    /// times in a row, and when to try again. Reading pauses meanwhile.
    retry: Option<(u32, tokio::time::Instant)>,
    last_failure: Option<String>,
    /// With `exactly_once`, checkpoints are Kafka transactions (state in the
    /// state topic, offsets in the transaction) instead of the file.
    transactions: Option<Transactions>,
    /// A checkpoint on its way to disk while the record loop goes on.
    background: Option<Background>,
}

impl Checkpoints {
    /// Why `ckpt` belongs to another cluster or topic than this run's, if it
    /// does: positions name another cluster's offsets, or a generator's state
    /// describes records another cluster never received. Where either side is
    /// unknown (an older checkpoint, a cluster that did not say its id), the
    /// checkpoint is trusted.
    fn foreign(&self, ckpt: &Checkpoint) -> Option<String> {
        let differ = |saved: &Option<String>, now: &Option<String>| match (saved, now) {
            (Some(saved), Some(now)) if saved != now => Some((saved.clone(), now.clone())),
            _ => None,
        };
        if let Some((saved, now)) = differ(&ckpt.source_cluster, &self.source_cluster) {
            return Some(format!(
                "was written for source cluster {saved}, but this run reads from cluster {now}"
            ));
        }
        differ(&ckpt.output, &self.output).map(|(saved, now)| {
            format!("was written for output to {saved}, but this run writes to {now}")
        })
    }
}

/// A connector ready to run.
pub struct Pipeline {
    name: String,
    source: Box<dyn Source>,
    stages: Vec<Stage>,
    aggregate: Option<Aggregate>,
    trigger: Option<Trigger>,
    /// A partitioned aggregator's lanes, one per partition this host holds
    /// (instead of `aggregate`).
    lanes: Option<Lanes>,
    sinks: Vec<Box<dyn Sink>>,
    dlq: Dlq,
    /// Batches whose outputs await the broker's acknowledgement.
    in_flight: InFlight,
    checkpoints: Checkpoints,
    cluster: Cluster,
    /// The Kafka sink's topic, where a generator's delivered records are looked up.
    sink_topic: Option<String>,
    /// Records read so far, for a progress display.
    read_total: Arc<std::sync::atomic::AtomicU64>,
    /// Where each record's event time is read from, when not its timestamp.
    event_time: Option<EventTimeField>,
}

/// Registers every subject of the resolved plan, each checked first
/// against what the subject holds (the registry's own compatibility level):
/// an incompatible schema stops the connector before anything is produced.
async fn register_schemas(
    loaded: &Loaded,
    registry: Option<&str>,
) -> Result<std::collections::BTreeMap<String, u32>, PipelineError> {
    let mut ids = std::collections::BTreeMap::new();
    for s in &loaded.subjects {
        let url = registry.ok_or_else(|| PipelineError::NoRegistry {
            connector: loaded.name.clone(),
            subject: s.subject.clone(),
        })?;
        let registered = async {
            let client = crate::registry::client::RegistryClient::new(url)?;
            client.check_compatible(&s.subject, &s.schema.text).await?;
            client.register(&s.subject, &s.schema.text).await
        };
        let id = registered.await.map_err(|source| PipelineError::Registry {
            connector: loaded.name.clone(),
            schema: s.schema.path.display().to_string(),
            source,
        })?;
        tracing::info!(connector = %loaded.name, subject = %s.subject, id, "Value schema registered.");
        ids.insert(s.subject.clone(), id);
    }
    Ok(ids)
}

/// Loads a plugin, checks its contract and role, and calls `init` with its
/// connector config: what `run` does first and `validate` does only.
pub fn start_plugin(
    runtime: &Runtime,
    connector: &str,
    path: &Path,
    role: Role,
    config_json: String,
    limits: LimitsConfig,
) -> Result<PluginInstance, PipelineError> {
    let rt_err = |source| PipelineError::Runtime {
        connector: connector.to_string(),
        source: Box::new(source),
    };
    let plugin = Plugin::load(runtime, path, role).map_err(rt_err)?;
    let limits = Limits::resolve(limits, plugin.language);
    PluginInstance::start(
        Arc::new(plugin),
        connector,
        config_json,
        limits,
        GuestEnv::Real,
    )
    .map_err(rt_err)
}

impl Pipeline {
    /// Loads plugins, creates topics and clients, restores the last checkpoint
    /// from `state_dir`: everything that can fail before data moves.
    /// `registry` is the schema registry URL an Avro sink registers with.
    pub async fn build(
        loaded: &Loaded,
        runtime: &Runtime,
        bootstrap: &str,
        registry: Option<&str>,
        state_dir: &Path,
    ) -> Result<Pipeline, PipelineError> {
        let name = loaded.name.clone();
        let c = &loaded.connector;
        let kafka_err = |source| PipelineError::Kafka {
            connector: name.clone(),
            source,
        };
        let limits = c.limits;
        let mut settings = c.kafka.clone();
        let whole = c.source.connector().batches_arrive_whole();
        settings.linger_ms = Some(settings.linger_ms.unwrap_or(defaults::linger_ms(whole)));
        let cluster = Cluster {
            bootstrap: bootstrap.to_string(),
            settings,
        };

        let start = |stage: &PluginStage| {
            let inst = start_plugin(
                runtime,
                &name,
                &stage.path,
                stage.role,
                stage.config_json.clone(),
                limits,
            )?;
            Ok::<_, PipelineError>(Stage {
                label: stage.label.clone(),
                contract: inst.plugin().contract.to_string(),
                plugin: AsyncInstance::new(inst),
            })
        };

        let mut source_plugin = None;
        let mut stages = Vec::new();
        let mut aggregate = None;
        for stage in &loaded.plugins {
            match (stage.role, &c.aggregate) {
                (Role::Source, _) => source_plugin = Some(start(stage)?.plugin),
                (Role::Transform, _) => stages.push(start(stage)?),
                (Role::Aggregator, Some(a)) if !a.partitioned => {
                    aggregate = Some(Aggregate {
                        stage: start(stage)?,
                        clock: EventClock::new(a.allowed_lateness_ms),
                    });
                }
                // A partitioned aggregator runs in lanes (below).
                (Role::Aggregator, _) => {}
            }
        }
        let trigger = c.aggregate.as_ref().map(|a| {
            let every = Duration::from_millis(a.trigger_interval_ms);
            Trigger {
                every,
                every_batch: a.tick_every_batch,
                next: tokio::time::Instant::now() + every,
            }
        });

        let topics: Vec<TopicSpec> = loaded.topics.iter().map(|t| t.spec.clone()).collect();
        ensure_topics(&cluster, &topics).await.map_err(kafka_err)?;
        let transactional_id = c.sink.kafka.as_ref().filter(|k| k.exactly_once).map(|k| {
            k.transactional_id
                .clone()
                .unwrap_or_else(|| format!("weir-{name}"))
        });
        let producer = match &transactional_id {
            Some(id) => cluster.transactional_producer(id),
            None => cluster.producer(),
        }
        .map_err(kafka_err)?;
        Cluster::connect(&producer, &loaded.dlq_topic);
        let schema_ids = register_schemas(loaded, registry).await?;

        let mut cx = OpenContext {
            name: &name,
            cluster: &cluster,
            producer: &producer,
            plugin: source_plugin,
            schema_ids: &schema_ids,
            exactly_once: transactional_id.is_some(),
        };
        let mut source =
            c.source
                .connector()
                .open(&mut cx)
                .map_err(|source| PipelineError::Source {
                    connector: name.clone(),
                    source,
                })?;
        let source_cluster = source.cluster_id();
        let output = match (source.as_kafka(), &c.sink.kafka) {
            (None, Some(k)) => {
                let id = tokio::task::block_in_place(|| {
                    producer.client().fetch_cluster_id(Duration::from_secs(10))
                });
                id.map(|id| format!("{id}/{}", k.topic))
            }
            _ => None,
        };
        let lanes = match (
            &c.aggregate,
            loaded.plugin("aggregate"),
            &loaded.state_topic,
            source.as_kafka(),
        ) {
            (Some(a), Some(stage), Some(state_topic), Some(k)) if a.partitioned => {
                let plugin =
                    Plugin::load(runtime, &stage.path, Role::Aggregator).map_err(|source| {
                        PipelineError::Runtime {
                            connector: name.clone(),
                            source: Box::new(source),
                        }
                    })?;
                // Fail on a bad config now, not when the first partition arrives.
                start(stage)?;
                Some(Lanes::new(
                    &name,
                    k.topic(),
                    StateTopic::new(cluster.clone(), producer.clone(), state_topic.clone()),
                    LaneSpec {
                        limits: Limits::resolve(limits, plugin.language),
                        plugin: Arc::new(plugin),
                        config_json: stage.config_json.clone(),
                        allowed_lateness_ms: a.allowed_lateness_ms,
                        parquet: c.sink.parquet.clone(),
                    },
                    source_cluster.clone(),
                ))
            }
            _ => None,
        };
        let mut sinks = Vec::new();
        for sink in c.sink.connectors() {
            // Partitioned lanes each write their own Parquet files.
            if lanes.is_some() && sink.kind() == "parquet" {
                continue;
            }
            sinks.push(sink.open(&cx).map_err(|source| PipelineError::Sink {
                connector: name.clone(),
                source,
            })?);
        }
        let transactions = match (&transactional_id, &loaded.state_topic) {
            (Some(_), Some(topic)) => Some(
                Transactions::start(
                    producer.clone(),
                    StateTopic::new(cluster.clone(), producer.clone(), topic.clone()),
                    name.clone(),
                    cluster.bootstrap.clone(),
                )
                .map_err(kafka_err)?,
            ),
            _ => None,
        };
        let dlq = Dlq::new(producer, loaded.dlq_topic.clone(), name.clone());
        let every = Duration::from_millis(c.checkpoint.interval_ms);
        let mut pipeline = Pipeline {
            in_flight: InFlight::new(&name),
            name,
            source,
            stages,
            aggregate,
            trigger,
            lanes,
            sinks,
            dlq,
            checkpoints: Checkpoints {
                store: CheckpointStore::new(state_dir, &loaded.name),
                every,
                next: tokio::time::Instant::now() + every,
                sequence: 0,
                source_cluster,
                output,
                retry: None,
                last_failure: None,
                transactions,
                background: None,
            },
            sink_topic: c.sink.kafka.as_ref().map(|k| k.topic.clone()),
            read_total: Default::default(),
            event_time: c
                .source
                .kafka()
                .and_then(|k| k.event_time.as_deref())
                .map(EventTimeField::new),
            cluster,
        };
        // Lanes restore themselves from the state topic as partitions arrive.
        let restored = pipeline.lanes.is_some() || pipeline.restore().await?;
        let named_by_checkpoint = pipeline
            .sinks
            .iter()
            .any(|s| s.names_output_by_checkpoint());
        if (!restored && named_by_checkpoint) || pipeline.checkpoints.transactions.is_some() {
            // Files are named for the checkpoint that covers them: the first
            // checkpoint fixes the run they belong to before any is written.
            // A first transaction shows now, not with data in flight, whether
            // the broker supports transactions.
            pipeline
                .checkpoint(&mut RunStats::default(), Durable::Now)
                .await?;
        }
        Ok(pipeline)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records read so far, updated as the connector runs.
    pub fn records_read(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.read_total.clone()
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
        let mut at_end_since = None;
        tracing::info!(
            connector = %self.name,
            dlq = self.dlq.topic(),
            checkpoint = %self.checkpoint_place(),
            exactly_once = self.checkpoints.transactions.is_some(),
            "Pipeline running."
        );
        loop {
            // A sink that cannot write holds the input back until it can.
            if let Some((_, at)) = self.checkpoints.retry {
                tokio::select! {
                    _ = stop_token.cancelled() => break,
                    _ = tokio::time::sleep_until(at) => {}
                }
                self.checkpoint(&mut stats, Durable::Later).await?;
                continue;
            }
            let remaining = stop.max_records.map(|m| m.saturating_sub(stats.read));
            if remaining == Some(0) || stop_token.is_cancelled() {
                break;
            }
            let max = remaining.map_or(batch_cap, |r| r.min(batch_cap as u64) as usize);
            let next = self.source.next_batch(max, &stop_token).await;
            let mut input = match next.map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })? {
                None => {
                    input_ended = true;
                    break;
                }
                Some(b) => b,
            };
            if !input.is_empty()
                && let Some(fill) = self.source.last_fill()
            {
                stats
                    .phases
                    .record(&self.name, Phase::SourceWait, fill.waited);
                stats
                    .phases
                    .record(&self.name, Phase::BatchFill, fill.filling);
            }
            if self.lanes.is_some() {
                // Partitions may move: what this host handled must be settled first.
                self.in_flight
                    .land_all(self.source.as_mut(), &mut stats)
                    .await?;
            }
            if let (Some(lanes), Some(k)) = (&mut self.lanes, self.source.as_kafka()) {
                lanes.sync(k).await?;
                // Fetched before its partition moved away (the new holder reads
                // it), or below where the partition's restored lane resumes.
                let next = k.positions();
                input.retain(|r| {
                    lanes.holds(r)
                        && r.origin().is_some_and(|o| {
                            o.offset >= next.get(&o.partition).copied().unwrap_or(0)
                        })
                });
            }
            let idle = input.is_empty();
            self.in_flight
                .land_ready(self.source.as_mut(), &mut stats)
                .await?;
            self.advance_background(&mut stats).await?;
            if !idle {
                self.handle(input, &mut stats).await?;
                if !self.source.can_replay() {
                    self.in_flight
                        .land_all(self.source.as_mut(), &mut stats)
                        .await?;
                }
                if self.trigger.as_ref().is_some_and(|t| t.every_batch) {
                    self.tick(false, &mut stats).await?;
                }
            }
            let now = tokio::time::Instant::now();
            if self.trigger.as_ref().is_some_and(|t| now >= t.next) {
                self.trigger(false, &mut stats).await?;
                self.checkpoint(&mut stats, Durable::Later).await?;
            } else if now >= self.checkpoints.next
                || self.sinks.iter().any(|s| s.wants_flush())
                || self.lanes.as_ref().is_some_and(Lanes::wants_flush)
            {
                self.checkpoint(&mut stats, Durable::Later).await?;
            }
            // A bounded run: the end of the topic is the end of the input, once
            // it has held for a second of polling that brought nothing (a
            // broker's end offsets can lag what a fetch still brings).
            if stop.at_end && idle && self.at_end()? && self.holds_every_partition() {
                let since = *at_end_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= Duration::from_secs(1) {
                    tracing::info!(connector = %self.name, "Reached the end of the source.");
                    input_ended = true;
                    break;
                }
            } else {
                at_end_since = None;
            }
        }
        // A source that ended has nothing more to say: every window may close.
        self.trigger(input_ended, &mut stats).await?;
        self.checkpoint(&mut stats, Durable::Now).await?;
        if self.checkpoints.retry.is_some() {
            return Err(PipelineError::FlushPending {
                connector: self.name.clone(),
                reason: self.checkpoints.last_failure.clone().unwrap_or_default(),
            });
        }
        self.source
            .close()
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
            dropped = stats.dropped,
            dlq_reasons = ?stats.dlq_reasons,
            checkpoints = stats.checkpoints,
            latency_p50_ms = stats.latency.percentile(50.0),
            latency_p99_ms = stats.latency.percentile(99.0),
            latency_p999_ms = stats.latency.percentile(99.9),
            "Pipeline stopped."
        );
        stats.phases.log(&self.name);
        Ok(stats)
    }

    /// One batch through every stage and the aggregator, into the sinks and the
    /// DLQ; then its records count as handled.
    async fn handle(&mut self, input: Batch, stats: &mut RunStats) -> Result<(), PipelineError> {
        stats.batches += 1;
        stats.read += input.len() as u64;
        self.read_total
            .fetch_add(input.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let started = std::time::Instant::now();
        RecordsRead {
            connector: &self.name,
            count: input.len() as u64,
        }
        .emit();
        // Only the origins are needed to commit; the records move into the stages.
        let origins = input.next_offsets();
        self.source.mark_in_flight(&origins);
        let mut dead = Vec::new();
        let mut records = input;
        if let Some(field) = &self.event_time {
            stamp_event_times(field, &mut records, &mut dead);
        }
        let mut dropped = Vec::new();
        for stage in &mut self.stages {
            if records.is_empty() {
                break;
            }
            let called = std::time::Instant::now();
            let (out, n) = run_stage(stage, records, &mut dead, Call::Process).await;
            let phase = Phase::Plugin(stage.label.clone());
            stats.phases.record(&self.name, phase, called.elapsed());
            records = out;
            dropped.push((stage.label.clone(), n));
        }
        self.source.label_outputs(&mut records);
        if let Some(agg) = &mut self.aggregate
            && !records.is_empty()
        {
            agg.clock.observe(&records);
            let called = std::time::Instant::now();
            // An aggregator absorbs its inputs into state: none of them is "dropped".
            (records, _) = run_stage(&mut agg.stage, records, &mut dead, Call::Update).await;
            let phase = Phase::Plugin(agg.stage.label.clone());
            stats.phases.record(&self.name, phase, called.elapsed());
        }
        let mut lane_outputs = Vec::new();
        if let Some(lanes) = &mut self.lanes {
            let every_batch = self.trigger.as_ref().is_some_and(|t| t.every_batch);
            let input = std::mem::take(&mut records);
            lane_outputs = lanes.update(input, &mut dead, every_batch).await;
        }
        for (stage, n) in dropped.into_iter().filter(|(_, n)| *n > 0) {
            stats.dropped += n;
            RecordsDropped {
                connector: &self.name,
                stage: &stage,
                count: n,
            }
            .emit();
        }
        let delivering = std::time::Instant::now();
        for (p, out) in lane_outputs {
            self.deliver(&out, &[], Some(p), Vec::new(), stats).await?;
        }
        self.deliver(&records, &dead, None, origins, stats).await?;
        stats
            .phases
            .record(&self.name, Phase::Deliver, delivering.elapsed());
        BatchDone {
            connector: &self.name,
            seconds: started.elapsed().as_secs_f64(),
        }
        .emit();
        Ok(())
    }

    /// Writes outputs to every sink (and to partition `lane`'s own Parquet
    /// sink) and rejected records to the DLQ; the input `origins` count as
    /// handled once all of it is durable (see [`landing`]).
    async fn deliver(
        &mut self,
        records: &Batch,
        dead: &[DlqEntry],
        lane: Option<i32>,
        origins: NextOffsets,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        let mut refused = Vec::new();
        let mut reports = Vec::new();
        let lane_sink = match (&mut self.lanes, lane) {
            (Some(l), Some(p)) => l.lanes.get_mut(&p).and_then(|l| l.parquet.as_mut()),
            _ => None,
        };
        let sinks = self.sinks.iter_mut().map(|s| s.as_mut() as &mut dyn Sink);
        for sink in sinks.chain(lane_sink.map(|s| s as &mut dyn Sink)) {
            let (rejected, acks) =
                sink.send(records)
                    .await
                    .map_err(|source| PipelineError::Sink {
                        connector: self.name.clone(),
                        source,
                    })?;
            reports.extend(acks);
            let stage = format!("sink.{}", sink.kind());
            refused.extend(rejected.into_iter().map(|(i, why)| {
                DlqEntry::from_host(records.get(i).to_record(), why, &stage, sink.kind())
            }));
        }
        let written = records.len().saturating_sub(refused.len());
        let dead = if refused.is_empty() {
            std::borrow::Cow::Borrowed(dead)
        } else {
            refused.extend_from_slice(dead);
            std::borrow::Cow::Owned(refused)
        };
        let dlq_acks = self
            .dlq
            .send(&dead)
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.name.clone(),
                source,
            })?;
        reports.extend(dlq_acks);
        stats.written += written as u64;
        stats.dead_lettered += dead.len() as u64;
        let timestamps = records
            .iter()
            .filter(|r| r.origin().is_some())
            .map(|r| r.timestamp_ms())
            .collect();
        self.in_flight
            .push(reports, origins, timestamps, self.source.as_mut(), stats);
        RecordsWritten {
            connector: &self.name,
            count: written as u64,
        }
        .emit();
        for e in dead.iter() {
            for code in e.counted_codes() {
                *stats.dlq_reasons.entry(code.to_string()).or_default() += 1;
                DeadLettered {
                    connector: &self.name,
                    stage: &e.stage,
                    reason: code,
                }
                .emit();
            }
        }
        Ok(())
    }

    /// The processing-time trigger: a tick, and the next one an interval away.
    async fn trigger(
        &mut self,
        input_ended: bool,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        if let Some(t) = &mut self.trigger {
            t.next = tokio::time::Instant::now() + t.every;
        }
        self.tick(input_ended, stats).await
    }

    /// Ticks the aggregator with the current watermark (or, when the input has
    /// ended, one past every event) and delivers what it emits.
    async fn tick(&mut self, input_ended: bool, stats: &mut RunStats) -> Result<(), PipelineError> {
        if let Some(lanes) = &mut self.lanes {
            // Each lane's clock sees one partition: its own watermark.
            let mut outputs = Vec::new();
            for (&p, lane) in &mut lanes.lanes {
                let watermark = if input_ended {
                    i64::MAX
                } else {
                    lane.clock.watermark(None)
                };
                if let Some(out) = tick_stage(&self.name, &mut lane.stage, watermark).await {
                    outputs.push((p, out));
                }
            }
            stats.triggers += 1;
            Triggered {
                connector: &self.name,
                watermark_ms: None,
            }
            .emit();
            for (p, out) in outputs {
                self.deliver(&out, &[], Some(p), Vec::new(), stats).await?;
            }
            return Ok(());
        }
        let Some(agg) = &mut self.aggregate else {
            return Ok(());
        };
        let watermark = if input_ended {
            i64::MAX
        } else {
            agg.clock
                .watermark(self.source.live_partitions().as_deref())
        };
        let output = tick_stage(&self.name, &mut agg.stage, watermark).await;
        stats.triggers += 1;
        Triggered {
            connector: &self.name,
            watermark_ms: Some(watermark),
        }
        .emit();
        match output {
            Some(records) => self.deliver(&records, &[], None, Vec::new(), stats).await,
            None => Ok(()),
        }
    }

    /// Whether the source has been handled to its end (a bounded run).
    fn at_end(&mut self) -> Result<bool, PipelineError> {
        self.source
            .at_end()
            .map_err(|source| PipelineError::Source {
                connector: self.name.clone(),
                source,
            })
    }

    /// Whether this host holds every partition it must close windows for
    /// before a bounded run ends: with partitioned state, the last host
    /// standing holds them all (another member would close its own otherwise).
    fn holds_every_partition(&mut self) -> bool {
        let (Some(lanes), Some(k)) = (&self.lanes, self.source.as_kafka()) else {
            return true;
        };
        k.topic_partitions()
            .iter()
            .all(|p| lanes.lanes.contains_key(p))
    }
}

/// Sets each record's timestamp to the event time `field` reads from its
/// value; a record without one goes to `dead` with the reason, as it came in.
fn stamp_event_times(field: &EventTimeField, records: &mut Batch, dead: &mut Vec<DlqEntry>) {
    let mut failed = false;
    for i in 0..records.len() {
        match field.read(records.get(i).value()) {
            Ok(ms) => records.set_timestamp(i, ms),
            Err(why) => {
                let r = records.get(i).to_record();
                dead.push(DlqEntry::from_host(r, why, "source", "weir"));
                failed = true;
            }
        }
    }
    if failed {
        records.retain(|r| field.read(r.value()).is_ok());
    }
}

/// Ticks an aggregator with `watermark`; its output, or `None` (logged) when
/// the tick failed: that trigger's output is lost, the state continues.
async fn tick_stage(connector: &str, stage: &mut Stage, watermark: i64) -> Option<Batch> {
    let now = record::now_ms();
    tracing::debug!(connector, watermark, "Aggregator tick.");
    let emitted = stage.plugin.call(move |p| p.tick(watermark, now)).await;
    let output = match emitted {
        Ok(flat) => {
            Batch::from_flat(flat).map_err(|e| format!("plugin returned a malformed batch: {e}"))
        }
        Err(e) => Err(e.to_string()),
    };
    match output {
        Ok(records) => Some(records),
        Err(reason) => {
            tracing::error!(connector, plugin = stage.plugin.name(), %reason, "Aggregator tick failed; its output for this trigger is lost, its state continues.");
            None
        }
    }
}
