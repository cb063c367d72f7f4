//! Plays one case's script through a fresh plugin instance.

use std::path::Path;
use std::sync::Arc;

use super::ConformanceError;
use super::case::{Case, Step};
use super::render::Produced;
use crate::record::{Batch, Record};
use crate::runtime::{
    CallError, GuestEnv, Limits, Plugin, PluginInstance, Role, Runtime, RuntimeError, VirtualEnv,
};
use weir_sdk::flat::{Outcome, Output};

/// The connector name plugins see in conformance runs.
const CONNECTOR: &str = "conformance";

/// Runs `case` against the component at `component` and records what it produced.
pub fn run_case(
    runtime: &Runtime,
    component: &Path,
    case: &Case,
) -> Result<Produced, ConformanceError> {
    let plugin = Arc::new(
        Plugin::load_any(runtime, component)
            .map_err(|e| ConformanceError::Plugin(e.to_string()))?,
    );
    let spec = &case.spec;
    let env = VirtualEnv::new(spec.seed, spec.clock_ms);
    let config = serde_json::to_string(&spec.config).map_err(|e| ConformanceError::Fixture {
        path: case.dir.join("case.toml"),
        reason: format!("config: {e}"),
    })?;
    let limits = Limits::resolve(spec.limits, plugin.language);
    let start = || {
        PluginInstance::start(
            plugin.clone(),
            CONNECTOR,
            config.clone(),
            limits,
            GuestEnv::Virtual(env.clone()),
        )
    };
    let mut out = Produced::default();
    let mut inst = match start() {
        Ok(i) => i,
        Err(e) => {
            out.error(0, "init", &init_error(&e));
            return Ok(out);
        }
    };
    let steps = if spec.steps.is_empty() {
        default_steps(plugin.role, case.input.len())
    } else {
        spec.steps.clone()
    };
    let mut cursor = 0usize;
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Clock(ms) => env.set_clock(*ms),
            Step::NextBatch(max) => match inst.next_batch(*max) {
                Ok(flat) => emit(&mut out, n, &flat, None, "next_batch"),
                Err(e) => out.error(n, "next_batch", &reason(&e)),
            },
            Step::Process(count) | Step::Update(count) => {
                let end = (cursor + count).min(case.input.len());
                let batch = &case.input[cursor..end];
                let columns = Arc::clone(Batch::from_records(batch).columns());
                let result = match step {
                    Step::Process(_) => inst.process(columns),
                    _ => inst.update(columns),
                };
                let call = if matches!(step, Step::Process(_)) {
                    "process"
                } else {
                    "update"
                };
                match result {
                    Ok(outcome) => match outcome.check(batch.len()) {
                        Err(e) => out.error(n, call, &format!("malformed outcome: {e}")),
                        Ok(()) => record_outcome(&mut out, n, batch, cursor, &outcome),
                    },
                    Err(e) => out.error(n, call, &reason(&e)),
                }
                cursor = end;
            }
            Step::Tick {
                watermark_ms,
                now_ms,
            } => {
                if let Some(now) = now_ms {
                    env.set_clock(*now);
                }
                match inst.tick(*watermark_ms, env.clock()) {
                    Ok(flat) => emit(&mut out, n, &flat, None, "tick"),
                    Err(e) => out.error(n, "tick", &reason(&e)),
                }
            }
            Step::Restart => {
                let state = match inst.snapshot() {
                    Ok(s) => s,
                    Err(e) => {
                        out.error(n, "snapshot", &reason(&e));
                        continue;
                    }
                };
                inst = match start() {
                    Ok(i) => i,
                    Err(e) => {
                        out.error(n, "init", &init_error(&e));
                        return Ok(out);
                    }
                };
                if let Err(e) = inst.restore(state.to_vec()) {
                    out.error(n, "restore", &reason(&e));
                }
            }
        }
    }
    match inst.snapshot() {
        Ok(s) => out.snapshot = s.to_vec(),
        Err(e) => out.error(steps.len(), "snapshot", &reason(&e)),
    }
    Ok(out)
}

/// With no script: sources are asked once for 10 records; transforms get every
/// input at once; aggregators too, then one tick that closes everything.
fn default_steps(role: Role, inputs: usize) -> Vec<Step> {
    match role {
        Role::Source => vec![Step::NextBatch(10)],
        Role::Transform => vec![Step::Process(inputs)],
        Role::Aggregator => vec![
            Step::Update(inputs),
            Step::Tick {
                watermark_ms: i64::MAX,
                now_ms: None,
            },
        ],
    }
}

/// A checked outcome's outputs in the order the next stage gets them (passed
/// inputs as they came in), then its failures; indices count from the case's
/// first input.
fn record_outcome(
    out: &mut Produced,
    step: usize,
    batch: &[Record],
    cursor: usize,
    outcome: &Outcome,
) {
    let emitted = match Batch::from_flat(outcome.output.clone()) {
        Ok(b) => b.to_records(),
        Err(e) => return out.error(step, "outcome", &format!("malformed batch: {e}")),
    };
    for (origin, from) in outcome.order() {
        let r = match from {
            Output::Passed => &batch[origin as usize],
            Output::New(j) => &emitted[j],
        };
        out.output(step, Some(cursor + origin as usize), r);
    }
    for f in &outcome.failures {
        out.failure(step, cursor + f.index as usize, &f.text());
    }
}

fn emit(
    out: &mut Produced,
    step: usize,
    flat: &weir_sdk::FlatBatch,
    origins: Option<&[usize]>,
    call: &str,
) {
    match Batch::from_flat(flat.clone()) {
        Ok(b) => {
            let records = b.to_records();
            for (i, r) in records.iter().enumerate() {
                out.output(step, origins.map(|o| o[i]), r);
            }
        }
        Err(e) => out.error(step, call, &format!("malformed batch: {e}")),
    }
}

/// Why an instance did not start, without the host's label for it (which
/// names the component file): a port of a plugin to another language passes
/// the same fixtures.
fn init_error(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Init { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn reason(e: &CallError) -> String {
    match e {
        CallError::Trap(r) => format!("instance discarded: {r}"),
        CallError::Plugin(r) => r.clone(),
    }
}
