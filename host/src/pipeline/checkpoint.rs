//! Restoring and writing checkpoints: every stateful plugin's snapshot plus the
//! source positions (or a generator's sequence) they cover.

use std::time::Instant;

use tokio::task::JoinHandle;

use super::{Pipeline, PipelineError, RunStats};
use crate::record;
use crate::runtime::AsyncInstance;
use crate::sources::RecoverContext;
use crate::state::{Checkpoint, SourcePosition, StageState, StateError};
use crate::telemetry::{CheckpointDone, Emit};

/// When a checkpoint must be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durable {
    /// Before the call returns: when a run starts and stops.
    Now,
    /// In the background, while the record loop goes on: the checkpoint waits
    /// for the batches handed over before it to land, is written and synced on
    /// another thread, and only then are its positions committed. A restart
    /// before that resumes from the previous checkpoint, as if it never began.
    Later,
}

/// A checkpoint on its way to disk (see [`Durable::Later`]).
pub(super) enum Background {
    /// Waiting for the first `covers` batches handed over to land.
    Landing {
        ckpt: Checkpoint,
        covers: u64,
        started: Instant,
    },
    /// Being written and synced.
    Writing {
        write: JoinHandle<Result<(), StateError>>,
        sequence: u64,
        position: Option<SourcePosition>,
        started: Instant,
    },
}

/// The aggregator's event times per partition, kept by the host itself.
const EVENT_TIMES: &str = "aggregate.event_times";
/// The "plugin" name of state the host keeps for itself.
const HOST: &str = "weir";

