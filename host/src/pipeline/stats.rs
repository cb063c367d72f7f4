//! What a run is told to stop at, and what it counts.

use std::collections::BTreeMap;
use std::time::Duration;

use super::timing::PhaseTimes;

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
    /// Records a plugin dropped on purpose (filtered, deduplicated, a policy).
    pub dropped: u64,
    /// DLQ records per reason code (see [`DlqEntry::counted_codes`](crate::sinks::DlqEntry::counted_codes)).
    pub dlq_reasons: BTreeMap<String, u64>,
    /// Aggregator triggers.
    pub triggers: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Record time to sink write, for records read from Kafka.
    pub latency: Latency,
    /// Where batches spent their time, phase by phase.
    pub phases: PhaseTimes,
}

/// Latency samples (end to end in milliseconds, phases in microseconds);
/// kept whole up to a cap, then every other one, so percentiles of long runs
/// stay cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    samples: Vec<u32>,
    stride: u64,
    seen: u64,
}

/// Most samples kept.
const LATENCY_CAP: usize = 200_000;

impl Latency {
    pub fn record(&mut self, ms: i64) {
        self.seen += 1;
        let stride = self.stride.max(1);
        if !self.seen.is_multiple_of(stride) {
            return;
        }
        self.samples.push(ms.clamp(0, i64::from(u32::MAX)) as u32);
        if self.samples.len() >= LATENCY_CAP {
            let halved: Vec<u32> = self.samples.iter().step_by(2).copied().collect();
            self.samples = halved;
            self.stride = stride * 2;
        }
    }

    /// The `p`-th percentile (0 to 100) in milliseconds, if anything was recorded.
    pub fn percentile(&self, p: f64) -> Option<u32> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted.get(rank.min(sorted.len() - 1)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut l = Latency::default();
        assert_eq!(l.percentile(50.0), None);
        for ms in 1..=1000 {
            l.record(ms);
        }
        assert_eq!(l.percentile(50.0), Some(501));
        assert_eq!(l.percentile(99.0), Some(990));
        for _ in 0..(2 * LATENCY_CAP) {
            l.record(7);
        }
        assert!(l.samples.len() < LATENCY_CAP);
        assert_eq!(l.percentile(50.0), Some(7));
    }
}
