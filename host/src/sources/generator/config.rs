//! `[source.generator]`: the table, its checks, its plan line, and how it opens.

use serde::Deserialize;

use super::GeneratorSource;
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, PluginRef, ResolveContext, SourceConnector,
};
use crate::plan::Level;
use crate::sources::{Source, SourceError};

/// A source plugin called at a steady rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSourceConfig {
    /// `plugin = "purchases-gen"` (a built plugin's name) or `plugin = "path/x.wasm"`.
    pub plugin: String,
    /// `rate_per_sec = 1000`: records per second; `0` means as fast as possible.
    #[serde(default = "defaults::rate_per_sec")]
    pub rate_per_sec: u64,
    /// `batch_size = 500`: records asked of the plugin per call.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// `max_records = 10000`: stop after this many; `0` runs until stopped.
    #[serde(default)]
    pub max_records: u64,
    /// `[source.generator.config]`: handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// `lookups = ["campaigns"]`: tables added to `config` under `lookups`.
    #[serde(default)]
    pub lookups: Vec<String>,
}

impl SourceConnector for GeneratorSourceConfig {
    fn kind(&self) -> &'static str {
        "generator"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        if self.batch_size == 0 {
            return Err(Invalid::new("batch_size", "must be at least 1"));
        }
        Ok(())
    }

    fn plugin(&self) -> Option<PluginRef<'_>> {
        Some(PluginRef {
            plugin: &self.plugin,
            config: &self.config,
            lookups: &self.lookups,
        })
    }

    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        let bound = if self.max_records > 0 {
            format!(", {} records", self.max_records)
        } else {
            String::new()
        };
        (
            Level::Ok,
            format!(
                "source: generator `{}` at {} records/s{bound}",
                self.plugin, self.rate_per_sec
            ),
        )
    }

    fn summary(&self) -> Option<String> {
        None
    }

    fn open(&self, cx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, SourceError> {
        let plugin = cx.plugin.take().ok_or_else(|| SourceError::Plugin {
            plugin: self.plugin.clone(),
            attempts: 0,
            reason: "the generator's plugin was not started".into(),
        })?;
        Ok(Box::new(GeneratorSource::new(
            plugin,
            self.rate_per_sec,
            self.batch_size,
            self.max_records,
        )))
    }
}
