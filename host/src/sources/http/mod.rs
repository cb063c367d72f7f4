//! `[source.http]`: an endpoint polled on an interval (a GTFS-realtime feed, a
//! REST API). Each new response body becomes one record for the plugins, with
//! the URL, fetch time and HTTP status in headers. Conditional requests
//! (ETag / Last-Modified), gzip, a body size limit, and retries with exponential
//! backoff and jitter on network errors, 429 and 5xx (honouring `Retry-After`).
//! The pipeline handles each poll before the next one starts, so a slow sink
//! pauses polling instead of filling memory.

use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, HeaderName, HeaderValue, LAST_MODIFIED, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;

use super::{Source, SourceError};
use crate::record::{Batch, now_ms};
use crate::telemetry::{Emit, HttpPolled};

mod config;

pub use config::HttpSourceConfig;

/// Header names on polled records.
pub const URL_HEADER: &str = "weir.http.url";
pub const FETCHED_HEADER: &str = "weir.http.fetched_ms";
pub const STATUS_HEADER: &str = "weir.http.status";

#[derive(Debug, thiserror::Error)]
pub enum HttpSourceError {
    #[error("source.http.headers: `{0}` is not a valid header name or value")]
    Header(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What one attempt came to.
enum Attempt {
    Body(Vec<u8>, StatusCode),
    NotModified,
    /// Worth another try (network error, timeout, 429, 5xx), maybe after a given delay.
    Retry(String, Option<Duration>),
    /// Not worth retrying (4xx, body too large).
    Fail(String),
}

pub struct HttpSource {
    client: Client,
    config: HttpSourceConfig,
    connector: String,
    next_poll: Instant,
    polls: u64,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    /// SHA-256 of the last body handed on: an identical body is skipped.
    last_body: Option<[u8; 32]>,
    /// Seeds the retry jitter.
    jitter: u64,
}

impl HttpSource {
    pub fn new(config: HttpSourceConfig, connector: &str) -> Result<Self, HttpSourceError> {
        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| HttpSourceError::Header(k.clone()))?;
            let mut value =
                HeaderValue::from_str(v).map_err(|_| HttpSourceError::Header(k.clone()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_millis(config.timeout_ms))
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpSourceError::Client(e.to_string()))?;
        Ok(HttpSource {
            client,
            connector: connector.to_string(),
            next_poll: Instant::now(),
            polls: 0,
            etag: None,
            last_modified: None,
            last_body: None,
            jitter: now_ms() as u64 | 1,
            config,
        })
    }

    /// Waits for the next poll time, polls (retrying as configured) and returns
    /// the new body as one record; an empty batch when there is nothing new or
    /// the poll failed; `None` after `max_polls`.
    async fn poll_next(&mut self, stop: &CancellationToken) -> Option<Batch> {
        if self.config.max_polls > 0 && self.polls >= self.config.max_polls {
            return None;
        }
        tokio::select! {
            _ = stop.cancelled() => return Some(Batch::default()),
            _ = tokio::time::sleep_until(self.next_poll) => {}
        }
        self.next_poll = Instant::now() + Duration::from_millis(self.config.interval_ms);
        self.polls += 1;
        let mut delay = Duration::from_millis(self.config.backoff_ms);
        for attempt in 0..=self.config.retries {
            let started = std::time::Instant::now();
            let outcome = self.attempt().await;
            let seconds = started.elapsed().as_secs_f64();
            let label = status_label(&outcome);
            HttpPolled {
                connector: &self.connector,
                status: &label,
                seconds,
                body_bytes: match &outcome {
                    Attempt::Body(body, _) => Some(body.len() as u64),
                    _ => None,
                },
            }
            .emit();
            match outcome {
                Attempt::Body(body, code) => {
                    let hash: [u8; 32] = Sha256::digest(&body).into();
                    if self.last_body == Some(hash) {
                        tracing::info!(connector = %self.connector, url = %self.config.url, status = code.as_u16(), bytes = body.len(), ms = (seconds * 1e3) as u64, "Polled: same body as last time; skipped.");
                        return Some(Batch::default());
                    }
                    self.last_body = Some(hash);
                    tracing::info!(connector = %self.connector, url = %self.config.url, status = code.as_u16(), bytes = body.len(), ms = (seconds * 1e3) as u64, "Polled.");
                    return Some(self.record(&body, code));
                }
                Attempt::NotModified => {
                    tracing::info!(connector = %self.connector, url = %self.config.url, status = 304, ms = (seconds * 1e3) as u64, "Polled: not modified.");
                    return Some(Batch::default());
                }
                Attempt::Fail(reason) => {
                    tracing::error!(connector = %self.connector, url = %self.config.url, %reason, "Poll failed; trying again at the next interval.");
                    return Some(Batch::default());
                }
                Attempt::Retry(reason, retry_after) => {
                    if attempt == self.config.retries {
                        tracing::error!(connector = %self.connector, url = %self.config.url, %reason, attempts = attempt + 1, "Poll failed after every retry; trying again at the next interval.");
                        return Some(Batch::default());
                    }
                    let max = Duration::from_millis(self.config.backoff_max_ms);
                    let wait = retry_after.unwrap_or_else(|| self.jittered(delay)).min(max);
                    tracing::warn!(connector = %self.connector, url = %self.config.url, %reason, status = %label, retry_in_ms = wait.as_millis() as u64, "Poll failed; retrying.");
                    tokio::select! {
                        _ = stop.cancelled() => return Some(Batch::default()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    delay = (delay * 2).min(max);
                }
            }
        }
        Some(Batch::default())
    }

    async fn attempt(&mut self) -> Attempt {
        let mut req = self.client.get(&self.config.url);
        if let Some(e) = &self.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e.clone());
        }
        if let Some(m) = &self.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m.clone());
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(describe(&e), None),
        };
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Attempt::NotModified;
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Attempt::Retry(format!("HTTP {status}"), after);
        }
        if !status.is_success() {
            return Attempt::Fail(format!("HTTP {status}"));
        }
        let max = self.config.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > max) {
            return Attempt::Fail(format!("body larger than max_body_bytes ({max})"));
        }
        let etag = resp.headers().get(ETAG).cloned();
        let last_modified = resp.headers().get(LAST_MODIFIED).cloned();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() as u64 + c.len() as u64 > max {
                        return Attempt::Fail(format!("body larger than max_body_bytes ({max})"));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => {
                    return Attempt::Retry(format!("reading the body: {}", describe(&e)), None);
                }
            }
        }
        self.etag = etag;
        self.last_modified = last_modified;
        Attempt::Body(body, status)
    }

    fn record(&self, body: &[u8], status: StatusCode) -> Batch {
        let fetched = now_ms();
        let fetched_text = fetched.to_string();
        let status_text = status.as_u16().to_string();
        let url = self.config.url.as_bytes();
        let mut batch = Batch::with_capacity(1, body.len() + 2 * url.len() + 64);
        batch.push(
            Some(url),
            Some(body),
            [
                (URL_HEADER, url),
                (FETCHED_HEADER, fetched_text.as_bytes()),
                (STATUS_HEADER, status_text.as_bytes()),
            ],
            fetched,
            None,
        );
        batch
    }

    /// `delay` ± up to half of it, from a xorshift stream.
    fn jittered(&mut self, delay: Duration) -> Duration {
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let half = delay.as_millis() as u64 / 2;
        let spread = if half == 0 {
            0
        } else {
            self.jitter % (2 * half + 1)
        };
        Duration::from_millis(delay.as_millis() as u64 - half + spread)
    }
}

fn status_label(a: &Attempt) -> String {
    match a {
        Attempt::Body(_, s) => s.as_u16().to_string(),
        Attempt::NotModified => "304".into(),
        Attempt::Retry(r, _) | Attempt::Fail(r) => r
            .strip_prefix("HTTP ")
            .and_then(|s| s.split(' ').next())
            .map_or_else(|| "error".to_string(), str::to_string),
    }
}

/// A reqwest error without the URL (it may carry credentials in the query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

impl Source for HttpSource {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn next_batch<'a>(
        &'a mut self,
        _max: usize,
        stop: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Option<Batch>, SourceError>> {
        Box::pin(async move { Ok(self.poll_next(stop).await) })
    }

    /// A feed cannot be fetched again: each poll's batch lands before the next.
    fn can_replay(&self) -> bool {
        false
    }
}
