//! Everything that talks to Kafka: the one client set-up, topic administration,
//! and the embedded broker used when no cluster is configured.

pub mod admin;
pub mod client;
pub mod context;
pub mod embedded;
pub mod print;
pub mod produce;
mod producer;
pub mod state_topic;
pub mod tail;
pub mod transaction;

/// Kafka failures, each naming the topic or broker involved.
#[derive(Debug, thiserror::Error)]
pub enum KafkaIoError {
    #[error("cannot create the Kafka {what} for {bootstrap}: {source}")]
    Client {
        what: &'static str,
        bootstrap: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot create topic `{topic}` on {bootstrap}: {reason}")]
    CreateTopic {
        topic: String,
        bootstrap: String,
        reason: String,
    },
    #[error("delivery to topic `{topic}` failed: {reason}")]
    Delivery { topic: String, reason: String },
    #[error("cannot subscribe to topic `{topic}`: {source}")]
    Subscribe {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot commit offsets for topic `{topic}`: {source}")]
    Commit {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot consume from topic `{topic}`: {source}")]
    Consume {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot read state topic `{topic}` to its end: {reason}; check that the broker is up")]
    StateRead { topic: String, reason: String },
    #[error("Kafka transaction failed at {step} on {bootstrap}: {source}; {hint}")]
    Transaction {
        bootstrap: String,
        step: &'static str,
        hint: &'static str,
        source: rdkafka::error::KafkaError,
    },
    #[error(
        "topic `{topic}` does not exist on {bootstrap} (waited {waited_s} s); create it, start the connector that writes it first, or check the name in `[source.kafka] topic`"
    )]
    TopicMissing {
        topic: String,
        bootstrap: String,
        waited_s: u64,
    },
    #[error("embedded broker: {0}")]
    Embedded(String),
}
