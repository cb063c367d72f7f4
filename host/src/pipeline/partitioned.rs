//! `[aggregate] partitioned = true`: one aggregator instance per input
//! partition (a *lane*), each checkpointed on its own, with its partition's
//! position, to a compacted state topic. The hosts of one consumer group share
//! the input topic this way: when the group moves a partition, the host that
//! gets it restores that lane from the topic and continues where the lane's last
//! checkpoint left off, and a host that loses one stops writing for it.
//!
//! Lanes follow the consumer's assignment, which librdkafka changes only while
//! the source polls; the pipeline syncs the lanes right after every poll, so a
//! lane is never checkpointed after its partition was taken away.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::stage::{Call, Stage, run_stage};
use super::watermark::EventClock;
use super::{PipelineError, tick_stage};
use crate::kafka::state_topic::StateTopic;
use crate::record::{self, Batch, RecordView};
use crate::runtime::{AsyncInstance, GuestEnv, Limits, Plugin, PluginInstance};
use crate::sinks::parquet::ParquetSinkConfig;
use crate::sinks::{DlqEntry, ParquetSink, Sink};
use crate::sources::KafkaSource;
use crate::sources::kafka::{offsets_in, position_of};
use crate::state::{Checkpoint, StageState};

/// The least event-time progress between two ticks inside a batch.
const MIN_TICK_STEP_MS: i64 = 1_000;

/// Cuts `records` after each one that moves the newest event time more than
/// `step` past the newest at the previous cut (`newest` before the first).
fn split_by_event_time(records: Batch, mut newest: i64, step: i64) -> Vec<Batch> {
    let mut cuts = Vec::new();
    let mut basis = newest;
    for r in records.iter() {
        newest = newest.max(r.timestamp_ms());
        if newest.saturating_sub(basis) > step {
            cuts.push(r.index() + 1);
            basis = newest;
        }
    }
    if cuts.last() != Some(&records.len()) {
        cuts.push(records.len());
    }
    if cuts.len() == 1 {
        return vec![records];
    }
    let mut start = 0;
    cuts.into_iter()
        .map(|end| {
            let chunk = records.select(start..end);
            start = end;
            chunk
        })
        .collect()
}

/// Labels of a lane's saved parts, as in the local checkpoint file.
const AGGREGATE: &str = "aggregate";
const EVENT_TIMES: &str = "aggregate.event_times";
const PARQUET: &str = "sink.parquet";
const HOST: &str = "weir";

/// One partition's aggregator, event clock and Parquet files.
pub(super) struct Lane {
    pub(super) stage: Stage,
    pub(super) clock: EventClock,
    /// The lane's own Parquet sink: files named for the partition, so a lane's
    /// restore removes only what its own checkpoint does not cover.
    pub(super) parquet: Option<ParquetSink>,
    /// The lane's checkpoint count (names its Parquet files).
    sequence: u64,
}

/// What a new lane is made of.
pub(super) struct LaneSpec {
    pub(super) plugin: Arc<Plugin>,
    pub(super) config_json: String,
    pub(super) limits: Limits,
    pub(super) allowed_lateness_ms: i64,
    pub(super) parquet: Option<ParquetSinkConfig>,
}

/// Every lane this host holds, and where their state goes.
pub(super) struct Lanes {
    connector: String,
    input_topic: String,
    state: StateTopic,
    spec: LaneSpec,
    source_cluster: Option<String>,
    pub(super) lanes: BTreeMap<i32, Lane>,
}

impl Lanes {
    pub(super) fn new(
        connector: &str,
        input_topic: &str,
        state: StateTopic,
        spec: LaneSpec,
        source_cluster: Option<String>,
    ) -> Self {
        Lanes {
            connector: connector.to_string(),
            input_topic: input_topic.to_string(),
            state,
            spec,
            source_cluster,
            lanes: BTreeMap::new(),
        }
    }

    /// The state topic key of a partition's lane.
    fn key(&self, partition: i32) -> String {
        format!("{}/{}/{partition}", self.connector, self.input_topic)
    }

