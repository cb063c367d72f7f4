//! The embedded Kafka-protocol broker (Tansu) that `weir run` starts when no
//! cluster is configured (memory storage), and `weir broker` runs on its own
//! (memory, or SQLite in a data directory that survives restarts).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::StorageContainer;
use tokio::task::JoinHandle;
use url::Url;

use super::KafkaIoError;

/// Where the broker keeps topics, offsets and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerStorage {
    /// Gone when the process ends: the zero-set-up default.
    Memory,
    /// `DIR/weir.db` (SQLite) and `DIR/cluster-id`: a restarted broker keeps
    /// every topic, record and committed offset, under the same cluster id (so
    /// connectors' checkpoints stay valid).
    Dir(PathBuf),
}

/// A running in-process broker; dropping it stops the broker.
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts a broker on `listen` (port 0 picks a free port) and waits until it
    /// accepts connections.
    pub async fn start(listen: SocketAddr) -> Result<EmbeddedBroker, KafkaIoError> {
        Self::start_with(listen, &BrokerStorage::Memory).await
    }

    /// Starts a broker on `listen` keeping its data in `storage`.
    pub async fn start_with(
        listen: SocketAddr,
        storage: &BrokerStorage,
    ) -> Result<EmbeddedBroker, KafkaIoError> {
        // Bound once here, so a port another program holds is an error now
        // (the broker's own bind fails inside its task, after a connection to
        // that other program would already have looked like success).
        let probe = TcpListener::bind(listen).map_err(|e| {
            KafkaIoError::Embedded(format!(
                "cannot listen on {listen}: {e}; another program holds it: stop it or choose another address"
            ))
        })?;
        let addr = probe
            .local_addr()
            .map_err(|e| KafkaIoError::Embedded(e.to_string()))?;
        drop(probe);
        let url = Url::parse(&format!("tcp://{addr}"))
            .map_err(|e| KafkaIoError::Embedded(format!("bad listen address {addr}: {e}")))?;
        let (storage, cluster_id) = match storage {
            BrokerStorage::Memory => (
                Url::parse("memory://weir/").map_err(|e| KafkaIoError::Embedded(e.to_string()))?,
                format!("weir-{}", uuid::Uuid::new_v4()),
            ),
            BrokerStorage::Dir(dir) => data_dir(dir)?,
        };
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(tansu_broker::NODE_ID)
            .cluster_id(cluster_id)
            .incarnation_id(uuid::Uuid::new_v4())
            .advertised_listener(url.clone())
            .listener(url)
            .storage(storage)
            .silent(true)
            .build()
            .await
            .map_err(|e| KafkaIoError::Embedded(format!("cannot start: {e:?}")))?;
        let task = tokio::spawn(async move {
            if let Err(e) = broker.serve(tokio::time::Instant::now()).await {
                tracing::error!(error = ?e, "Embedded broker stopped.");
            }
        });
        for _ in 0..200 {
            if task.is_finished() {
                return Err(KafkaIoError::Embedded(format!(
                    "the broker stopped right after starting; is {addr} already in use?"
                )));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(EmbeddedBroker { addr, task });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        task.abort();
        Err(KafkaIoError::Embedded(format!(
            "no answer on {addr} after 5 s"
        )))
    }

    /// Returns when the broker has stopped on its own (its error is logged).
    pub async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }
}

/// The SQLite URL and the cluster id of a data directory, created on first use.
fn data_dir(dir: &std::path::Path) -> Result<(Url, String), KafkaIoError> {
    let fail = |what: &str, e: std::io::Error| {
        KafkaIoError::Embedded(format!(
            "data directory {}: {what}: {e}; check that it is a writable folder",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| fail("cannot resolve it", e))?;
    let id_file = dir.join("cluster-id");
    let cluster_id = match std::fs::read_to_string(&id_file) {
        Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => {
            let id = format!("weir-{}", uuid::Uuid::new_v4());
            std::fs::write(&id_file, &id).map_err(|e| fail("cannot write cluster-id", e))?;
            id
        }
    };
    let db = dir.join("weir.db");
    let url = Url::parse(&format!("sqlite://{}", db.display()))
        .map_err(|e| KafkaIoError::Embedded(format!("data directory {}: {e}", dir.display())))?;
    Ok((url, cluster_id))
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
