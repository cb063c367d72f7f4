//! One plugin stage of a batch: the call, the outcome checked against its input,
//! and rejected records on their way to the DLQ with a counted reason.

use weir_sdk::flat::Outcome;

use crate::record::{self, Batch};
use crate::runtime::{AsyncInstance, CallError};
use crate::sinks::DlqEntry;

/// A plugin stage between source and sinks.
pub(super) struct Stage {
    /// `transform[0]`, `aggregate`: names the stage in checkpoints and the DLQ.
    pub(super) label: String,
    pub(super) plugin: AsyncInstance,
    pub(super) contract: String,
}

/// The failure codes at the start of a DLQ reason (`code[,code…]: message`),
/// which the DLQ is counted by; `rejected` when a plugin gave none.
pub fn reason_codes(reason: &str) -> Vec<&str> {
    let is_code = |c: &str| {
        !c.is_empty()
            && c.len() <= 40
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match reason.split_once(':') {
        Some((head, _)) if head.split(',').all(is_code) => head.split(',').collect(),
        _ => vec!["rejected"],
    }
}

/// Which call a stage gets for a batch.
#[derive(Clone, Copy)]
pub(super) enum Call {
    Process,
    Update,
}

/// Runs one stage; rejected records (or the whole batch, when the call traps or
/// its outcome does not fit the input) go to `dead`. Returns the outputs and how
/// many inputs the plugin dropped (neither emitted from nor failed).
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
        .await
        .map_err(|e| match e {
            CallError::Trap(r) => format!("plugin_trap: plugin trapped: {r}"),
            CallError::Plugin(r) => format!("batch_rejected: plugin rejected the batch: {r}"),
        })
        .and_then(|outcome| {
            split_outcome(&records, outcome)
                .map_err(|r| format!("malformed_outcome: plugin returned a malformed outcome: {r}"))
        });
    let entry = |r: &record::Record, reason: String| DlqEntry {
        record: r.clone(),
        reason,
        stage: stage.label.clone(),
        plugin: stage.plugin.name().to_string(),
        plugin_contract: stage.contract.clone(),
    };
    let dead_before = dead.len();
    let (output, dropped) = match result {
        Ok(Split {
            output,
            failures,
            dropped,
        }) => {
            for (i, reason) in failures {
                dead.push(entry(&records[i as usize], reason));
            }
            (output, dropped)
        }
        Err(reason) => {
            tracing::warn!(plugin = stage.plugin.name(), records = records.len(), %reason, "Batch sent to the DLQ.");
            dead.extend(records.iter().map(|r| entry(r, reason.clone())));
            (Vec::new(), 0)
        }
    };
    let labels = [
        ("plugin", stage.plugin.name().to_string()),
        ("stage", stage.label.clone()),
    ];
    metrics::counter!("weir_stage_records_in_total", &labels).increment(records.len() as u64);
    metrics::counter!("weir_stage_records_out_total", &labels).increment(output.len() as u64);
    metrics::counter!("weir_stage_records_failed_total", &labels)
        .increment((dead.len() - dead_before) as u64);
    (output, dropped)
}

/// An outcome checked against its input: outputs (each inheriting its input's
/// origin), failures by input index, and how many inputs were dropped.
struct Split {
    output: Batch,
    failures: Vec<(u32, String)>,
    dropped: u64,
}

/// Splits an outcome after checking that every index names an input record.
fn split_outcome(records: &Batch, outcome: Outcome) -> Result<Split, String> {
    let in_range = |i: &u32| (*i as usize) < records.len();
    if !outcome.origins.iter().all(in_range)
        || !outcome.failures.iter().all(|(i, _)| in_range(i))
        || outcome.origins.len() != outcome.output.len()
    {
        return Err("outputs name input records that do not exist".into());
    }
    let output = record::from_flat(&outcome.output, |i| {
        records[outcome.origins[i] as usize].origin.clone()
    })
    .map_err(|e| e.to_string())?;
    let mut answered = vec![false; records.len()];
    for i in outcome
        .origins
        .iter()
        .chain(outcome.failures.iter().map(|(i, _)| i))
    {
        answered[*i as usize] = true;
    }
    let dropped = answered.iter().filter(|a| !**a).count() as u64;
    Ok(Split {
        output,
        failures: outcome.failures,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::reason_codes;

    #[test]
    fn reason_codes_come_from_the_prefix() {
        assert_eq!(
            reason_codes("quantity_positive,total_mismatch: quantity is -2"),
            vec!["quantity_positive", "total_mismatch"]
        );
        assert_eq!(reason_codes("late: window closed"), vec!["late"]);
        assert_eq!(reason_codes("record asked to fail"), vec!["rejected"]);
        assert_eq!(reason_codes("Bad thing: x"), vec!["rejected"]);
        assert_eq!(reason_codes("a,,b: x"), vec!["rejected"]);
    }
}
