//! The embedded Confluent-compatible schema registry that `weir broker` and a
//! `weir run` on the embedded broker start, and the client side every Avro
//! producer needs with any registry: [`client`] and the [`wire`] format.
//!
//! Its state lives in the Kafka topic `_schemas` (Confluent's layout), so a
//! restarted registry on the same cluster keeps every subject, version and id.

pub mod api;
pub mod client;
pub mod compat;
pub mod error;
pub mod log;
pub mod store;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::kafka::client::Cluster;

/// Where the registry listens unless told otherwise: Confluent's port, loopback.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8081,
));

/// Why the embedded registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "cannot listen on {addr} for the schema registry: {error}; pass --registry-listen 127.0.0.1:0 \
         or point --schema-registry-url at a running registry"
    )]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error(
        "the schema registry cannot use its Kafka topic `{topic}` on {bootstrap}: {reason}; check that \
         the cluster is reachable and the topic can be created and read",
        topic = log::TOPIC
    )]
    Topic { bootstrap: String, reason: String },
}

/// A running registry serving the Confluent REST API; dropping it stops the
/// server (requests in flight finish), [`EmbeddedRegistry::stop`] also waits
/// for that.
pub struct EmbeddedRegistry {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedRegistry {
    /// Reads the registry's state back from `_schemas` on `cluster` (creating
    /// the topic if needed), then serves on `listen` (port 0 picks a free port).
    pub async fn start(
        listen: SocketAddr,
        cluster: &Cluster,
    ) -> Result<EmbeddedRegistry, RegistryError> {
        let listen_error = |error| RegistryError::Listen {
            addr: listen,
            error,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let (log, store) = log::Log::open(cluster).await?;
        let app = api::router(Arc::new(api::Registry::new(store, log)));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(%addr, error = %e, "Schema registry stopped.");
            }
        });
        Ok(EmbeddedRegistry {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// `http://host:port`, for clients and `--schema-registry-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits (up to 5 s for requests in flight) until the
    /// registry has let go of its Kafka producer, so the broker can stop after
    /// it without the producer logging a lost connection.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for EmbeddedRegistry {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
