//! Where a record's time goes on its way through a pipeline, phase by phase,
//! so an end-to-end percentile can be explained by its parts: each phase is
//! timed once per batch, into `weir_phase_seconds{connector,phase}` and into
//! the run's own percentiles (logged when the run stops).

use std::time::Duration;

use super::stats::Latency;

use crate::telemetry::{Emit, PhaseTime};

/// A part of a batch's way from its source to the broker's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// From the batch's first record's timestamp to its arrival in the host:
    /// the producer's batching, the broker and the fetch.
    SourceWait,
    /// From the batch's first record's arrival to the batch's close.
    BatchFill,
    /// One plugin stage's call for the batch (`transform[0]`, `aggregate`).
    Plugin(String),
    /// Handing the outputs and DLQ entries to the sinks.
    Deliver,
    /// From the outputs' hand-over to the producer to the last acknowledgement.
    ProduceAck,
    /// A checkpoint's pause of the record loop: snapshots and sink flushes.
    Checkpoint,
    /// A checkpoint's way to disk beside the loop: from its snapshots to its
    /// positions committed (the batches it covers landing, the write, the sync).
    CheckpointWrite,
}

impl Phase {
    /// The `phase` label.
    pub fn name(&self) -> &str {
        match self {
            Phase::SourceWait => "source_wait",
            Phase::BatchFill => "batch_fill",
            Phase::Plugin(label) => label,
            Phase::Deliver => "deliver",
            Phase::ProduceAck => "produce_ack",
            Phase::Checkpoint => "checkpoint",
            Phase::CheckpointWrite => "checkpoint_write",
        }
    }
}

/// The run's samples per phase, in microseconds, in the order phases were
/// first seen (the order of the pipeline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    phases: Vec<(Phase, Latency)>,
}

impl PhaseTimes {
    /// One batch spent `took` in `phase`.
    pub fn record(&mut self, connector: &str, phase: Phase, took: Duration) {
        PhaseTime {
            connector,
            phase: phase.name(),
            seconds: took.as_secs_f64(),
        }
        .emit();
        let micros = i64::try_from(took.as_micros()).unwrap_or(i64::MAX);
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, samples)) => samples.record(micros),
            None => {
                let mut samples = Latency::default();
                samples.record(micros);
                self.phases.push((phase, samples));
            }
        }
    }

    /// Each phase with its p50, p99 and p99.9 in milliseconds.
    pub fn percentiles(&self) -> impl Iterator<Item = (&str, [f64; 3])> {
        self.phases.iter().map(|(phase, samples)| {
            let ms = |p| f64::from(samples.percentile(p).unwrap_or(0)) / 1000.0;
            (phase.name(), [ms(50.0), ms(99.0), ms(99.9)])
        })
    }

    /// Logs each phase's percentiles (one line per phase, `Phase time.`).
    pub fn log(&self, connector: &str) {
        for (phase, [p50, p99, p999]) in self.percentiles() {
            tracing::info!(
                connector,
                phase,
                p50_ms = p50,
                p99_ms = p99,
                p999_ms = p999,
                "Phase time."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_the_order_they_were_first_seen_in() {
        let mut t = PhaseTimes::default();
        t.record("c", Phase::BatchFill, Duration::from_micros(1500));
        t.record(
            "c",
            Phase::Plugin("transform[0]".into()),
            Duration::from_millis(2),
        );
        t.record("c", Phase::BatchFill, Duration::from_micros(500));
        let got: Vec<_> = t.percentiles().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "batch_fill");
        assert_eq!(got[0].1[1], 1.5);
        assert_eq!(got[1], ("transform[0]", [2.0, 2.0, 2.0]));
    }
}
