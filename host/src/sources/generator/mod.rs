//! `[source.generator]`: a source plugin called at a steady rate.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{RecoverContext, Source, SourceError, call_reason};
use crate::kafka::tail::delivered_since;
use crate::record::{Batch, RecordView};
use crate::runtime::AsyncInstance;
use crate::state::SourcePosition;

mod config;

pub use config::GeneratorSourceConfig;

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
    let seq_of = |r: RecordView<'_>| {
        r.header(SEQ_HEADER)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
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
    let mut numbered = Batch::with_capacity(records.len(), records.arena_len());
    for r in records.iter() {
        let part = seq_of(r)
            .and_then(|seq| counts.get_mut(&seq).filter(|(_, n)| *n > 1))
            .map(|(i, n)| {
                *i += 1;
                format!("{i}/{n}").into_bytes()
            });
        let extra = part.as_deref().map(|p| (PART_HEADER, p));
        numbered.push(
            r.key(),
            r.value(),
            r.headers().chain(extra),
            r.timestamp_ms(),
            r.origin(),
        );
    }
    *records = numbered;
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

    async fn next_batch(
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
                _ = stop.cancelled() => return Ok(Some(Batch::default())),
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
                return Ok(Some(Batch::default()));
            }
        };
        let made = Batch::from_flat(flat).map_err(|e| SourceError::Layout {
            plugin: self.plugin.name().to_string(),
            reason: e.to_string(),
        })?;
        // A plugin that returns more than asked is cut to the request.
        let made_len = made.len().min(n as usize);
        self.emitted += made_len as u64;
        let mut batch = Batch::with_capacity(made_len, made.arena_len() + made_len * 64);
        let mut seq_text = String::new();
        for r in made.iter().take(made_len) {
            self.seq += 1;
            if self.delivered.remove(&self.seq) {
                continue;
            }
            seq_text.clear();
            let _ = write!(seq_text, "{}", self.seq);
            let stamps = [
                (LINEAGE_HEADER, self.lineage.as_bytes()),
                (SEQ_HEADER, seq_text.as_bytes()),
            ];
            batch.push(
                r.key(),
                r.value(),
                r.headers().chain(stamps),
                r.timestamp_ms(),
                None,
            );
        }
        if let Some(r) = self.remaining.as_mut() {
            *r -= (batch.len() as u64).min(*r);
        }
        Ok(Some(batch))
    }
}

/// A generator's position: its run's lineage and how many records it had
/// made, as checkpoints held them before positions were opaque.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    lineage: String,
    generated: u64,
}

impl Source for GeneratorSource {
    fn kind(&self) -> &'static str {
        "generator"
    }

    fn next_batch<'a>(
        &'a mut self,
        max: usize,
        stop: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Option<Batch>, SourceError>> {
        Box::pin(GeneratorSource::next_batch(self, max, stop))
    }

    fn can_replay(&self) -> bool {
        true
    }

    fn position(&self) -> Option<SourcePosition> {
        let position = Position {
            lineage: self.lineage.clone(),
            generated: self.seq,
        };
        Some(SourcePosition {
            kind: "generator".into(),
            // Strings and an integer always serialize.
            bytes: serde_json::to_vec(&position).unwrap_or_default(),
        })
    }

    /// Continues the checkpoint's lineage. What the restored plugin makes
    /// again and was already delivered past the checkpoint (found in the
    /// sink's topic by its stamps) is skipped.
    fn recover<'a>(
        &'a mut self,
        position: &'a SourcePosition,
        cx: &'a RecoverContext<'a>,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            if position.kind != "generator" {
                return Ok(());
            }
            let p: Position =
                serde_json::from_slice(&position.bytes).map_err(|e| SourceError::Position {
                    kind: "generator",
                    reason: e.to_string(),
                })?;
            let delivered = match cx.sink_topic {
                Some(topic) => {
                    delivered_since(
                        cx.cluster,
                        topic,
                        LINEAGE_HEADER,
                        &p.lineage,
                        SEQ_HEADER,
                        PART_HEADER,
                        p.generated,
                    )
                    .await?
                }
                None => HashSet::new(),
            };
            if !delivered.is_empty() {
                tracing::info!(
                    connector = cx.connector,
                    checkpoint_seq = p.generated,
                    delivered = delivered.len(),
                    "Records past the checkpoint were already delivered; the generator makes them again and they are skipped."
                );
            }
            self.lineage = p.lineage;
            self.seq = p.generated;
            self.delivered = delivered;
            Ok(())
        })
    }

    fn plugin(&mut self) -> Option<&mut AsyncInstance> {
        Some(&mut self.plugin)
    }

    fn label_outputs(&self, outputs: &mut Batch) {
        number_parts(outputs);
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

    fn parts(records: &Batch) -> Vec<Option<String>> {
        records
            .iter()
            .map(|r| {
                r.header(PART_HEADER)
                    .map(|v| String::from_utf8(v.to_vec()).unwrap())
            })
            .collect()
    }

    #[test]
    fn only_records_with_several_outputs_are_numbered() {
        let mut batch =
            Batch::from_records(&[out(1), out(2), out(2), out(3), out(4), out(4), out(4)]);
        number_parts(&mut batch);
        assert_eq!(
            parts(&batch),
            [
                None,
                Some("1/2".into()),
                Some("2/2".into()),
                None,
                Some("1/3".into()),
                Some("2/3".into()),
                Some("3/3".into())
            ]
        );
        let mut plain = Batch::from_records(&[out(1), out(2)]);
        number_parts(&mut plain);
        assert_eq!(parts(&plain), [None, None]);
    }
}
