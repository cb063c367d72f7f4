//! `[sink.console]`: the table, its plan line, and how it opens.

use serde::Deserialize;

use super::ConsoleSink;
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SinkConnector,
};
use crate::plan::Level;
use crate::sinks::{Sink, SinkError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSinkConfig {
    /// `format = "table"` or `"json"` (one line per record).
    #[serde(default)]
    pub format: ConsoleFormat,
    /// `max_rows = 20`: rows shown per batch in table format.
    #[serde(default = "defaults::max_rows")]
    pub max_rows: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleFormat {
    #[default]
    Table,
    Json,
}

impl SinkConnector for ConsoleSinkConfig {
    fn kind(&self) -> &'static str {
        "console"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        Ok(())
    }

    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        (
            Level::Ok,
            format!("sink: console ({:?})", self.format).to_lowercase(),
        )
    }

    fn summary(&self) -> String {
        "console".into()
    }

    fn open(&self, cx: &OpenContext<'_>) -> Result<Box<dyn Sink>, SinkError> {
        Ok(Box::new(ConsoleSink::new(
            cx.name.to_string(),
            self.format,
            self.max_rows,
        )))
    }
}
