//! `campaign-model`: the vocabulary the campaign plugins share, so the view-log
//! generator and the per-minute aggregator agree on it by construction: the
//! [`view`] record and its parser, the [`campaigns`] lookup table as the host
//! hands it over, the failure [`codes`] (which double as the `weir.injected`
//! labels), UTC [`time`] formats and [`json`] for reading views without a
//! `Value` tree.
//!
//! A plain library that exports no plugin world, so every plugin crate can link it.

pub mod campaigns;
pub mod codes;
pub mod time;
pub mod view;
