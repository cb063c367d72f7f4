//! One live plugin instance: its own store, limits and deadline per call. A trap
//! throws the instance away; the next call starts a fresh one with the same
//! config, restores the last snapshot and replays the calls made since, so the
//! fresh instance holds the state the trapped one had before the bad call.

use std::sync::Arc;

use wasmtime::{Store, Trap};
use weir_sdk::flat::{Failure, FlatBatch, Outcome};

use super::bindings::{aggregator_api, source_api, transform_api, types};
use super::component::{Indices, Plugin};
use super::env::GuestEnv;
use super::host::HostState;
use super::language::Language;
use super::{EPOCH_TICK, RuntimeError};
use crate::config::LimitsConfig;

/// Why a call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Deadline, memory cap, panic or other trap: a plugin bug or a hostile input.
    /// The instance was discarded.
    #[error("{0}")]
    Trap(String),
    /// The plugin itself refused the batch with this reason.
    #[error("{0}")]
    Plugin(String),
}

/// Sandbox limits for one instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: usize,
    pub call_timeout_ms: u64,
}

impl Limits {
    /// The connector's limits, each one it leaves out taken from the defaults
    /// for the plugin's language.
    pub fn resolve(c: LimitsConfig, language: Language) -> Limits {
        let d = language.default_limits();
        Limits {
            memory_bytes: c.memory_mb.map_or(d.memory_bytes, |mb| (mb as usize) << 20),
            call_timeout_ms: c.call_timeout_ms.unwrap_or(d.call_timeout_ms),
        }
    }
}

enum Guest {
    Source(source_api::Guest),
    Transform(transform_api::Guest),
    Aggregator(aggregator_api::Guest),
}

struct Live {
    store: Store<HostState>,
    guest: Guest,
}

/// A plugin instance with its config, re-created on demand after a trap.
pub struct PluginInstance {
    plugin: Arc<Plugin>,
    label: String,
    config_json: String,
    limits: Limits,
    env: GuestEnv,
    live: Option<Live>,
    /// State to hand to a fresh instance after a trap.
    last_snapshot: Option<Arc<Vec<u8>>>,
    /// Calls since `last_snapshot`, replayed into a fresh instance after a trap.
    journal: Vec<Request>,
    journal_bytes: usize,
    /// Most bytes of input journaled before a snapshot takes their place
    /// (see [`PluginInstance::journal_limit`]).
    journal_cap: usize,
    /// A snapshot failed when the journal was full: a trap now loses the
    /// state since the last snapshot.
    journal_full: bool,
    /// How many times the instance was replaced.
    pub restarts: u64,
}

impl PluginInstance {
    /// Instantiates the plugin and calls `init`, so config errors show before
    /// any data moves.
    pub fn start(
        plugin: Arc<Plugin>,
        connector: &str,
        config_json: String,
        limits: Limits,
        env: GuestEnv,
    ) -> Result<PluginInstance, RuntimeError> {
        let label = format!("{connector}/{}", plugin.name);
        let mut inst = PluginInstance {
            plugin,
            label,
            config_json,
            limits,
            env,
            live: None,
            last_snapshot: None,
            journal: Vec::new(),
            journal_bytes: 0,
            journal_cap: JOURNAL_CAP,
            journal_full: false,
            restarts: 0,
        };
        inst.instantiate().map_err(|reason| RuntimeError::Init {
            plugin: inst.label.clone(),
            reason,
        })?;
        Ok(inst)
    }

