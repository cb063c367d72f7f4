//! Event time for the aggregator: the newest event time per input partition,
//! and a watermark that trails the slowest partition by the allowed lateness.
//! Taking the slowest partition (as Flink does) means a partition read ahead of
//! the others never makes their on-time records late.

use std::collections::BTreeMap;

use crate::record::Batch;

pub(super) struct EventClock {
    /// Newest event time by (topic, partition); records without an origin
    /// (generators, HTTP) share one entry.
    newest: BTreeMap<(String, i32), i64>,
    allowed_lateness_ms: i64,
}

impl EventClock {
    pub(super) fn new(allowed_lateness_ms: i64) -> Self {
        EventClock {
            newest: BTreeMap::new(),
            allowed_lateness_ms,
        }
    }

    pub(super) fn observe(&mut self, records: &Batch) {
        for r in records {
            let key = r
                .origin
                .as_ref()
                .map_or((String::new(), 0), |o| (o.topic.to_string(), o.partition));
            let t = self.newest.entry(key).or_insert(r.timestamp_ms);
            *t = (*t).max(r.timestamp_ms);
        }
    }

    /// Below this event time no more records are expected; `i64::MIN` before
    /// any record.
    pub(super) fn watermark(&self) -> i64 {
        self.newest
            .values()
            .min()
            .map_or(i64::MIN, |m| m.saturating_sub(self.allowed_lateness_ms))
    }

    /// Saved with checkpoints, so a restart does not start from nothing.
    pub(super) fn snapshot(&self) -> Vec<u8> {
        let rows: Vec<(&str, i32, i64)> = self
            .newest
            .iter()
            .map(|((t, p), m)| (t.as_str(), *p, *m))
            .collect();
        serde_json::to_vec(&rows).unwrap_or_default()
    }

    pub(super) fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let rows: Vec<(String, i32, i64)> =
            serde_json::from_slice(bytes).map_err(|e| format!("event times: {e}"))?;
        self.newest = rows.into_iter().map(|(t, p, m)| ((t, p), m)).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Origin, Record};

    fn rec(partition: i32, t: i64) -> Record {
        Record {
            key: None,
            value: None,
            headers: vec![],
            timestamp_ms: t,
            origin: Some(Origin {
                topic: "views".into(),
                partition,
                offset: 0,
            }),
        }
    }

    #[test]
    fn watermark_trails_the_slowest_partition() {
        let mut c = EventClock::new(30);
        assert_eq!(c.watermark(), i64::MIN);
        c.observe(&vec![rec(0, 1_000), rec(0, 900), rec(1, 500)]);
        assert_eq!(c.watermark(), 470);
        c.observe(&vec![rec(1, 2_000)]);
        assert_eq!(c.watermark(), 970);
        let mut restored = EventClock::new(30);
        restored.restore(&c.snapshot()).unwrap();
        assert_eq!(restored.watermark(), 970);
        assert!(restored.restore(b"{").is_err());
    }
}
