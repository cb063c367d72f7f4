//! Kafka transactions for `exactly_once` connectors: a checkpoint's outputs,
//! DLQ entries, plugin state (a record in the connector's state topic) and
//! input offsets become visible together or not at all.

use std::time::Duration;

use rdkafka::TopicPartitionList;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer as _;

use super::KafkaIoError;
use super::produce::Producer;
use super::state_topic::StateTopic;

/// How long one transactional call may wait for the coordinator.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The open transaction of one connector, and where its state is kept.
pub struct Transactions {
    producer: Producer,
    state: StateTopic,
    /// The state topic key of this connector's checkpoint.
    key: String,
    bootstrap: String,
    /// Whether a transaction has committed yet: a failure before that means
    /// the broker is not fit for transactions at all.
    committed_once: bool,
}

/// Most bytes of a checkpoint per state record: Kafka's default
/// `max.message.bytes` is 1 MB, and a plugin's snapshot may be larger.
const CHUNK: usize = 900 * 1024;
/// Bytes before a chunk's data: sequence, index, count.
const CHUNK_HEADER: usize = 16;

/// A checkpoint as records keyed `<key>#<index>`, each value holding the
/// checkpoint's sequence, its index and the number of chunks, then its bytes.
/// Committed in one transaction, the newest sequence is always whole.
fn split_chunks(key: &str, sequence: u64, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let parts: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[]]
    } else {
        bytes.chunks(CHUNK).collect()
    };
    let count = parts.len() as u32;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let mut v = Vec::with_capacity(CHUNK_HEADER + data.len());
            v.extend_from_slice(&sequence.to_be_bytes());
            v.extend_from_slice(&(i as u32).to_be_bytes());
            v.extend_from_slice(&count.to_be_bytes());
            v.extend_from_slice(data);
            (format!("{key}#{i}"), v)
        })
        .collect()
}

/// The newest whole checkpoint among chunk values (in any order).
fn join_chunks<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<Vec<u8>>, String> {
    let mut parts: Vec<(u64, u32, u32, &[u8])> = Vec::new();
    for v in values {
        if v.len() < CHUNK_HEADER {
            return Err(format!(
                "a checkpoint chunk of {} bytes has no header",
                v.len()
            ));
        }
        let num = |r: std::ops::Range<usize>| v[r].iter().fold(0u64, |a, b| a << 8 | u64::from(*b));
        parts.push((
            num(0..8),
            num(8..12) as u32,
            num(12..16) as u32,
            &v[CHUNK_HEADER..],
        ));
    }
    let Some(newest) = parts.iter().map(|p| p.0).max() else {
        return Ok(None);
    };
    let mut mine: Vec<_> = parts.into_iter().filter(|p| p.0 == newest).collect();
    mine.sort_by_key(|p| p.1);
    let count = mine.first().map_or(0, |p| p.2);
    if mine.len() != count as usize || mine.iter().enumerate().any(|(i, p)| p.1 as usize != i) {
        return Err(format!(
            "checkpoint {newest} has {} of its {count} chunks",
            mine.len()
        ));
    }
    Ok(Some(
        mine.into_iter().flat_map(|p| p.3.iter().copied()).collect(),
    ))
}

impl Transactions {
    /// Registers the transactional id, which fences an earlier producer with
    /// the same id and aborts what it left open, then opens a transaction.
    /// `producer` must be the one every sink of the connector writes with.
    pub fn start(
        producer: Producer,
        state: StateTopic,
        key: String,
        bootstrap: String,
    ) -> Result<Self, KafkaIoError> {
        let t = Transactions {
            producer,
            state,
            key,
            bootstrap,
            committed_once: false,
        };
        tokio::task::block_in_place(|| {
            t.producer
                .init_transactions(TIMEOUT)
                .map_err(|e| t.err("InitProducerId (init_transactions)", e))?;
            t.producer
                .begin_transaction()
                .map_err(|e| t.err("begin_transaction", e))
        })?;
        Ok(t)
    }

    /// Where the checkpoints are kept, as logs and errors name it.
    pub fn place(&self) -> String {
        format!(
            "state topic `{}`, keys `{}#…`",
            self.state.topic(),
            self.key
        )
    }

