//! weir: a host for Kafka-Connect-style pipelines whose logic runs as sandboxed
//! WebAssembly components. A record enters in [`sources`], crosses [`runtime`]
//! into plugins, and leaves through [`sinks`]; [`pipeline`] drives the loop.

pub mod config;
pub mod conformance;
pub mod connectors;
pub mod kafka;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod postgres;
pub mod record;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod telemetry;
