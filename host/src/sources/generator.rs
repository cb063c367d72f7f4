//! `[source.generator]`: a source plugin called at a steady rate.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SourceError, call_reason};
use crate::record::{self, Batch};
use crate::runtime::AsyncInstance;

/// Consecutive failed calls after which the source gives up.
const MAX_FAILURES: u32 = 5;

pub struct GeneratorSource {
    plugin: AsyncInstance,
    rate_per_sec: u64,
    batch_size: u32,
    /// Records still allowed (`None`: endless).
    remaining: Option<u64>,
    started: Instant,
    emitted: u64,
    failures: u32,
    /// This run's identity and the records made in it, stamped on every record
    /// (`weir.lineage`, `weir.seq`) so a restart can tell what was delivered.
    lineage: String,
    seq: u64,
    /// Records delivered past the checkpoint before a restart: the restored
    /// plugin makes them again, and they are dropped.
    delivered: HashSet<u64>,
}

/// Header names stamped on generated records.
pub const LINEAGE_HEADER: &str = "weir.lineage";
pub const SEQ_HEADER: &str = "weir.seq";
/// `i/n` on each of the `n` outputs a generated record made, when it made
/// more than one (e.g. a delete and its tombstone): a crash between them must
/// not let a restart take the record as delivered.
pub const PART_HEADER: &str = "weir.part";

/// Numbers the outputs of each generated record that made more than one
/// (`weir.part` = `i/n`, in batch order). Outputs of one record share its
/// `weir.seq`; a record with one output (the usual case) gets no header.
pub fn number_parts(records: &mut Batch) {
    let seq_of = |r: &record::Record| {
        r.headers
            .iter()
            .find(|(k, _)| k == SEQ_HEADER)
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
    };
    // The usual batch: one output per record, in order; nothing to number,
    // and no map built.
    let mut last = None;
    let increasing = records.iter().all(|r| {
        let seq = seq_of(r);
        let up = seq.is_some() && seq > last;
        last = seq;
        up
    });
    if increasing {
        return;
    }
    let mut counts: std::collections::HashMap<u64, (u32, u32)> = Default::default();
    for r in records.iter() {
        if let Some(seq) = seq_of(r) {
            counts.entry(seq).or_default().1 += 1;
        }
    }
    for r in records.iter_mut() {
        let Some(seq) = seq_of(r) else { continue };
        let Some((i, n)) = counts.get_mut(&seq).filter(|(_, n)| *n > 1) else {
            continue;
        };
        *i += 1;
        r.headers
            .push((PART_HEADER.to_string(), format!("{i}/{n}").into_bytes()));
    }
}

impl GeneratorSource {
    pub fn new(
        plugin: AsyncInstance,
        rate_per_sec: u64,
        batch_size: u32,
        max_records: u64,
    ) -> Self {
        GeneratorSource {
            plugin,
            rate_per_sec,
            batch_size,
            remaining: (max_records > 0).then_some(max_records),
            started: Instant::now(),
            emitted: 0,
            failures: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            seq: 0,
            delivered: HashSet::new(),
        }
    }

    /// This run's lineage and the sequence number of the last record made.
    pub fn position(&self) -> (&str, u64) {
        (&self.lineage, self.seq)
    }

    /// Continues a lineage from a checkpoint at `seq`; the records numbered in
    /// `delivered` are made again by the restored plugin but not handed on.
    pub fn resume(&mut self, lineage: String, seq: u64, delivered: HashSet<u64>) {
        self.lineage = lineage;
        self.seq = seq;
        self.delivered = delivered;
    }

    pub fn plugin(&mut self) -> &mut AsyncInstance {
        &mut self.plugin
    }

    pub async fn next_batch(
        &mut self,
        max: usize,
        stop: &CancellationToken,
    ) -> Result<Option<Batch>, SourceError> {
        let mut want = u64::from(self.batch_size).min(max as u64);
        if let Some(r) = self.remaining {
            if r == 0 {
                return Ok(None);
            }
            want = want.min(r);
        }
        if self.rate_per_sec > 0 {
            // Pace to the rate: wait until at least one record is due, then ask
            // for what is due (never more than a batch).
            let due_at = |n: u64| {
                self.started + Duration::from_secs_f64(n as f64 / self.rate_per_sec as f64)
            };
            tokio::select! {
                _ = stop.cancelled() => return Ok(Some(Vec::new())),
                _ = tokio::time::sleep_until(due_at(self.emitted + 1)) => {}
            }
            let elapsed = self.started.elapsed().as_secs_f64();
            let due = (elapsed * self.rate_per_sec as f64) as u64;
            want = want.min(due.saturating_sub(self.emitted).max(1));
        }
        let n = want as u32;
        let result = self.plugin.call(move |p| p.next_batch(n)).await;
        let flat = match result {
            Ok(flat) => {
                self.failures = 0;
                flat
            }
            Err(e) => {
                self.failures += 1;
                let reason = call_reason(&e);
                tracing::error!(plugin = self.plugin.name(), failures = self.failures, error = %reason, "Source plugin call failed.");
                if self.failures >= MAX_FAILURES {
                    return Err(SourceError::Plugin {
                        plugin: self.plugin.name().to_string(),
                        attempts: self.failures,
                        reason,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100 << self.failures)).await;
                return Ok(Some(Vec::new()));
            }
        };
        let mut batch = record::from_flat(&flat, |_| None).map_err(|e| SourceError::Layout {
            plugin: self.plugin.name().to_string(),
            reason: e.to_string(),
        })?;
        // A plugin that returns more than asked is cut to the request.
        batch.truncate(n as usize);
        self.emitted += batch.len() as u64;
        let lineage = self.lineage.as_bytes().to_vec();
        let batch: Batch = batch
            .into_iter()
            .filter_map(|mut r| {
                self.seq += 1;
                if self.delivered.remove(&self.seq) {
                    return None;
                }
                r.headers.push((LINEAGE_HEADER.into(), lineage.clone()));
                r.headers
                    .push((SEQ_HEADER.into(), self.seq.to_string().into_bytes()));
                Some(r)
            })
            .collect();
        if let Some(r) = self.remaining.as_mut() {
            *r -= (batch.len() as u64).min(*r);
        }
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn out(seq: u64) -> Record {
        Record {
            key: None,
            value: None,
            headers: vec![(SEQ_HEADER.into(), seq.to_string().into_bytes())],
            timestamp_ms: 0,
            origin: None,
        }
    }

    fn parts(records: &Batch) -> Vec<Option<&str>> {
        records
            .iter()
            .map(|r| {
                r.headers
                    .iter()
                    .find(|(k, _)| k == PART_HEADER)
                    .map(|(_, v)| std::str::from_utf8(v).unwrap())
            })
            .collect()
    }

    #[test]
    fn only_records_with_several_outputs_are_numbered() {
        let mut batch = vec![out(1), out(2), out(2), out(3), out(4), out(4), out(4)];
        number_parts(&mut batch);
        assert_eq!(
            parts(&batch),
            [
                None,
                Some("1/2"),
                Some("2/2"),
                None,
                Some("1/3"),
                Some("2/3"),
                Some("3/3")
            ]
        );
        let mut plain = vec![out(1), out(2)];
        number_parts(&mut plain);
        assert_eq!(parts(&plain), [None, None]);
    }
}