    /// The checkpoint of the last committed transaction, if any.
    pub async fn last_checkpoint(&self) -> Result<Option<Vec<u8>>, KafkaIoError> {
        let chunks = self.state.load(&format!("{}#", self.key)).await?;
        join_chunks(chunks.values().map(Vec::as_slice)).map_err(|reason| KafkaIoError::StateRead {
            topic: self.state.topic().to_string(),
            reason,
        })
    }

    /// Adds `checkpoint` (numbered `sequence`, growing from one to the next,
    /// also across restarts) and the input `offsets` to the open transaction,
    /// commits it, and opens the next one.
    pub async fn commit(
        &mut self,
        sequence: u64,
        checkpoint: Vec<u8>,
        offsets: Option<(TopicPartitionList, ConsumerGroupMetadata)>,
    ) -> Result<(), KafkaIoError> {
        let chunks = split_chunks(&self.key, sequence, &checkpoint);
        self.state.save(&chunks).await?;
        tokio::task::block_in_place(|| {
            if let Some((tpl, group)) = &offsets {
                self.producer
                    .send_offsets_to_transaction(tpl, group, TIMEOUT)
                    .map_err(|e| self.err("AddOffsetsToTxn (send_offsets_to_transaction)", e))?;
            }
            self.producer
                .commit_transaction(TIMEOUT)
                .map_err(|e| self.err("EndTxn (commit_transaction)", e))?;
            self.producer
                .begin_transaction()
                .map_err(|e| self.err("begin_transaction", e))
        })?;
        self.committed_once = true;
        Ok(())
    }

    fn err(&self, step: &'static str, source: KafkaError) -> KafkaIoError {
        KafkaIoError::Transaction {
            bootstrap: self.bootstrap.clone(),
            step,
            hint: hint(&source, self.committed_once),
            source,
        }
    }
}

/// What the operator can do about a failed transactional call.
fn hint(e: &KafkaError, committed_once: bool) -> &'static str {
    let unsupported = !committed_once
        || matches!(
            e.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::UnsupportedVersion
                    | RDKafkaErrorCode::UnsupportedForMessageFormat
                    | RDKafkaErrorCode::InvalidRequest
                    | RDKafkaErrorCode::Unknown
                    | RDKafkaErrorCode::UnsupportedFeature
                    | RDKafkaErrorCode::TransactionCoordinatorFenced
                    | RDKafkaErrorCode::CoordinatorNotAvailable
            )
        );
    if matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
    ) {
        "another process uses this connector's transactional id; give each running host its own `transactional_id`"
    } else if unsupported {
        "the broker does not seem to support Kafka transactions: `exactly_once = true` needs one that does (Apache Kafka ≥ 2.5, Confluent, Redpanda, weir's embedded broker); run against one, or set `exactly_once = false` (at-least-once)"
    } else {
        "nothing of the open transaction is visible to read_committed readers; the next start resumes from the last committed one"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(chunks: &[(String, Vec<u8>)]) -> Vec<&[u8]> {
        chunks.iter().map(|(_, v)| v.as_slice()).collect()
    }

    #[test]
    fn a_large_checkpoint_is_split_and_joined_back() {
        let big: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        let chunks = split_chunks("c", 7, &big);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2].0, "c#2");
        let mut v = values(&chunks);
        v.reverse();
        assert_eq!(join_chunks(v.into_iter()).unwrap(), Some(big));
        assert_eq!(join_chunks(std::iter::empty()).unwrap(), None);
    }

    #[test]
    fn the_newest_checkpoint_wins_over_leftover_chunks_of_a_larger_one() {
        let old: Vec<u8> = vec![1; CHUNK * 2];
        let new = vec![2u8; 10];
        let old_chunks = split_chunks("c", 1, &old);
        let new_chunks = split_chunks("c", 2, &new);
        // Compaction keeps c#0 of the new one and c#1 of the old one.
        let v = vec![new_chunks[0].1.as_slice(), old_chunks[1].1.as_slice()];
        assert_eq!(join_chunks(v.into_iter()).unwrap(), Some(new));
        let missing = vec![old_chunks[0].1.as_slice()];
        assert!(join_chunks(missing.into_iter()).is_err());
    }
}
