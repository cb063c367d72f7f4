//! What a group consumer tells weir's logs: its group events (partitions
//! assigned, revoked, lost), failed commits, and librdkafka's global errors.
//! Without these an operator (or a test) cannot tell a consumer that waits for
//! a rebalance from one that stalls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// The context of every group consumer weir makes.
pub struct GroupContext {
    group: String,
    /// A commit failed since [`GroupContext::take_failed_commit`] last asked.
    failed_commit: AtomicBool,
    /// Counts the group's assignments to this consumer: the Kafka source
    /// routes the partitions of each new assignment to its own fetch queue.
    assignments: AtomicU64,
}

impl GroupContext {
    pub fn new(group: &str) -> Self {
        GroupContext {
            group: group.to_string(),
            failed_commit: AtomicBool::new(false),
            assignments: AtomicU64::new(0),
        }
    }

    /// How many times the group has assigned partitions to this consumer.
    pub fn assignments(&self) -> u64 {
        self.assignments.load(Ordering::Acquire)
    }

    /// Whether a commit failed since the last call: the source then sends
    /// its positions again instead of taking them as committed.
    pub fn take_failed_commit(&self) -> bool {
        self.failed_commit.swap(false, Ordering::Relaxed)
    }
}

/// `topic[partition]@offset, …` for a log line.
fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => format!("{}[{}]@{o}", e.topic(), e.partition()),
            _ => format!("{}[{}]", e.topic(), e.partition()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A subscribed topic that does not exist (yet): the Kafka source says so in
/// its own words, once in a while, instead of librdkafka's error.
pub fn is_missing_topic(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    )
}

/// A lost connection or an unreachable broker: librdkafka reconnects by
/// itself, and its error callback has said so already.
pub fn is_transport(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown)
    )
}

/// One of librdkafka's own log lines, through tracing (target `librdkafka`);
/// `client` names the group or the producer.
pub fn log_line(client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", %client, "{fac} {message}")
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", %client, "{fac} {message}")
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", %client, "{fac} {message}")
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", %client, "{fac} {message}")
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line(&self.group, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_missing_topic(&error) {
            tracing::debug!(group = %self.group, %error, reason, "librdkafka: topic not available.");
        } else {
            tracing::warn!(group = %self.group, %error, reason, "Kafka client error; librdkafka retries.");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            if consumer.assignment_lost() {
                tracing::warn!(group = %self.group, partitions = %describe(tpl), "Partitions lost: this consumer dropped out of the group (session timeout or max.poll.interval.ms); it rejoins.");
            } else {
                tracing::info!(group = %self.group, partitions = %describe(tpl), "Partitions revoked by the group.");
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.assignments.fetch_add(1, Ordering::AcqRel);
                tracing::info!(group = %self.group, partitions = %describe(tpl), "Partitions assigned by the group.");
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(group = %self.group, error = %e, "The group rebalance failed; librdkafka rejoins.");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                tracing::debug!(group = %self.group, offsets = %describe(offsets), "Offsets committed.")
            }
            Err(e) => {
                self.failed_commit.store(true, Ordering::Relaxed);
                tracing::warn!(group = %self.group, error = %e, offsets = %describe(offsets), "A commit failed; the next checkpoint commits again.")
            }
        }
    }
}