    /// With `bytes` of input journaled at most between snapshots instead of
    /// [`JOURNAL_CAP`] (tests use a small one).
    pub fn with_journal_cap(mut self, bytes: usize) -> Self {
        self.journal_cap = bytes;
        self
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    fn instantiate(&mut self) -> Result<(), String> {
        let mut store = Store::new(
            self.plugin.runtime.engine(),
            HostState::new(self.label.clone(), self.limits.memory_bytes, &self.env),
        );
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let instance = self
            .plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| describe(&e, &store, self.limits))?;
        let guest = match &self.plugin.indices {
            Indices::Source(i) => i.load(&mut store, &instance).map(Guest::Source),
            Indices::Transform(i) => i.load(&mut store, &instance).map(Guest::Transform),
            Indices::Aggregator(i) => i.load(&mut store, &instance).map(Guest::Aggregator),
        }
        .map_err(|e| format!("{e:#}"))?;
        let config = self.config_json.as_str();
        let init = match &guest {
            Guest::Source(g) => g.call_init(&mut store, config),
            Guest::Transform(g) => g.call_init(&mut store, config),
            Guest::Aggregator(g) => g.call_init(&mut store, config),
        };
        match init {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => return Err(format!("init refused the config: {msg}")),
            Err(e) => {
                return Err(format!(
                    "init trapped: {}",
                    describe(&e, &store, self.limits)
                ));
            }
        }
        if let Some(state) = &self.last_snapshot {
            store.set_epoch_deadline(self.deadline_ticks());
            let restored = match &guest {
                Guest::Source(g) => g.call_restore(&mut store, state),
                Guest::Aggregator(g) => g.call_restore(&mut store, state),
                Guest::Transform(g) => g.call_restore(&mut store, state),
            };
            match restored {
                Ok(Ok(())) => {}
                Ok(Err(msg)) => return Err(format!("restore refused the snapshot: {msg}")),
                Err(e) => {
                    return Err(format!(
                        "restore trapped: {}",
                        describe(&e, &store, self.limits)
                    ));
                }
            }
        }
        if self.journal_full {
            tracing::error!(plugin = %self.label, "The replay journal was dropped when a snapshot in its place failed; the fresh instance starts from the last snapshot and the state since is lost.");
            self.journal_full = false;
        }
        for (n, req) in self.journal.iter().enumerate() {
            store.set_epoch_deadline(self.deadline_ticks());
            if let Err(e) = dispatch(&guest, &mut store, req) {
                let reason = describe(&e, &store, self.limits);
                self.journal.clear();
                self.journal_bytes = 0;
                return Err(format!(
                    "replaying call {} of the calls since the last snapshot trapped: {reason}",
                    n + 1
                ));
            }
        }
        if !self.journal.is_empty() {
            tracing::info!(plugin = %self.label, calls = self.journal.len(), "Replayed the calls since the last snapshot into the fresh instance.");
        }
        self.live = Some(Live { store, guest });
        Ok(())
    }

    /// Keeps a call that returned (its effect is in the state) for replay.
    /// When the journal outgrows its cap, a snapshot takes its
    /// place: the state then covers every call kept, so replay stays whole
    /// and the journal's memory stays bounded under load.
    fn remember(&mut self, req: Request) {
        if self.journal_full {
            return;
        }
        self.journal_bytes += req.bytes();
        self.journal.push(req);
        if self.journal_bytes <= self.journal_limit() {
            return;
        }
        match self.snapshot() {
            Ok(state) => {
                tracing::debug!(plugin = %self.label, state_bytes = state.len(), "Replay journal full: took a snapshot in its place.");
            }
            Err(e) => {
                tracing::warn!(plugin = %self.label, journal_mib = self.journal_limit() >> 20, error = %e, "Replay journal full and the plugin's snapshot failed; until the next checkpoint a trap loses the state since the last one.");
                self.journal.clear();
                self.journal_bytes = 0;
                self.journal_full = true;
            }
        }
    }

    /// Bytes of input the journal holds before a snapshot takes their place.
    fn journal_limit(&self) -> usize {
        let state = self.last_snapshot.as_ref().map_or(0, |s| s.len());
        journal_limit(state, self.journal_cap)
    }

    /// A fresh base: nothing to replay.
    fn forget_journal(&mut self) {
        self.journal.clear();
        self.journal_bytes = 0;
        self.journal_full = false;
    }

    /// Makes a state-changing call and journals it unless it trapped.
    fn request(&mut self, req: Request) -> Result<Reply, CallError> {
        let r = self.call(|g, store| dispatch(g, store, &req));
        if !matches!(r, Err(CallError::Trap(_))) {
            self.remember(req);
        }
        r
    }

