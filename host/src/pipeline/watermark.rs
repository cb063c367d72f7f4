//! Event time for the aggregator: the newest event time per input partition,
//! and a watermark that trails the slowest partition still being read by the
//! allowed lateness. Taking the slowest partition (as Flink does) means a
//! partition read ahead of the others never makes their on-time records late; a
//! partition not read yet holds the watermark back, one that is caught up does
//! not.

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
        // The newest time per input partition of this batch first (a batch
        // holds a few partitions), then one map update for each.
        let mut newest: Vec<(Option<(&str, i32)>, i64)> = Vec::new();
        for r in records.iter() {
            let key = r.origin().map(|o| (&**o.topic, o.partition));
            let t = r.timestamp_ms();
            match newest.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n = (*n).max(t),
                None => newest.push((key, t)),
            }
        }
        for (key, t) in newest {
            let key = key.map_or((String::new(), 0), |(topic, p)| (topic.to_string(), p));
            let n = self.newest.entry(key).or_insert(t);
            *n = (*n).max(t);
        }
    }

    /// The newest event time seen on any partition; `i64::MIN` before any.
    pub(super) fn latest(&self) -> i64 {
        self.newest.values().copied().max().unwrap_or(i64::MIN)
    }

    /// Below this event time no more records are expected; `i64::MIN` before
    /// any record. `live` are the partitions that still have records to hand on
    /// (`None` for a source without partitions).
    pub(super) fn watermark(&self, live: Option<&[(String, i32)]>) -> i64 {
        let bound = match live {
            Some(live) if !live.is_empty() => live
                .iter()
                .map(|k| self.newest.get(k).copied().unwrap_or(i64::MIN))
                .min(),
            // Nothing left to read anywhere: everything seen is complete.
            _ => self.newest.values().copied().max(),
        };
        bound.map_or(i64::MIN, |m| m.saturating_sub(self.allowed_lateness_ms))
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

    fn live(parts: &[i32]) -> Vec<(String, i32)> {
        parts.iter().map(|p| ("views".to_string(), *p)).collect()
    }

    #[test]
    fn watermark_trails_the_slowest_live_partition() {
        let mut c = EventClock::new(30);
        assert_eq!(c.watermark(None), i64::MIN);
        c.observe(&Batch::from_records(&[rec(0, 1_000), rec(0, 900)]));
        // Partition 1 has not been read yet: it holds the watermark back.
        assert_eq!(c.watermark(Some(&live(&[0, 1]))), i64::MIN);
        c.observe(&Batch::from_records(&[rec(1, 500)]));
        assert_eq!(c.watermark(Some(&live(&[0, 1]))), 470);
        // Partition 1 caught up: only partition 0 counts.
        assert_eq!(c.watermark(Some(&live(&[0]))), 970);
        // Everything caught up: all that was seen is complete.
        assert_eq!(c.watermark(Some(&[])), 970);
        c.observe(&Batch::from_records(&[rec(1, 2_000)]));
        assert_eq!(c.watermark(Some(&live(&[0, 1]))), 970);
        let mut restored = EventClock::new(30);
        restored.restore(&c.snapshot()).unwrap();
        assert_eq!(restored.watermark(Some(&live(&[0, 1]))), 970);
        assert!(restored.restore(b"{").is_err());
    }
}
