//! `cdc-model`: what the CDC plugins share, so the generator, the shaper and the
//! materialized table agree on it by construction: the `users` [`row`], the
//! operation names of raw changes and envelopes ([`op`]), exact money as decimal
//! strings ([`money`]), the failure [`codes`] and the field checks that produce
//! them ([`fields`]).
//!
//! A plain library that exports no plugin world, so every CDC plugin can link it.

pub mod codes;
pub mod fields;
pub mod money;
pub mod op;
pub mod row;

pub use op::{Op, RawOp};
pub use row::Row;
