//! One plugin stage of a batch: the call, the outcome checked against its input,
//! and rejected records on their way to the DLQ with a counted reason.

use weir_sdk::Rejection;
use weir_sdk::flat::{Failure, Outcome, Output};

use crate::record::{self, Batch, Record};
use crate::runtime::{AsyncInstance, CallError};
use crate::sinks::DlqEntry;

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
    records: Batch,
    dead: &mut Vec<DlqEntry>,
    call: Call,
) -> (Batch, u64) {
    let flat = record::to_flat(&records);
    let result = stage
        .plugin
        .call(move |p| match call {
            Call::Process => p.process(flat),
            Call::Update => p.update(flat),
        })
        .await;
    let labels = [
        ("plugin", stage.plugin.name().to_string()),
        ("stage", stage.label.clone()),
    ];
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
            for r in records {
                let f = Failure {
                    index: 0,
                    codes: why.codes.iter().map(|c| c.to_string()).collect(),
                    reason: why.reason.clone(),
                };
                dead.push(stage.entry(r, f));
            }
            (Vec::new(), 0)
        }
    };
    metrics::counter!("weir_stage_records_in_total", &labels).increment(inputs);
    metrics::counter!("weir_stage_records_out_total", &labels).increment(output.len() as u64);
    metrics::counter!("weir_stage_records_failed_total", &labels)
        .increment((dead.len() - dead_before) as u64);
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
/// record, as the plugin got it), passed inputs move into the output unchanged,
/// and new records take the origin of the input they came from.
fn apply_outcome(
    mut records: Batch,
    mut outcome: Outcome,
    mut fail: impl FnMut(Record, Failure),
) -> Split {
    let emitted = record::from_flat(&outcome.output, |i| {
        records[outcome.origins[i] as usize].origin.clone()
    })
    .unwrap_or_default();
    let mut answered = vec![false; records.len()];
    for &i in outcome.origins.iter().chain(&outcome.passed) {
        answered[i as usize] = true;
    }
    for f in std::mem::take(&mut outcome.failures) {
        let i = f.index as usize;
        answered[i] = true;
        fail(records[i].clone(), f);
    }
    let dropped = answered.iter().filter(|a| !**a).count() as u64;
    if outcome.passed.is_empty() {
        return Split {
            output: emitted,
            dropped,
        };
    }
    let mut emitted: Vec<Option<Record>> = emitted.into_iter().map(Some).collect();
    let output = outcome
        .order()
        .filter_map(|(origin, from)| match from {
            Output::Passed => Some(std::mem::replace(
                &mut records[origin as usize],
                Record::empty(),
            )),
            Output::New(j) => emitted[j].take(),
        })
        .collect();
    Split { output, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;

    fn input(n: usize) -> Batch {
        (0..n)
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
            .collect()
    }

    fn keys(b: &Batch) -> Vec<String> {
        b.iter()
            .map(|r| String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned())
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
            split.output[0], records[0],
            "a passed record is the input, unchanged"
        );
        assert_eq!(
            split.output[3].origin, records[2].origin,
            "new records keep their input's origin"
        );
        assert_eq!(split.dropped, 0);
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].0.clone(), dead[0].1.text()),
            (records[3].clone(), "bad: record 3 is bad".to_string())
        );
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
