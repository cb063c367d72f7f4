//! One plugin stage of a batch: the call, the outcome checked against its input,
//! and rejected records on their way to the DLQ with a counted reason.

use std::sync::Arc;

use weir_sdk::Rejection;
use weir_sdk::flat::{Failure, Outcome, Output};

use crate::record::{Batch, Record};
use crate::runtime::{AsyncInstance, CallError};
use crate::sinks::DlqEntry;
use crate::telemetry::{Emit, StageBatch};

/// A plugin stage between source and sinks.
pub(super) struct Stage {
    /// `transform[0]`, `aggregate`: names the stage in checkpoints and the DLQ.
    pub(super) label: String,
    pub(super) plugin: AsyncInstance,
    pub(super) contract: String,
}

/// Which call a stage gets for a batch.
#[derive(Clone, Copy)]
pub(super) enum Call {
    Process,
    Update,
}

/// Runs one stage; rejected records (or the whole batch, when the call traps or
/// its outcome does not fit the input) go to `dead`. Returns the outputs and how
/// many inputs the plugin dropped (none of passed, emitted from or failed).
pub(super) async fn run_stage(
    stage: &mut Stage,
    mut records: Batch,
    dead: &mut Vec<DlqEntry>,
    call: Call,
) -> (Batch, u64) {
    let columns = Arc::clone(records.columns());
    let result = stage
        .plugin
        .call(move |p| match call {
            Call::Process => p.process(columns),
            Call::Update => p.update(columns),
        })
        .await;
    let inputs = records.len() as u64;
    let dead_before = dead.len();
    let checked = match result {
        Ok(outcome) => outcome.check(records.len()).map(|()| outcome).map_err(|r| {
            Rejection::new(
                "malformed_outcome",
                format!("plugin returned a malformed outcome: {r}"),
            )
        }),
        Err(CallError::Trap(r)) => Err(Rejection::new(
            "plugin_trap",
            format!("plugin trapped: {r}"),
        )),
        Err(CallError::Plugin(r)) => Err(Rejection::new(
            "batch_rejected",
            format!("plugin rejected the batch: {r}"),
        )),
    };
    let (output, dropped) = match checked {
        Ok(outcome) => {
            let split = apply_outcome(records, outcome, |r, f| dead.push(stage.entry(r, f)));
            (split.output, split.dropped)
        }
        Err(why) => {
            tracing::warn!(plugin = stage.plugin.name(), records = records.len(), reason = %why, "Batch sent to the DLQ.");
            for r in records.iter() {
                let f = Failure {
                    index: 0,
                    codes: why.codes.iter().map(|c| c.to_string()).collect(),
                    reason: why.reason.clone(),
                };
                dead.push(stage.entry(r.to_record(), f));
            }
            (Batch::default(), 0)
        }
    };
    StageBatch {
        plugin: stage.plugin.name(),
        stage: &stage.label,
        inputs,
        outputs: output.len() as u64,
        failed: (dead.len() - dead_before) as u64,
    }
    .emit();
    (output, dropped)
}

impl Stage {
    /// The DLQ entry for input `record`, which this stage's plugin refused.
    fn entry(&self, record: Record, failure: Failure) -> DlqEntry {
        DlqEntry {
            record,
            codes: failure.codes,
            reason: failure.reason,
            stage: self.label.clone(),
            plugin: self.plugin.name().to_string(),
            plugin_contract: self.contract.clone(),
        }
    }
}

/// An outcome applied to its input: the next stage's records and how many
/// inputs were dropped.
struct Split {
    output: Batch,
    dropped: u64,
}

