//! The weir guest SDK: write a plugin as a plain Rust type, export it with one macro.
//!
//! ```ignore
//! struct Upper;
//! impl weir_sdk::Transform for Upper {
//!     fn init(_config: &str) -> Result<Self, String> { Ok(Upper) }
//!     fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
//!         for (i, r) in input.iter().enumerate() {
//!             let v = r.value.map(|v| v.to_ascii_uppercase());
//!             out.emit(i, r.key, v.as_deref(), &r.headers, r.timestamp_ms);
//!         }
//!         Ok(())
//!     }
//! }
//! weir_sdk::export_transform!(Upper);
//! ```
//!
//! The flat batch layout ([`flat`], also used by the host) and the generic failure
//! [`codes`] are plain Rust without dependencies; the bindings, the macros,
//! [`now_ms`] and the JSON helpers for config and snapshots ([`parse_config`],
//! [`snapshot_json`], [`restore_json`]) and the writers of generated JSON
//! ([`json_out`]) exist with the `json` feature (part of the default `guest`).

pub mod codes;
pub mod flat;
pub mod ids;
pub mod scan;

pub use codes::Rejection;
pub use flat::{Failure, FlatBatch, HeaderTable, Outcome, RecordRef};

#[cfg(feature = "guest")]
mod guest;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "json")]
pub mod json_out;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "guest")]
pub use guest::*;
#[cfg(feature = "json")]
pub use json::*;
#[cfg(feature = "guest")]
#[doc(hidden)]
pub use wit_bindgen;

/// A plugin that makes records (the `source` world).
pub trait Source: Sized {
    /// Builds the plugin from the connector's plugin config (JSON).
    fn init(config: &str) -> Result<Self, String>;
    /// Appends up to `max_records` records to `out`; none means "nothing now".
    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String>;
    /// State to resume from after a restart.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Resumes from a [`Source::snapshot`].
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// A plugin that maps each input record to zero or more outputs or a failure
/// (the `transform` world).
pub trait Transform: Sized {
    fn init(config: &str) -> Result<Self, String>;
    /// Records an outcome for each input in `out`; an `Err` fails the whole batch.
    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String>;
    /// State kept between batches, checkpointed with the source positions.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Resumes from a [`Transform::snapshot`].
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// A stateful plugin the host checkpoints (the `aggregator` world).
pub trait Aggregator: Sized {
    fn init(config: &str) -> Result<Self, String>;
    fn update(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String>;
    /// Emits what the watermark has completed.
    fn tick(&mut self, watermark_ms: i64, now_ms: i64, out: &mut FlatBatch) -> Result<(), String>;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, state: &[u8]) -> Result<(), String>;
}
