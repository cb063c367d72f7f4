//! Reading the end of a topic back: which records of a generator's run were
//! already delivered when the host stopped, so a restart neither repeats nor
//! drops them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::KafkaIoError;
use super::client::Cluster;
use crate::config::StartFrom;

/// Most records read back per partition.
const WINDOW: i64 = 200_000;

/// The sequence numbers (`seq_header`) above `after` among the records of
/// `topic` stamped with `lineage` (`lineage_header`), from the last records of
/// every partition. A set, not a maximum: a batch cut short by a crash can reach
/// one partition and not another.
/// A record that made several outputs (numbered `i/n` in `part_header`)
/// counts as delivered only once all of them are found.
pub async fn delivered_since(
    cluster: &Cluster,
    topic: &str,
    lineage_header: &str,
    lineage: &str,
    seq_header: &str,
    part_header: &str,
    after: u64,
) -> Result<HashSet<u64>, KafkaIoError> {
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
    let mut delivered = Delivered::default();
    if ends.is_empty() {
        return Ok(delivered.complete());
    }
    let mut tpl = TopicPartitionList::new();
    for (&p, &(low, high)) in &ends {
        tpl.add_partition_offset(topic, p, Offset::Offset(low.max(high - WINDOW)))
            .map_err(consume_err)?;
    }
    consumer.assign(&tpl).map_err(consume_err)?;
    let mut pending: HashMap<i32, i64> = ends.iter().map(|(&p, &(_, high))| (p, high)).collect();
    // Read to the watermarks taken above, then on until the partitions stay
    // quiet: a killed producer's last requests may still be landing.
    loop {
        let wait = if pending.is_empty() {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        let msg = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) if pending.is_empty() => break,
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
                && seq > after
            {
                delivered.note(seq, header(part_header).as_deref());
            }
        }
        if pending
            .get(&msg.partition())
            .is_some_and(|&high| msg.offset() + 1 >= high)
        {
            pending.remove(&msg.partition());
        }
    }
    Ok(delivered.complete())
}

/// Sequence numbers found, and the parts found of those that made several
/// outputs (`i/n`).
#[derive(Default)]
struct Delivered {
    whole: HashSet<u64>,
    parts: HashMap<u64, (u32, HashSet<u32>)>,
}

impl Delivered {
    fn note(&mut self, seq: u64, part: Option<&[u8]>) {
        let part = part
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|p| p.split_once('/'))
            .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
        match part {
            None => {
                self.whole.insert(seq);
            }
            Some((i, n)) => {
                let (count, seen) = self.parts.entry(seq).or_default();
                *count = n;
                seen.insert(i);
            }
        }
    }

    /// The records every output of which was found.
    fn complete(mut self) -> HashSet<u64> {
        for (seq, (n, seen)) in self.parts {
            if seen.len() as u32 >= n {
                self.whole.insert(seq);
            }
        }
        self.whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_counts_only_with_all_its_parts() {
        let mut d = Delivered::default();
        d.note(1, None);
        d.note(2, Some(b"1/2"));
        d.note(3, Some(b"2/2"));
        d.note(3, Some(b"1/2"));
        d.note(4, Some(b"1/3"));
        d.note(4, Some(b"3/3"));
        let mut got: Vec<u64> = d.complete().into_iter().collect();
        got.sort();
        assert_eq!(got, [1, 3]);
    }
}
