//! Topic creation with the partitions, replication and settings a connector names.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaIoError;
use super::client::Cluster;

/// The cluster's topics, or none when its metadata cannot be read (creation
/// then tells what is wrong).
fn existing_topics(cluster: &Cluster) -> std::collections::BTreeSet<String> {
    let Ok(client) = cluster.metadata_client() else {
        return Default::default();
    };
    let Ok(meta) =
        tokio::task::block_in_place(|| client.fetch_metadata(None, Duration::from_secs(10)))
    else {
        return Default::default();
    };
    meta.topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.name().to_string())
        .collect()
}

/// What a topic should look like when weir has to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
}

/// Creates the topics that do not exist yet; existing ones are left as they
/// are, without asking (a cluster may allow a connector to use topics it is
/// not allowed to create).
pub async fn ensure_topics(cluster: &Cluster, topics: &[TopicSpec]) -> Result<(), KafkaIoError> {
    let existing = existing_topics(cluster);
    let topics: Vec<&TopicSpec> = topics
        .iter()
        .filter(|t| !existing.contains(&t.name))
        .collect();
    if topics.is_empty() {
        return Ok(());
    }
    let admin = cluster.admin()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let mut n = NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(t.replication_factor),
            );
            for (k, v) in &t.config {
                n = n.set(k, v);
            }
            n
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        admin
            .create_topics(new.iter(), &opts)
            .await
            .map_err(|e| KafkaIoError::CreateTopic {
                topic: topics
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                bootstrap: cluster.bootstrap.clone(),
                reason: e.to_string(),
            })?;
    for r in results {
        match r {
            Ok(topic) => tracing::info!(topic, "Created topic."),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic, "Topic exists.")
            }
            Err((topic, code)) => {
                return Err(KafkaIoError::CreateTopic {
                    topic,
                    bootstrap: cluster.bootstrap.clone(),
                    reason: code.to_string(),
                });
            }
        }
    }
    Ok(())
}
