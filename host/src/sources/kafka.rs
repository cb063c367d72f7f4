//! `[source.kafka]`: a topic read in a consumer group; offsets are committed only
//! after the pipeline has handled a batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;

use crate::kafka::KafkaIoError;
use crate::record::{Batch, Origin, Record, now_ms};

pub struct KafkaSource {
    consumer: StreamConsumer,
    topic: Arc<str>,
    batch_size: usize,
    batch_timeout: Duration,
    /// Offsets handled but not yet committed, per partition (next offset to read).
    pending: BTreeMap<i32, i64>,
}

impl KafkaSource {
    pub fn new(
        consumer: StreamConsumer,
        topic: &str,
        batch_size: u32,
        batch_timeout_ms: u64,
    ) -> Result<Self, KafkaIoError> {
        consumer
            .subscribe(&[topic])
            .map_err(|source| KafkaIoError::Subscribe {
                topic: topic.to_string(),
                source,
            })?;
        Ok(KafkaSource {
            consumer,
            topic: topic.into(),
            batch_size: batch_size as usize,
            batch_timeout: Duration::from_millis(batch_timeout_ms),
            pending: BTreeMap::new(),
        })
    }

    /// Waits for a first record, then gathers more until `max` or the batch timeout.
    pub async fn next_batch(&mut self, max: usize) -> Result<Batch, KafkaIoError> {
        let max = max.min(self.batch_size);
        let mut batch = Vec::new();
        let deadline = Instant::now() + self.batch_timeout;
        while batch.len() < max {
            let msg = match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => break,
                Ok(Err(source)) => {
                    tracing::warn!(topic = %self.topic, error = %source, "Consumer error; retrying.");
                    if batch.is_empty() {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    break;
                }
                Ok(Ok(m)) => m,
            };
            let headers = msg
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default();
            batch.push(Record {
                key: msg.key().map(<[u8]>::to_vec),
                value: msg.payload().map(<[u8]>::to_vec),
                headers,
                timestamp_ms: msg.timestamp().to_millis().unwrap_or_else(now_ms),
                origin: Some(Origin {
                    topic: self.topic.clone(),
                    partition: msg.partition(),
                    offset: msg.offset(),
                }),
            });
        }
        Ok(batch)
    }

    /// Commits the offsets after every record of `batch`.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), KafkaIoError> {
        for o in batch.iter().filter_map(|r| r.origin.as_ref()) {
            let next = self.pending.entry(o.partition).or_insert(0);
            *next = (*next).max(o.offset + 1);
        }
        self.flush(CommitMode::Async)
    }

    fn flush(&mut self, mode: CommitMode) -> Result<(), KafkaIoError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (&p, &next) in &self.pending {
            tpl.add_partition_offset(&self.topic, p, Offset::Offset(next))
                .map_err(|source| KafkaIoError::Commit {
                    topic: self.topic.to_string(),
                    source,
                })?;
        }
        self.consumer
            .commit(&tpl, mode)
            .map_err(|source| KafkaIoError::Commit {
                topic: self.topic.to_string(),
                source,
            })?;
        Ok(())
    }

    /// A synchronous final commit.
    pub fn close(&mut self) -> Result<(), KafkaIoError> {
        self.flush(CommitMode::Sync)
    }
}
