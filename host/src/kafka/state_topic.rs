//! State kept in a compacted topic, keyed by connector and partition: what a
//! partitioned aggregator checkpoints so that whichever host of the consumer
//! group holds a partition next can restore it. The newest value per key wins.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::KafkaIoError;
use super::client::Cluster;
use super::produce::{Outgoing, Producer, enqueue};
use crate::config::StartFrom;
use crate::record::Record;

/// How long loading may wait for the next record before giving up.
const READ_WAIT: Duration = Duration::from_secs(10);
/// How long one wait for a record lasts before the position is looked at.
const POLL: Duration = Duration::from_millis(200);

/// One state topic and the producer that writes to it.
pub struct StateTopic {
    cluster: Cluster,
    producer: Producer,
    topic: String,
}

impl StateTopic {
    pub fn new(cluster: Cluster, producer: Producer, topic: String) -> Self {
        StateTopic {
            cluster,
            producer,
            topic,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The newest value of every key whose name starts with `prefix`, read from
    /// the start of the topic to its end (without joining a group).
    pub async fn load(&self, prefix: &str) -> Result<HashMap<String, Vec<u8>>, KafkaIoError> {
        let topic = self.topic.as_str();
        let consume_err = |source| KafkaIoError::Consume {
            topic: topic.to_string(),
            source,
        };
        let consumer = self.cluster.consumer(
            &format!("weir-state-{}", uuid::Uuid::new_v4()),
            StartFrom::Earliest,
        )?;
        let ends =
            tokio::task::block_in_place(|| -> Result<Vec<(i32, i64, i64)>, KafkaIoError> {
                let meta = consumer
                    .fetch_metadata(Some(topic), READ_WAIT)
                    .map_err(consume_err)?;
                let mut ends = Vec::new();
                for t in meta.topics().iter().filter(|t| t.name() == topic) {
                    for p in t.partitions() {
                        let (low, high) = consumer
                            .fetch_watermarks(topic, p.id(), READ_WAIT)
                            .map_err(consume_err)?;
                        if high > low {
                            ends.push((p.id(), low, high));
                        }
                    }
                }
                Ok(ends)
            })?;
        let mut latest = HashMap::new();
        if ends.is_empty() {
            return Ok(latest);
        }
        let mut tpl = TopicPartitionList::new();
        for &(p, low, _) in &ends {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .map_err(consume_err)?;
        }
        consumer.assign(&tpl).map_err(consume_err)?;
        let mut pending: HashMap<i32, i64> = ends.iter().map(|&(p, _, high)| (p, high)).collect();
        let mut progress = tokio::time::Instant::now();
        while !pending.is_empty() {
            match tokio::time::timeout(POLL, consumer.recv()).await {
                Err(_) => {}
                Ok(Err(e)) => return Err(consume_err(e)),
                Ok(Ok(msg)) => {
                    progress = tokio::time::Instant::now();
                    if let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok())
                        && key.starts_with(prefix)
                    {
                        match msg.payload() {
                            Some(v) => latest.insert(key.to_string(), v.to_vec()),
                            None => latest.remove(key),
                        };
                    }
                    if pending
                        .get(&msg.partition())
                        .is_some_and(|&high| msg.offset() + 1 >= high)
                    {
                        pending.remove(&msg.partition());
                    }
                }
            }
            // Transaction markers and aborted records are never delivered to a
            // `read_committed` reader: its position passes them instead.
            if let Ok(at) = consumer.position() {
                for e in at.elements_for_topic(topic) {
                    if let Offset::Offset(o) = e.offset()
                        && pending.get(&e.partition()).is_some_and(|&high| o >= high)
                    {
                        pending.remove(&e.partition());
                    }
                }
            }
            if !pending.is_empty() && progress.elapsed() >= READ_WAIT {
                return Err(KafkaIoError::StateRead {
                    topic: topic.to_string(),
                    reason: format!(
                        "no record for {} s before the end of partitions {:?}",
                        READ_WAIT.as_secs(),
                        pending.keys().collect::<Vec<_>>()
                    ),
                });
            }
        }
        Ok(latest)
    }

    /// Writes every `(key, value)` and returns once all are acknowledged.
    pub async fn save(&self, entries: &[(String, Vec<u8>)]) -> Result<(), KafkaIoError> {
        let records: Vec<Record> = entries
            .iter()
            .map(|(k, v)| Record {
                key: Some(k.as_bytes().to_vec()),
                value: Some(v.clone()),
                ..Record::empty()
            })
            .collect();
        enqueue(
            &self.producer,
            &self.topic,
            records.iter().map(Outgoing::record),
        )
        .await?
        .settle()
        .await
    }
}