/// Applies a checked outcome: failed inputs go to `fail` (a copy of the input
/// record, as the plugin got it), passed inputs go on unchanged, and new
/// records take the origin of the input they came from.
///
/// Copies as little as the outcome allows: when every input passed, the input
/// batch goes on as it is; when some did, a selection of it (both share its
/// arena, nothing is copied); when only new records came out, the plugin's
/// output batch becomes the next batch; only a mix of the two is copied into
/// a new arena.
fn apply_outcome(
    records: Batch,
    mut outcome: Outcome,
    mut fail: impl FnMut(Record, Failure),
) -> Split {
    let mut answered = vec![false; records.len()];
    for &i in outcome.origins.iter().chain(&outcome.passed) {
        answered[i as usize] = true;
    }
    for f in std::mem::take(&mut outcome.failures) {
        let i = f.index as usize;
        answered[i] = true;
        fail(records.get(i).to_record(), f);
    }
    let dropped = answered.iter().filter(|a| !**a).count() as u64;
    let output = if outcome.origins.is_empty() && outcome.passed.len() == records.len() {
        records
    } else if outcome.origins.is_empty() {
        records.select(outcome.passed.iter().map(|&i| i as usize))
    } else {
        // A checked outcome's output fits its buffer.
        let mut emitted = Batch::from_flat(std::mem::take(&mut outcome.output)).unwrap_or_default();
        for (j, &o) in outcome.origins.iter().enumerate() {
            emitted.set_origin(j, records.get(o as usize).origin());
        }
        if outcome.passed.is_empty() {
            emitted
        } else {
            let mut merged = Batch::with_capacity(
                outcome.passed.len() + emitted.len(),
                records.arena_len() + emitted.arena_len(),
            );
            for (origin, from) in outcome.order() {
                match from {
                    Output::Passed => merged.push_view(records.get(origin as usize)),
                    Output::New(j) => merged.push_view(emitted.get(j)),
                }
            }
            merged
        }
    };
    Split { output, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;

    fn input(n: usize) -> Batch {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                key: Some(vec![b'k', b'0' + i as u8]),
                value: Some(vec![b'v', b'0' + i as u8]),
                headers: vec![("h".into(), b"x".to_vec())],
                timestamp_ms: i as i64,
                origin: Some(Origin {
                    topic: "t".into(),
                    partition: 0,
                    offset: 10 + i as i64,
                }),
            })
            .collect();
        Batch::from_records(&records)
    }

    fn keys(b: &Batch) -> Vec<String> {
        b.iter()
            .map(|r| String::from_utf8_lossy(r.key().unwrap_or_default()).into_owned())
            .collect()
    }

    #[test]
    fn passed_inputs_and_new_records_merge_in_input_order() {
        let records = input(4);
        let mut o = Outcome::default();
        o.pass(0);
        o.emit(1, Some(b"new1"), None, &[], 7);
        o.pass(2);
        o.emit(2, Some(b"new2"), None, &[], 8);
        o.fail(3, "bad", "record 3 is bad");
        o.check(records.len()).expect("well formed");
        let mut dead = Vec::new();
        let split = apply_outcome(records.clone(), o, |r, f| dead.push((r, f)));
        assert_eq!(keys(&split.output), ["k0", "new1", "k2", "new2"]);
        assert_eq!(
            split.output.get(0).to_record(),
            records.get(0).to_record(),
            "a passed record is the input, unchanged"
        );
        assert_eq!(
            split.output.get(3).origin(),
            records.get(2).origin(),
            "new records keep their input's origin"
        );
        assert_eq!(split.dropped, 0);
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].0.clone(), dead[0].1.text()),
            (
                records.get(3).to_record(),
                "bad: record 3 is bad".to_string()
            )
        );
    }

    #[test]
    fn a_batch_that_passed_whole_goes_on_without_a_copy() {
        let records = input(3);
        let mut o = Outcome::default();
        (0..3).for_each(|i| o.pass(i));
        let split = apply_outcome(records.clone(), o, |_, _| panic!("nothing failed"));
        assert!(split.output.shares_arena(&records));
        assert_eq!(split.output.next_offsets(), vec![(0, 13)]);
    }

    #[test]
    fn new_records_alone_become_the_next_batch_with_their_inputs_origins() {
        let records = input(2);
        let mut o = Outcome::default();
        o.emit(1, Some(b"a"), None, &[], 0);
        o.emit(1, Some(b"b"), None, &[], 0);
        let split = apply_outcome(records, o, |_, _| panic!("nothing failed"));
        assert_eq!(keys(&split.output), ["a", "b"]);
        assert!(
            split
                .output
                .iter()
                .all(|r| r.origin().map(|o| o.offset) == Some(11))
        );
        assert_eq!(split.dropped, 1);
    }

    #[test]
    fn unanswered_inputs_count_as_dropped() {
        let records = input(3);
        let mut o = Outcome::default();
        o.pass(1);
        let split = apply_outcome(records, o, |_, _| panic!("nothing failed"));
        assert_eq!(keys(&split.output), ["k1"]);
        assert_eq!(split.dropped, 2);
    }
}