    /// The limits this instance runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The largest linear memory the live instance has grown to, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.live.as_ref().map_or(0, |l| l.store.data().limits.peak)
    }

    fn deadline_ticks(&self) -> u64 {
        self.limits
            .call_timeout_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64)
            .max(1)
    }

    /// Runs one guest call under the deadline; a trap discards the instance.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallError> {
        if self.live.is_none() {
            self.restarts += 1;
            tracing::warn!(plugin = %self.label, restarts = self.restarts, "Starting a fresh plugin instance after a trap.");
            self.instantiate()
                .map_err(|e| CallError::Trap(format!("cannot restart the plugin: {e}")))?;
        }
        let ticks = self.deadline_ticks();
        let limits = self.limits;
        let Some(live) = self.live.as_mut() else {
            return Err(CallError::Trap("no live instance".into()));
        };
        live.store.set_epoch_deadline(ticks);
        match f(&live.guest, &mut live.store) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(msg)) => Err(CallError::Plugin(msg)),
            Err(e) => {
                let reason = describe(&e, &live.store, limits);
                self.live = None;
                Err(CallError::Trap(reason))
            }
        }
    }

    /// Source: up to `max` new records.
    pub fn next_batch(&mut self, max: u32) -> Result<FlatBatch, CallError> {
        self.request(Request::NextBatch(max))?.batch()
    }

    /// Transform: one outcome per input record. The columns are shared, not
    /// copied: the replay journal keeps them until the next snapshot.
    pub fn process(&mut self, input: Arc<types::Batch>) -> Result<Outcome, CallError> {
        self.request(Request::Process(input))?.outcome()
    }

    /// Aggregator: folds a batch into the state.
    pub fn update(&mut self, input: Arc<types::Batch>) -> Result<Outcome, CallError> {
        self.request(Request::Update(input))?.outcome()
    }

    /// Aggregator: emits what the watermark completed.
    pub fn tick(&mut self, watermark_ms: i64, now_ms: i64) -> Result<FlatBatch, CallError> {
        self.request(Request::Tick(watermark_ms, now_ms))?.batch()
    }

    /// The plugin's state; also kept to restore a fresh instance after a trap.
    pub fn snapshot(&mut self) -> Result<Arc<Vec<u8>>, CallError> {
        let state = self.call(|g, store| match g {
            Guest::Source(g) => g.call_snapshot(store).map(Ok),
            Guest::Aggregator(g) => g.call_snapshot(store).map(Ok),
            Guest::Transform(g) => g.call_snapshot(store).map(Ok),
        })?;
        let state = Arc::new(state);
        self.last_snapshot = Some(Arc::clone(&state));
        self.forget_journal();
        Ok(state)
    }

    /// Restores a snapshot into the live instance (and any later replacement).
    pub fn restore(&mut self, state: Vec<u8>) -> Result<(), CallError> {
        let r = self.call(|g, store| match g {
            Guest::Source(g) => g.call_restore(store, &state),
            Guest::Aggregator(g) => g.call_restore(store, &state),
            Guest::Transform(g) => g.call_restore(store, &state),
        });
        self.last_snapshot = Some(Arc::new(state));
        self.forget_journal();
        r
    }
}

/// Most bytes of input kept for replay between two snapshots.
const JOURNAL_CAP: usize = 32 << 20;
/// Bytes of input kept for replay between two snapshots however small the state.
const JOURNAL_MIN: usize = 4 << 20;

/// Bytes of input to journal after a snapshot of `state` bytes: as many as
/// the state holds, within [`JOURNAL_MIN`] and `cap`. A snapshot copies the
/// whole state out of the guest, so taking one per as many input bytes as the
/// state holds keeps that copying near a byte per input byte, while a small
/// state keeps a small journal (a fixed 32 MiB held up to that much input in
/// memory for every stateful plugin, however small its state).
fn journal_limit(state: usize, cap: usize) -> usize {
    state.clamp(JOURNAL_MIN.min(cap), cap)
}

/// A call that can change a plugin's state.
enum Request {
    NextBatch(u32),
    Process(Arc<types::Batch>),
    Update(Arc<types::Batch>),
    Tick(i64, i64),
}

