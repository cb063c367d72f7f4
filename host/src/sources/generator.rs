//! `[source.generator]`: a source plugin called at a steady rate.

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
        }
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
        if let Some(r) = self.remaining.as_mut() {
            *r -= (batch.len() as u64).min(*r);
        }
        Ok(Some(batch))
    }
}
