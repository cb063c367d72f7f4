//! `purchases-model`: the vocabulary the purchases plugins share, so the generator,
//! the validator and the aggregator agree on it by construction: the rule
//! [`codes`], the required [`fields`], instants in epoch milliseconds ([`time`])
//! and money in integer cents ([`money`]).
//!
//! A plain library that exports no plugin world, so every plugin crate can link it.

pub mod codes;
pub mod fields;
pub mod money;
pub mod time;