impl Request {
    fn bytes(&self) -> usize {
        match self {
            // What the batch holds in memory, room included.
            Request::Process(b) | Request::Update(b) => {
                b.data.capacity()
                    + 4 * (b.keys.capacity()
                        + b.values.capacity()
                        + b.header_counts.capacity()
                        + b.headers.capacity())
                    + 8 * b.timestamps.capacity()
            }
            Request::NextBatch(_) | Request::Tick(..) => 16,
        }
    }
}

/// What a call returned.
enum Reply {
    Batch(FlatBatch),
    Outcome(Outcome),
}

impl Reply {
    fn batch(self) -> Result<FlatBatch, CallError> {
        match self {
            Reply::Batch(b) => Ok(b),
            Reply::Outcome(_) => Err(CallError::Plugin("expected a batch".into())),
        }
    }

    fn outcome(self) -> Result<Outcome, CallError> {
        match self {
            Reply::Outcome(o) => Ok(o),
            Reply::Batch(_) => Err(CallError::Plugin("expected an outcome".into())),
        }
    }
}

/// One call into the guest, if its world has it.
fn dispatch(
    guest: &Guest,
    store: &mut Store<HostState>,
    req: &Request,
) -> wasmtime::Result<Result<Reply, String>> {
    match (guest, req) {
        (Guest::Source(g), Request::NextBatch(max)) => g
            .call_next_batch(store, *max)
            .map(|r| r.map(|b| Reply::Batch(crate::record::flat(b)))),
        (Guest::Transform(g), Request::Process(b)) => g
            .call_process(store, b)
            .map(|r| r.map(|o| Reply::Outcome(outcome(o)))),
        (Guest::Aggregator(g), Request::Update(b)) => g
            .call_update(store, b)
            .map(|r| r.map(|o| Reply::Outcome(outcome(o)))),
        (Guest::Aggregator(g), Request::Tick(watermark, now)) => g
            .call_tick(store, *watermark, *now)
            .map(|r| r.map(|b| Reply::Batch(crate::record::flat(b)))),
        _ => Ok(Err("the plugin's world has no such call".into())),
    }
}

/// A trap in words: which limit was hit, and the guest's last stderr lines.
fn describe(err: &wasmtime::Error, store: &Store<HostState>, limits: Limits) -> String {
    let text = format!("{err:#}");
    let mut reason = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "deadline exceeded: the call ran longer than {} ms (limits.call_timeout_ms)",
            limits.call_timeout_ms
        ),
        _ if text.contains("growing memory") || text.contains("memory minimum size") => format!(
            "memory cap exceeded: the plugin tried to grow past {} MiB (limits.memory_mb): {text}",
            limits.memory_bytes >> 20
        ),
        Some(trap) => format!("trap: {trap}"),
        None => text,
    };
    let tail = store.data().stderr_tail();
    if !tail.is_empty() {
        reason.push_str("; plugin stderr: ");
        reason.push_str(&tail);
    }
    reason
}

fn outcome(o: types::Outcome) -> Outcome {
    Outcome {
        output: crate::record::flat(o.output),
        origins: o.origins,
        passed: o.passed,
        failures: o
            .failures
            .into_iter()
            .map(|f| Failure {
                index: f.index,
                codes: f.codes,
                reason: f.reason,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_holds_as_much_input_as_the_state_within_its_bounds() {
        // No state yet, or a small one: the floor.
        assert_eq!(journal_limit(0, JOURNAL_CAP), JOURNAL_MIN);
        assert_eq!(journal_limit(1 << 10, JOURNAL_CAP), JOURNAL_MIN);
        // A state between the bounds: as many input bytes as it holds.
        assert_eq!(journal_limit(10 << 20, JOURNAL_CAP), 10 << 20);
        // A large state: the cap.
        assert_eq!(journal_limit(100 << 20, JOURNAL_CAP), JOURNAL_CAP);
        // A cap below the floor (tests set one) wins.
        assert_eq!(journal_limit(0, 4 << 10), 4 << 10);
        assert_eq!(journal_limit(1 << 20, 4 << 10), 4 << 10);
    }
}
