//! The operator's window into a running host, on one address (loopback unless
//! told otherwise): Prometheus metrics at `/metrics`, liveness at `/healthz`,
//! readiness at `/readyz` (every connector started, none failed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("cannot serve metrics on {addr}: {source}; pick a free address with --metrics-listen")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
}

/// Where each connector of this host is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Running,
    Stopped,
    Failed(String),
}

/// The connectors' phases, shared by the run loop and the health endpoints.
#[derive(Debug, Default)]
pub struct Health {
    connectors: Mutex<BTreeMap<String, Phase>>,
}

impl Health {
    pub fn set(&self, connector: &str, phase: Phase) {
        if let Ok(mut c) = self.connectors.lock() {
            c.insert(connector.to_string(), phase);
        }
    }

    /// Ready when there is at least one connector, every one has started, and
    /// none has failed (a bounded connector that finished is fine).
    fn ready(&self) -> (bool, String) {
        let Ok(c) = self.connectors.lock() else {
            return (false, "health state unavailable\n".into());
        };
        let mut text = String::new();
        for (name, phase) in c.iter() {
            text.push_str(&format!("{name}: {phase:?}\n"));
        }
        let ready = !c.is_empty()
            && c.values()
                .all(|p| matches!(p, Phase::Running | Phase::Stopped));
        (ready, text)
    }
}

#[derive(Clone)]
struct Shared {
    metrics: PrometheusHandle,
    health: Arc<Health>,
}

/// Installs the metrics recorder and serves the endpoints on `addr` until the
/// process ends. Binding happens before this returns, so a taken port is an error.
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> Result<SocketAddr, ObserveError> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| ObserveError::Recorder(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ObserveError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ObserveError::Bind { addr, source })?;
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(Shared { metrics, health });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "The metrics endpoint stopped.");
        }
    });
    Ok(bound)
}

async fn render(State(s): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn ready(State(s): State<Shared>) -> impl IntoResponse {
    let (ready, text) = s.health.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_connector_runs() {
        let h = Health::default();
        assert!(!h.ready().0, "no connector yet");
        h.set("a", Phase::Starting);
        h.set("b", Phase::Running);
        assert!(!h.ready().0);
        h.set("a", Phase::Stopped);
        let (ready, text) = h.ready();
        assert!(ready, "{text}");
        h.set("b", Phase::Failed("sink: disk full".into()));
        let (ready, text) = h.ready();
        assert!(!ready);
        assert!(text.contains("b: Failed(\"sink: disk full\")"), "{text}");
    }
}