impl Pipeline {
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
    /// positions they cover, and removes sink files it does not cover. A
    /// checkpoint taken on another cluster is ignored. Returns whether one was
    /// restored.
    pub(super) async fn restore(&mut self) -> Result<bool, PipelineError> {
        let Some(ckpt) = self.load_checkpoint().await? else {
            self.recover_sinks(None)?;
            return Ok(false);
        };
        let path = self.checkpoint_place();
        if let Some(mismatch) = self.checkpoints.foreign(&ckpt) {
            tracing::warn!(
                connector = %self.name,
                "The checkpoint {path} {mismatch}; starting from scratch (it will be replaced)."
            );
            self.recover_sinks(None)?;
            return Ok(false);
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
        if let Some(agg) = &mut self.aggregate
            && let Ok(Some(times)) = ckpt.stage(EVENT_TIMES, HOST)
        {
            agg.clock
                .restore(times)
                .map_err(|reason| PipelineError::Restore {
                    connector: name.clone(),
                    stage: EVENT_TIMES.into(),
                    path: path.clone(),
                    reason,
                })?;
        }
        if let Some(position) = &ckpt.position {
            let cx = RecoverContext {
                connector: &self.name,
                cluster: &self.cluster,
                sink_topic: self.sink_topic.as_deref(),
            };
            self.source
                .recover(position, &cx)
                .await
                .map_err(|source| PipelineError::Source {
                    connector: self.name.clone(),
                    source,
                })?;
        }
        self.checkpoints.sequence = ckpt.sequence;
        self.recover_sinks(Some(&ckpt))?;
        tracing::info!(
            connector = %self.name,
            checkpoint = %path,
            sequence = ckpt.sequence,
            position = ckpt.position.as_ref().map(|p| String::from_utf8_lossy(&p.bytes).into_owned()),
            "Restored state and positions from the last checkpoint."
        );
        Ok(true)
    }

    /// Sink files the checkpoint does not cover (or temporary files, without
    /// one) are removed; their rows come again from the restored state.
    fn recover_sinks(&mut self, ckpt: Option<&Checkpoint>) -> Result<(), PipelineError> {
        for sink in &mut self.sinks {
            let kind = sink.kind();
            let state = ckpt.and_then(|c| c.stage(&sink_label(kind), kind).ok().flatten());
            let sequence = ckpt.map_or(0, |c| c.sequence);
            sink.recover(state, sequence)
                .map_err(|source| PipelineError::Sink {
                    connector: self.name.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Takes a checkpoint. When the Parquet sink cannot write (a full or
    /// unwritable disk), nothing is saved or committed, the rows stay buffered,
    /// and a retry is scheduled with a growing wait (1 s … 30 s); the run loop
    /// stops reading until it succeeds. With [`Durable::Later`], a checkpoint
    /// still on its way to disk makes this one wait for the next chance.
    pub(super) async fn checkpoint(
        &mut self,
        stats: &mut RunStats,
        durable: Durable,
    ) -> Result<(), PipelineError> {
        if durable == Durable::Later && self.checkpoints.background.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let result = self.try_checkpoint(stats, durable).await;
        if durable == Durable::Later {
            // The loop's pause; the checkpoints at start and stop hold no record back.
            let phase = super::Phase::Checkpoint;
            stats.phases.record(&self.name, phase, started.elapsed());
        }
        match result {
            Ok(()) => {
                if self.checkpoints.retry.take().is_some() {
                    tracing::info!(connector = %self.name, "The Parquet sink writes again; reading resumes.");
                }
                Ok(())
            }
            Err(e) if e.is_sink_io() => {
                let failures = self.checkpoints.retry.map_or(1, |(n, _)| n + 1);
                let wait = std::time::Duration::from_secs(1 << failures.min(5))
                    .min(std::time::Duration::from_secs(30));
                self.checkpoints.retry = Some((failures, tokio::time::Instant::now() + wait));
                self.checkpoints.last_failure = Some(e.to_string());
                tracing::warn!(
                    connector = %self.name,
                    error = %e,
                    retry_in_s = wait.as_secs(),
                    "The Parquet sink cannot write: reading pauses and the checkpoint is retried; rows stay buffered, nothing is committed."
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Snapshots every plugin at this batch boundary with the positions it
    /// covers, then makes that durable and commits the positions: at once, or
    /// (the file store, [`Durable::Later`]) once the batches handed over
    /// before it have landed, written on another thread while the loop goes on.
    async fn try_checkpoint(
        &mut self,
        stats: &mut RunStats,
        durable: Durable,
    ) -> Result<(), PipelineError> {
        self.checkpoints.next = tokio::time::Instant::now() + self.checkpoints.every;
        // Partitioned lanes and transactions commit what has landed, as one step.
        let now = durable == Durable::Now
            || self.lanes.is_some()
            || self.checkpoints.transactions.is_some();
        if now {
            self.finish_background(stats).await?;
            self.in_flight.land_all(self.source.as_mut(), stats).await?;
        }
        let name = self.name.clone();
        if let (Some(lanes), Some(k)) = (&mut self.lanes, self.source.as_kafka()) {
            // Partitioned state lives in the state topic, lane by lane.
            let positions = k.positions().clone();
            lanes.checkpoint(&positions).await?;
            k.commit_offsets(&positions)
                .map_err(|source| PipelineError::Source {
                    connector: name,
                    source: source.into(),
                })?;
            self.checkpoint_done(stats, self.checkpoints.sequence);
            return Ok(());
        }
        let ckpt = self.take_checkpoint().await?;
        if let Some(t) = &mut self.checkpoints.transactions {
            // One transaction: the outputs and DLQ entries produced since the
            // last one, this state, and the offsets it covers.
            let kafka_err = |source| PipelineError::Kafka {
                connector: name.clone(),
                source,
            };
            let offsets = match self.source.as_kafka() {
                Some(k) => k.transaction_offsets().map_err(kafka_err)?,
                None => None,
            };
            t.commit(ckpt.sequence, ckpt.to_bytes(), offsets)
                .await
                .map_err(kafka_err)?;
            self.checkpoint_done(stats, ckpt.sequence);
            return Ok(());
        }
        self.checkpoints.background = Some(Background::Landing {
            covers: self.in_flight.pushed(),
            ckpt,
            started: std::time::Instant::now(),
        });
        if now {
            self.finish_background(stats).await
        } else {
            self.advance_background(stats).await
        }
    }

    /// Every stateful plugin's snapshot, the sinks flushed, and the positions
    /// and generator lineage this batch boundary covers.
    async fn take_checkpoint(&mut self) -> Result<Checkpoint, PipelineError> {
        let name = self.name.clone();
        let mut stages = Vec::new();
        for (label, plugin) in self.stateful() {
            let started = Instant::now();
            let snapshot =
                plugin
                    .call(|p| p.snapshot())
                    .await
                    .map_err(|e| PipelineError::Snapshot {
                        connector: name.clone(),
                        stage: label.clone(),
                        reason: e.to_string(),
                    })?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            tracing::debug!(connector = %name, stage = %label, bytes = snapshot.len(), ms, "Snapshot taken.");
            stages.push(StageState {
                stage: label,
                plugin: plugin.name().to_string(),
                snapshot,
            });
        }
        if let Some(agg) = &self.aggregate {
            stages.push(StageState {
                stage: EVENT_TIMES.into(),
                plugin: HOST.into(),
                snapshot: agg.clock.snapshot().into(),
            });
        }
        self.checkpoints.sequence += 1;
        let sequence = self.checkpoints.sequence;
        for sink in &mut self.sinks {
            let state = tokio::task::block_in_place(|| sink.flush(sequence)).map_err(|source| {
                PipelineError::Sink {
                    connector: name.clone(),
                    source,
                }
            })?;
            if let Some(state) = state {
                stages.push(StageState {
                    stage: sink_label(sink.kind()),
                    plugin: sink.kind().into(),
                    snapshot: state.into(),
                });
            }
        }
        Ok(Checkpoint {
            sequence,
            written_ms: record::now_ms(),
            source_cluster: self.checkpoints.source_cluster.clone(),
            output: self.checkpoints.output.clone(),
            position: self.source.position(),
            stages,
        })
    }

    /// Moves the checkpoint on its way to disk a step when it can without
    /// waiting: written once the batches it covers have landed, committed
    /// once written.
    pub(super) async fn advance_background(
        &mut self,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        let ready = match &self.checkpoints.background {
            Some(Background::Landing { covers, .. }) => self.in_flight.has_landed(*covers),
            Some(Background::Writing { write, .. }) => write.is_finished(),
            None => false,
        };
        if ready {
            self.step_background(stats).await?;
        }
        Ok(())
    }

    /// Waits for the checkpoint on its way to disk, if any, to be committed.
    async fn finish_background(&mut self, stats: &mut RunStats) -> Result<(), PipelineError> {
        while self.checkpoints.background.is_some() {
            self.step_background(stats).await?;
        }
        Ok(())
    }

    /// One step of the checkpoint on its way to disk, waiting for it if need be.
    async fn step_background(&mut self, stats: &mut RunStats) -> Result<(), PipelineError> {
        match self.checkpoints.background.take() {
            None => Ok(()),
            Some(Background::Landing {
                ckpt,
                covers,
                started,
            }) => {
                self.in_flight
                    .land_until(covers, self.source.as_mut(), stats)
                    .await?;
                let store = self.checkpoints.store.clone();
                self.checkpoints.background = Some(Background::Writing {
                    sequence: ckpt.sequence,
                    position: ckpt.position.clone(),
                    started,
                    write: tokio::task::spawn_blocking(move || store.save(&ckpt)),
                });
                Ok(())
            }
            Some(Background::Writing {
                write,
                sequence,
                position,
                started,
            }) => {
                let state_err = |source| PipelineError::State {
                    connector: self.name.clone(),
                    source,
                };
                let path = self.checkpoints.store.path().to_path_buf();
                write
                    .await
                    .map_err(|join| StateError::Io {
                        path,
                        source: std::io::Error::other(join.to_string()),
                    })
                    .and_then(|saved| saved)
                    .map_err(state_err)?;
                if let Some(position) = &position {
                    self.source
                        .commit(position)
                        .map_err(|source| PipelineError::Source {
                            connector: self.name.clone(),
                            source,
                        })?;
                }
                let phase = super::Phase::CheckpointWrite;
                stats.phases.record(&self.name, phase, started.elapsed());
                self.checkpoint_done(stats, sequence);
                Ok(())
            }
        }
    }

    /// A checkpoint is durable and its positions committed.
    fn checkpoint_done(&mut self, stats: &mut RunStats, sequence: u64) {
        stats.checkpoints += 1;
        CheckpointDone {
            connector: &self.name,
        }
        .emit();
        tracing::debug!(connector = %self.name, sequence, "Checkpoint written.");
    }

    /// The last checkpoint, from the state topic with `exactly_once`, else
    /// from the file (`&mut`: the pipeline is `Send`, not `Sync`).
    async fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, PipelineError> {
        let state_err = |source| PipelineError::State {
            connector: self.name.clone(),
            source,
        };
        let Some(t) = &self.checkpoints.transactions else {
            return self.checkpoints.store.load().map_err(state_err);
        };
        let bytes = t
            .last_checkpoint()
            .await
            .map_err(|source| PipelineError::Kafka {
                connector: self.name.clone(),
                source,
            })?;
        bytes
            .map(|b| Checkpoint::from_bytes(&b))
            .transpose()
            .map_err(|reason| {
                state_err(StateError::CorruptTopic {
                    place: t.place(),
                    reason,
                })
            })
    }

    /// Where checkpoints are kept, as logs and errors name it.
    pub(super) fn checkpoint_place(&self) -> String {
        match &self.checkpoints.transactions {
            Some(t) => t.place(),
            None => self.checkpoints.store.path().display().to_string(),
        }
    }
}

/// How a sink's state is labelled in a checkpoint.
fn sink_label(kind: &str) -> String {
    format!("sink.{kind}")
}
