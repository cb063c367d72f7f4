//! Reading the end of a topic back: which records of a generator's run were
//! already delivered when the host stopped, so a restart neither repeats nor
//! drops them.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::KafkaIoError;
use super::client::Cluster;
use crate::config::StartFrom;

/// Most records read back per partition.
const WINDOW: i64 = 200_000;

/// The highest sequence number (`seq_header`) among the records of `topic`
/// stamped with `lineage` (`lineage_header`), reading the last records of every
/// partition; `None` when there is none.
pub async fn last_sequence(
    cluster: &Cluster,
    topic: &str,
    lineage_header: &str,
    lineage: &str,
    seq_header: &str,
) -> Result<Option<u64>, KafkaIoError> {
    let consume_err = |source| KafkaIoError::Consume {
        topic: topic.to_string(),
        source,
    };
    let consumer = cluster.consumer(
        &format!("weir-tail-{}", uuid::Uuid::new_v4()),
        StartFrom::Earliest,
    )?;
    let timeout = Duration::from_secs(10);
    let ends =
        tokio::task::block_in_place(|| -> Result<HashMap<i32, (i64, i64)>, KafkaIoError> {
            let meta = consumer
                .fetch_metadata(Some(topic), timeout)
                .map_err(consume_err)?;
            let mut ends = HashMap::new();
            for t in meta.topics() {
                for p in t.partitions() {
                    let (low, high) = consumer
                        .fetch_watermarks(topic, p.id(), timeout)
                        .map_err(consume_err)?;
                    if high > low {
                        ends.insert(p.id(), (low, high));
                    }
                }
            }
            Ok(ends)
        })?;
    if ends.is_empty() {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    for (&p, &(low, high)) in &ends {
        tpl.add_partition_offset(topic, p, Offset::Offset(low.max(high - WINDOW)))
            .map_err(consume_err)?;
    }
    consumer.assign(&tpl).map_err(consume_err)?;
    let mut pending: HashMap<i32, i64> = ends.iter().map(|(&p, &(_, high))| (p, high)).collect();
    let mut best: Option<u64> = None;
    while !pending.is_empty() {
        let msg = match tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            Err(_) => {
                tracing::warn!(topic, partitions = ?pending.keys(), "Could not read the end of every partition back; a restart may repeat records.");
                break;
            }
            Ok(Err(e)) => return Err(consume_err(e)),
            Ok(Ok(m)) => m,
        };
        if let Some(h) = msg.headers() {
            let header = |name: &str| {
                h.iter()
                    .find(|x| x.key == name)
                    .and_then(|x| x.value)
                    .map(<[u8]>::to_vec)
            };
            if header(lineage_header).as_deref() == Some(lineage.as_bytes())
                && let Some(seq) = header(seq_header)
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|s| s.parse::<u64>().ok())
            {
                best = best.max(Some(seq));
            }
        }
        if pending
            .get(&msg.partition())
            .is_some_and(|&high| msg.offset() + 1 >= high)
        {
            pending.remove(&msg.partition());
        }
    }
    Ok(best)
}
