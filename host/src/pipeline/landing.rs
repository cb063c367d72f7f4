//! Batches whose outputs are on their way to the broker. The pipeline reads and
//! processes the next batch while the broker acknowledges the last ones; a
//! batch's input offsets count as handled only once every delivery report of
//! its outputs and DLQ entries is in, and always in the order batches were read.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{PipelineError, RunStats};
use crate::kafka::KafkaIoError;
use crate::record::{NextOffsets, now_ms};
use crate::sinks::{Pending, SinkError};
use crate::sources::Source;
use crate::telemetry::{Emit, EndToEnd};

/// Batches in flight at most: enough to keep the producer busy while a batch is
/// processed, few enough that a restart repeats little.
const MAX_IN_FLIGHT: usize = 4;

/// One batch waiting for its delivery reports.
struct Landing {
    /// Settles the reports, then answers each record's end-to-end latency (ms)
    /// as of its acknowledgement, and how long the reports took.
    acks: JoinHandle<Result<Acked, KafkaIoError>>,
    handled: NextOffsets,
}

/// A batch's acknowledgements, all in.
struct Acked {
    latencies: Vec<i64>,
    took: Duration,
}

/// The batches in flight, oldest first.
pub(super) struct InFlight {
    connector: String,
    queue: VecDeque<Landing>,
    /// Batches handed over so far, and of those, landed: a checkpoint taken
    /// after the `n`th batch is complete once `landed >= n`.
    pushed: u64,
    landed: u64,
}

impl InFlight {
    pub(super) fn new(connector: &str) -> Self {
        InFlight {
            connector: connector.to_string(),
            queue: VecDeque::new(),
            pushed: 0,
            landed: 0,
        }
    }

    /// How many batches were handed over so far.
    pub(super) fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Whether every batch up to the `n`th handed over has landed.
    pub(super) fn has_landed(&self, n: u64) -> bool {
        self.landed >= n
    }

    /// A batch's outputs were queued: `reports` to wait for, the input
    /// positions they move the source to, and the input timestamps of its outputs.
    pub(super) fn push(
        &mut self,
        reports: Vec<Pending>,
        handled: NextOffsets,
        timestamps: Vec<i64>,
        source: &mut dyn Source,
        stats: &mut RunStats,
    ) {
        self.pushed += 1;
        if reports.is_empty() && self.queue.is_empty() {
            self.landed += 1;
            source.mark_handled(&handled);
            record_latency(&self.connector, stats, &latencies(&timestamps));
            return;
        }
        let handed = Instant::now();
        let acks = tokio::spawn(async move {
            for r in reports {
                r.settle().await?;
            }
            Ok(Acked {
                took: handed.elapsed(),
                latencies: latencies(&timestamps),
            })
        });
        self.queue.push_back(Landing { acks, handled });
    }

    /// Lands the oldest batches whose reports are all in, and waits for the
    /// oldest ones while more than [`MAX_IN_FLIGHT`] are in flight.
    pub(super) async fn land_ready(
        &mut self,
        source: &mut dyn Source,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        while let Some(front) = self.queue.front() {
            if !front.acks.is_finished() && self.queue.len() <= MAX_IN_FLIGHT {
                break;
            }
            self.land_front(source, stats).await?;
        }
        Ok(())
    }

    /// Waits for every batch in flight: before a checkpoint, and at the end.
    pub(super) async fn land_all(
        &mut self,
        source: &mut dyn Source,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        self.land_until(self.pushed, source, stats).await
    }

    /// Waits for the batches up to the `n`th handed over.
    pub(super) async fn land_until(
        &mut self,
        n: u64,
        source: &mut dyn Source,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        while self.landed < n && !self.queue.is_empty() {
            self.land_front(source, stats).await?;
        }
        Ok(())
    }

    async fn land_front(
        &mut self,
        source: &mut dyn Source,
        stats: &mut RunStats,
    ) -> Result<(), PipelineError> {
        let Some(landing) = self.queue.pop_front() else {
            return Ok(());
        };
        let sink_err = |source: KafkaIoError| PipelineError::Sink {
            connector: self.connector.clone(),
            source: SinkError::Kafka(source),
        };
        let acked = match landing.acks.await {
            Ok(result) => result.map_err(sink_err)?,
            Err(join) => {
                return Err(sink_err(KafkaIoError::Delivery {
                    topic: String::new(),
                    reason: format!("waiting for delivery reports failed: {join}"),
                }));
            }
        };
        self.landed += 1;
        source.mark_handled(&landing.handled);
        record_latency(&self.connector, stats, &acked.latencies);
        let phase = super::Phase::ProduceAck;
        stats.phases.record(&self.connector, phase, acked.took);
        Ok(())
    }
}

fn latencies(timestamps: &[i64]) -> Vec<i64> {
    let now = now_ms();
    timestamps.iter().map(|t| now - t).collect()
}

/// Each output's time from its input's timestamp to its acknowledgement.
fn record_latency(connector: &str, stats: &mut RunStats, latencies: &[i64]) {
    for &ms in latencies {
        stats.latency.record(ms);
    }
    EndToEnd {
        connector,
        latencies_ms: latencies,
    }
    .emit();
}
