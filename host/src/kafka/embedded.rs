//! The embedded Kafka-protocol broker (Tansu, memory storage) that `weir run`
//! starts when no cluster is configured, and `weir broker` runs on its own.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::StorageContainer;
use tokio::task::JoinHandle;
use url::Url;

use super::KafkaIoError;

/// A running in-process broker; dropping it stops the broker.
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts a broker on `listen` (port 0 picks a free port) and waits until it
    /// accepts connections.
    pub async fn start(listen: SocketAddr) -> Result<EmbeddedBroker, KafkaIoError> {
        let addr = if listen.port() == 0 {
            let probe = TcpListener::bind(listen)
                .map_err(|e| KafkaIoError::Embedded(format!("cannot bind {listen}: {e}")))?;
            probe
                .local_addr()
                .map_err(|e| KafkaIoError::Embedded(e.to_string()))?
        } else {
            listen
        };
        let url = Url::parse(&format!("tcp://{addr}"))
            .map_err(|e| KafkaIoError::Embedded(format!("bad listen address {addr}: {e}")))?;
        let storage =
            Url::parse("memory://weir/").map_err(|e| KafkaIoError::Embedded(e.to_string()))?;
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(tansu_broker::NODE_ID)
            .cluster_id(format!("weir-{}", uuid::Uuid::new_v4()))
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

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
