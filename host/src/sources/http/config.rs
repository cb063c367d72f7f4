//! `[source.http]`: the table, its checks, its plan line, and how it opens.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::HttpSource;
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SourceConnector,
};
use crate::plan::Level;
use crate::sources::{Source, SourceError};

/// An HTTP endpoint polled on an interval; each new response body is one record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// `url = "${VEHICLE_URL}"`
    pub url: String,
    /// `interval_ms = 60000`: time between the starts of two polls.
    #[serde(default = "defaults::poll_interval_ms")]
    pub interval_ms: u64,
    /// `timeout_ms = 10000`: the whole request, body included.
    #[serde(default = "defaults::http_timeout_ms")]
    pub timeout_ms: u64,
    /// `max_body_bytes = 16777216`: a larger response is refused, not truncated.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// `retries = 4`: further attempts on a network error, 429 or 5xx.
    #[serde(default = "defaults::http_retries")]
    pub retries: u32,
    /// `backoff_ms = 500`: first retry delay, doubled each time (with jitter).
    #[serde(default = "defaults::backoff_ms")]
    pub backoff_ms: u64,
    /// `backoff_max_ms = 30000`: longest retry delay, also for `Retry-After`.
    #[serde(default = "defaults::backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// `[source.http.headers]`: sent with every request, e.g. an API key from
    /// `${API_KEY}`. Values are never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `max_polls = 0`: stop after this many polls (0: never).
    #[serde(default)]
    pub max_polls: u64,
}

impl HttpSourceConfig {
    /// The URL without its query, which may carry a key: what messages show.
    pub fn shown_url(&self) -> &str {
        self.url.split('?').next().unwrap_or(&self.url)
    }
}

impl SourceConnector for HttpSourceConfig {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => {
                return Err(Invalid::new(
                    "url",
                    format!("`{}` is not http(s)", u.scheme()),
                ));
            }
            Err(e) => {
                return Err(Invalid::new(
                    "url",
                    format!("`{}` is not a URL: {e}", self.shown_url()),
                ));
            }
        }
        if self.interval_ms < 100 || self.timeout_ms == 0 || self.max_body_bytes == 0 {
            return Err(Invalid::new(
                "",
                "interval_ms must be at least 100, timeout_ms and max_body_bytes above 0",
            ));
        }
        Ok(())
    }

    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        (
            Level::Ok,
            format!(
                "source: HTTP poll {} every {} ms",
                self.shown_url(),
                self.interval_ms
            ),
        )
    }

    fn summary(&self) -> Option<String> {
        Some(format!(
            "http({} every {} ms)",
            self.shown_url(),
            self.interval_ms
        ))
    }

    fn open(&self, cx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, SourceError> {
        let source =
            HttpSource::new(self.clone(), cx.name).map_err(|e| SourceError::Connector {
                kind: "http",
                source: Box::new(e),
            })?;
        Ok(Box::new(source))
    }
}