    fn err(&self, stage: &str, reason: String) -> PipelineError {
        PipelineError::Restore {
            connector: self.connector.clone(),
            stage: stage.to_string(),
            path: format!("state topic `{}`", self.state.topic()),
            reason,
        }
    }

    /// Makes the lanes match the consumer's assignment: lanes of partitions
    /// taken away are dropped (their work since the last checkpoint is redone
    /// by the new holder), new partitions get a lane restored from the state
    /// topic, and the source resumes each one after its lane's checkpoint.
    pub(super) async fn sync(&mut self, source: &mut KafkaSource) -> Result<(), PipelineError> {
        let assigned = source.assigned();
        let gone: Vec<i32> = self
            .lanes
            .keys()
            .copied()
            .filter(|p| !assigned.contains(p))
            .collect();
        for p in gone {
            self.lanes.remove(&p);
            source.forget(p);
            tracing::info!(connector = %self.connector, partition = p, "Partition moved to another member of the group; its lane is closed.");
        }
        let new: Vec<i32> = assigned
            .into_iter()
            .filter(|p| !self.lanes.contains_key(p))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let saved = self
            .state
            .load(&format!("{}/{}/", self.connector, self.input_topic))
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.connector.clone(),
                source,
            })?;
        let mut fresh = Vec::new();
        for p in new {
            let ckpt = match saved.get(&self.key(p)) {
                None => None,
                Some(bytes) => {
                    let c = Checkpoint::from_bytes(bytes)
                        .map_err(|r| self.err(&format!("partition {p}"), r))?;
                    if c.source_cluster.is_some() && c.source_cluster != self.source_cluster {
                        tracing::warn!(connector = %self.connector, partition = p, "The partition's saved state belongs to another Kafka cluster; starting it from scratch.");
                        None
                    } else {
                        Some(c)
                    }
                }
            };
            let lane = self.open(p, ckpt.as_ref()).await?;
            let next = match ckpt.as_ref().and_then(|c| c.position.as_ref()) {
                Some(position) => offsets_in(position, &self.input_topic)
                    .map_err(|e| self.err("position", e.to_string()))?
                    .and_then(|m| m.get(&p).copied()),
                None => None,
            };
            if let Some(next) = next {
                source.resume_partition(p, next);
            }
            tracing::info!(
                connector = %self.connector,
                partition = p,
                restored_sequence = ckpt.as_ref().map(|c| c.sequence),
                resume_at = next,
                "Partition assigned; its lane is open."
            );
            if ckpt.is_none() {
                fresh.push(p);
            }
            self.lanes.insert(p, lane);
        }
        // A lane's Parquet files are named for its run, fixed by a first
        // checkpoint before any file is written: a holder that dies before its
        // next checkpoint leaves files the next holder knows to remove.
        if !fresh.is_empty() {
            let entries = fresh
                .iter()
                .filter_map(|&p| {
                    let lane = self.lanes.get(&p)?;
                    let c = self.lane_checkpoint(p, lane, None, Vec::new());
                    Some((self.key(p), c.to_bytes()))
                })
                .collect::<Vec<_>>();
            self.save(&entries).await?;
        }
        Ok(())
    }

    /// A lane for partition `p`, restored from `ckpt` when there is one.
    async fn open(&mut self, p: i32, ckpt: Option<&Checkpoint>) -> Result<Lane, PipelineError> {
        let inst = PluginInstance::start(
            self.spec.plugin.clone(),
            &self.connector,
            self.spec.config_json.clone(),
            self.spec.limits,
            GuestEnv::Real,
        )
        .map_err(|source| PipelineError::Runtime {
            connector: self.connector.clone(),
            source: Box::new(source),
        })?;
        let mut stage = Stage {
            label: AGGREGATE.into(),
            contract: inst.plugin().contract.to_string(),
            plugin: AsyncInstance::new(inst),
        };
        let mut clock = EventClock::new(self.spec.allowed_lateness_ms);
        let mut parquet = self
            .spec
            .parquet
            .as_ref()
            .map(|cfg| ParquetSink::new(cfg, &format!("{}-p{p}", self.connector)))
            .transpose()
            .map_err(|e| PipelineError::Sink {
                connector: self.connector.clone(),
                source: e.into(),
            })?;
        if let Some(c) = ckpt {
            let (connector, path) = (
                self.connector.clone(),
                format!("state topic `{}`", self.state.topic()),
            );
            let stage_err = move |label: &str, reason: String| PipelineError::Restore {
                connector: connector.clone(),
                stage: format!("partition {p} {label}"),
                path: path.clone(),
                reason,
            };
            if let Some(state) = c
                .stage(AGGREGATE, stage.plugin.name())
                .map_err(|r| stage_err(AGGREGATE, r))?
            {
                let state = state.to_vec();
                stage
                    .plugin
                    .call(move |i| i.restore(state))
                    .await
                    .map_err(|e| stage_err(AGGREGATE, e.to_string()))?;
            }
            if let Ok(Some(times)) = c.stage(EVENT_TIMES, HOST) {
                clock
                    .restore(times)
                    .map_err(|r| stage_err(EVENT_TIMES, r))?;
            }
        }
        if let Some(sink) = &mut parquet {
            let state = ckpt.and_then(|c| c.stage(PARQUET, "parquet").ok().flatten());
            let done = sink
                .recover(state, ckpt.map_or(0, |c| c.sequence))
                .map_err(|e| PipelineError::Sink {
                    connector: self.connector.clone(),
                    source: e.into(),
                })?;
            if done.uncommitted + done.temporary > 0 {
                tracing::info!(connector = %self.connector, partition = p, uncommitted = done.uncommitted, temporary = done.temporary, "Removed the partition's Parquet files its last checkpoint does not cover; their rows are written again.");
            }
        }
        Ok(Lane {
            stage,
            clock,
            parquet,
            sequence: ckpt.map_or(0, |c| c.sequence),
        })
    }

    /// Each partition's records into its lane. With `tick_as_time_moves`
    /// (windowed aggregations), a lane's records are cut wherever their event
    /// time has moved on by the allowed lateness since the last tick, and the
    /// lane is ticked there: which windows are closed when a record arrives
    /// then depends on the partition's own records, not on how the broker cut
    /// them into fetches (a whole partition can come in one batch). Returns
    /// what the lanes emitted, by partition.
    pub(super) async fn update(
        &mut self,
        records: Batch,
        dead: &mut Vec<DlqEntry>,
        tick_as_time_moves: bool,
    ) -> Vec<(i32, Batch)> {
        let mut by_partition: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for r in records.iter() {
            let p = r.origin().map_or(0, |o| o.partition);
            by_partition.entry(p).or_default().push(r.index());
        }
        let by_partition: Vec<(i32, Batch)> = if by_partition.len() == 1 {
            by_partition
                .into_keys()
                .map(|p| (p, records.clone()))
                .collect()
        } else {
            by_partition
                .into_iter()
                .map(|(p, indices)| (p, records.select(indices)))
                .collect()
        };
        let step = self.spec.allowed_lateness_ms.max(MIN_TICK_STEP_MS);
        let mut outputs = Vec::new();
        for (p, part) in by_partition {
            let Some(lane) = self.lanes.get_mut(&p) else {
                continue;
            };
            let chunks = if tick_as_time_moves {
                split_by_event_time(part, lane.clock.latest(), step)
            } else {
                vec![part]
            };
            for chunk in chunks {
                lane.clock.observe(&chunk);
                let (out, _) = run_stage(&mut lane.stage, chunk, dead, Call::Update).await;
                if !out.is_empty() {
                    outputs.push((p, out));
                }
                if tick_as_time_moves {
                    let watermark = lane.clock.watermark(None);
                    if let Some(out) = tick_stage(&self.connector, &mut lane.stage, watermark).await
                        && !out.is_empty()
                    {
                        outputs.push((p, out));
                    }
                }
            }
        }
        outputs
    }

    /// Whether a record belongs to a lane this host holds.
    pub(super) fn holds(&self, r: RecordView<'_>) -> bool {
        r.origin()
            .is_some_and(|o| self.lanes.contains_key(&o.partition))
    }

    /// A lane's Parquet sink wants its rows written.
    pub(super) fn wants_flush(&self) -> bool {
        self.lanes
            .values()
            .any(|l| l.parquet.as_ref().is_some_and(ParquetSink::wants_flush))
    }

    fn lane_checkpoint(
        &self,
        p: i32,
        lane: &Lane,
        next: Option<i64>,
        mut stages: Vec<StageState>,
    ) -> Checkpoint {
        stages.push(StageState {
            stage: EVENT_TIMES.into(),
            plugin: HOST.into(),
            snapshot: lane.clock.snapshot().into(),
        });
        if let Some(s) = &lane.parquet {
            stages.push(StageState {
                stage: PARQUET.into(),
                plugin: "parquet".into(),
                snapshot: s.state().into(),
            });
        }
        Checkpoint {
            sequence: lane.sequence,
            written_ms: record::now_ms(),
            source_cluster: self.source_cluster.clone(),
            output: None,
            position: next.map(|next| position_of(&self.input_topic, BTreeMap::from([(p, next)]))),
            stages,
        }
    }

    /// Checkpoints every lane: the aggregator's snapshot, its Parquet files
    /// written and synced under the lane's next sequence, then the lane's
    /// state with the partition's position (from `positions`) in the state
    /// topic, acknowledged. Afterwards the positions may be committed.
    pub(super) async fn checkpoint(
        &mut self,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<(), PipelineError> {
        let mut entries = Vec::new();
        let parts: Vec<i32> = self.lanes.keys().copied().collect();
        for p in parts {
            let Some(lane) = self.lanes.get_mut(&p) else {
                continue;
            };
            let snapshot = lane
                .stage
                .plugin
                .call(|i| i.snapshot())
                .await
                .map_err(|e| PipelineError::Snapshot {
                    connector: self.connector.clone(),
                    stage: format!("partition {p} {AGGREGATE}"),
                    reason: e.to_string(),
                })?;
            lane.sequence += 1;
            if let Some(sink) = &mut lane.parquet {
                let sequence = lane.sequence;
                tokio::task::block_in_place(|| Sink::flush(sink, sequence)).map_err(|source| {
                    PipelineError::Sink {
                        connector: self.connector.clone(),
                        source,
                    }
                })?;
            }
            let stages = vec![StageState {
                stage: AGGREGATE.into(),
                plugin: lane.stage.plugin.name().to_string(),
                snapshot,
            }];
            let lane = &self.lanes[&p];
            let c = self.lane_checkpoint(p, lane, positions.get(&p).copied(), stages);
            tracing::debug!(connector = %self.connector, partition = p, sequence = c.sequence, position = ?positions.get(&p), "Lane checkpoint.");
            entries.push((self.key(p), c.to_bytes()));
        }
        self.save(&entries).await
    }

    async fn save(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), PipelineError> {
        self.state
            .save(entries)
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.connector.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn at(t: i64) -> Record {
        Record {
            key: None,
            value: None,
            headers: vec![],
            timestamp_ms: t,
            origin: None,
        }
    }

    fn times(chunks: &[Batch]) -> Vec<Vec<i64>> {
        chunks
            .iter()
            .map(|c| c.iter().map(|r| r.timestamp_ms()).collect())
            .collect()
    }

    #[test]
    fn batches_are_cut_where_event_time_moved_a_step() {
        let records = Batch::from_records(&[0, 500, 400, 1_001, 1_500, 900, 2_100, 2_000].map(at));
        let chunks = split_by_event_time(records, 0, 1_000);
        assert_eq!(
            times(&chunks),
            vec![
                vec![0, 500, 400, 1_001],
                vec![1_500, 900, 2_100],
                vec![2_000]
            ]
        );
        // Before any record the first one always starts a chunk of its own.
        let chunks = split_by_event_time(Batch::from_records(&[at(5), at(6)]), i64::MIN, 1_000);
        assert_eq!(times(&chunks), vec![vec![5], vec![6]]);
    }
}
