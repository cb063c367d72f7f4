//! The registry's durability: every [`Change`] is a record in the compacted
//! topic `_schemas`, keyed and valued in Confluent's JSON layout, so the topic
//! reads the same as one a Confluent Schema Registry wrote. On start the topic
//! is read from the beginning to its end to rebuild the [`Store`].
//!
//! Simplification: one registry writes to a `_schemas` topic at a time. There is
//! no leader election and a running registry does not follow records that
//! another one appends.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::RegistryError;
use super::compat::Level;
use super::error::ApiError;
use super::store::{Change, Store};
use crate::config::StartFrom;
use crate::kafka::KafkaIoError;
use crate::kafka::admin::{TopicSpec, ensure_topics};
use crate::kafka::client::{Cluster, GroupConsumer};
use crate::kafka::produce::{Outgoing, Producer, enqueue};
use crate::record::Record;

/// The topic name Confluent uses (`kafkastore.topic`).
pub const TOPIC: &str = "_schemas";

/// How long a read of the topic may wait for its next record during the replay.
const REPLAY_RECORD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "keytype")]
enum Key {
    #[serde(rename = "SCHEMA")]
    Schema {
        subject: String,
        version: u32,
        #[serde(default)]
        magic: u8,
    },
    #[serde(rename = "CONFIG")]
    Config {
        subject: Option<String>,
        #[serde(default)]
        magic: u8,
    },
    #[serde(rename = "DELETE_SUBJECT")]
    DeleteSubject {
        subject: String,
        #[serde(default)]
        magic: u8,
    },
    /// NOOP, MODE, CLEAR_SUBJECT, … written by a Confluent registry: skipped.
    #[serde(other)]
    Other,
}

#[derive(Debug, Serialize, Deserialize)]
struct SchemaValue {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
    #[serde(default)]
    deleted: bool,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    schema_type: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ConfigValue {
    #[serde(rename = "compatibilityLevel", default)]
    compatibility_level: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DeleteSubjectValue {
    subject: String,
    version: u32,
}

/// A change as a record: key bytes and value bytes (`None`: a tombstone).
pub fn encode(change: &Change) -> Result<(Vec<u8>, Option<Vec<u8>>), serde_json::Error> {
    let (key, value) = match change {
        Change::Schema {
            subject,
            version,
            id,
            schema,
            deleted,
        } => (
            Key::Schema {
                subject: subject.clone(),
                version: *version,
                magic: 1,
            },
            Some(serde_json::to_vec(&SchemaValue {
                subject: subject.clone(),
                version: *version,
                id: *id,
                schema: schema.clone(),
                deleted: *deleted,
                schema_type: None,
            })?),
        ),
        Change::HardDelete { subject, version } => (
            Key::Schema {
                subject: subject.clone(),
                version: *version,
                magic: 1,
            },
            None,
        ),
        Change::DeleteSubject { subject, version } => (
            Key::DeleteSubject {
                subject: subject.clone(),
                magic: 0,
            },
            Some(serde_json::to_vec(&DeleteSubjectValue {
                subject: subject.clone(),
                version: *version,
            })?),
        ),
        Change::Config { subject, level } => (
            Key::Config {
                subject: subject.clone(),
                magic: 0,
            },
            level
                .map(|l| {
                    serde_json::to_vec(&ConfigValue {
                        compatibility_level: Some(l.as_str().into()),
                    })
                })
                .transpose()?,
        ),
    };
    Ok((serde_json::to_vec(&key)?, value))
}

/// A record back as a change; `Ok(None)` for records the embedded registry does
/// not model (Confluent's NOOP, MODE, …), `Err` for a damaged record.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<Change>, String> {
    let key: Key = serde_json::from_slice(key).map_err(|e| format!("unreadable key: {e}"))?;
    let change = match (key, value) {
        (
            Key::Schema {
                subject, version, ..
            },
            None,
        ) => Change::HardDelete { subject, version },
        (Key::Schema { .. }, Some(v)) => {
            let v: SchemaValue =
                serde_json::from_slice(v).map_err(|e| format!("unreadable schema value: {e}"))?;
            if let Some(t) = v.schema_type.filter(|t| !t.eq_ignore_ascii_case("AVRO")) {
                return Err(format!(
                    "subject '{}' version {} is a {t} schema, which the embedded registry does not support",
                    v.subject, v.version
                ));
            }
            Change::Schema {
                subject: v.subject,
                version: v.version,
                id: v.id,
                schema: v.schema,
                deleted: v.deleted,
            }
        }
        (Key::Config { subject, .. }, None) => Change::Config {
            subject,
            level: None,
        },
        (Key::Config { subject, .. }, Some(v)) => {
            let v: ConfigValue =
                serde_json::from_slice(v).map_err(|e| format!("unreadable config value: {e}"))?;
            let level = v
                .compatibility_level
                .map(|l| Level::parse(&l).ok_or(format!("unknown compatibility level '{l}'")))
                .transpose()?;
            Change::Config { subject, level }
        }
        (Key::DeleteSubject { .. }, Some(v)) => {
            let v: DeleteSubjectValue = serde_json::from_slice(v)
                .map_err(|e| format!("unreadable delete-subject value: {e}"))?;
            Change::DeleteSubject {
                subject: v.subject,
                version: v.version,
            }
        }
        (Key::DeleteSubject { .. }, None) | (Key::Other, _) => return Ok(None),
    };
    Ok(Some(change))
}

/// The writing end of the `_schemas` topic.
pub struct Log {
    producer: Producer,
}

impl Log {
    /// Creates the topic when missing, reads it from the beginning to its end
    /// into a fresh store, and returns the store with a producer for new changes.
    pub async fn open(cluster: &Cluster) -> Result<(Log, Store), RegistryError> {
        let topic_error = |reason: String| RegistryError::Topic {
            bootstrap: cluster.bootstrap.clone(),
            reason,
        };
        let spec = TopicSpec {
            name: TOPIC.into(),
            partitions: 1,
            replication_factor: 1,
            config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
        };
        ensure_topics(cluster, &[spec])
            .await
            .map_err(|e| topic_error(e.to_string()))?;
        let store = replay(cluster).await.map_err(topic_error)?;
        let producer = cluster.producer().map_err(|e| topic_error(e.to_string()))?;
        Ok((Log { producer }, store))
    }

    /// Writes a change and waits until the broker has acknowledged it.
    pub async fn append(&self, change: &Change) -> Result<(), ApiError> {
        let (key, value) = encode(change).map_err(|e| ApiError::Storage(e.to_string()))?;
        let record = Record {
            key: Some(key),
            value,
            ..Record::empty()
        };
        let storage = |e: KafkaIoError| ApiError::Storage(e.to_string());
        let out = std::iter::once(Outgoing::record(&record).to_partition(0));
        enqueue(&self.producer, TOPIC, out)
            .await
            .map_err(storage)?
            .settle()
            .await
            .map_err(storage)
    }
}

/// Reads partition 0 of the topic from the beginning up to the high watermark
/// seen at the start (assigned, no consumer group membership).
async fn replay(cluster: &Cluster) -> Result<Store, String> {
    let group = format!("weir-schema-registry-{}", uuid::Uuid::new_v4());
    let consumer = Arc::new(
        cluster
            .consumer(&group, StartFrom::Earliest)
            .map_err(|e| e.to_string())?,
    );
    let (low, high) = watermarks(&consumer).await?;
    let mut store = Store::default();
    if high <= low {
        return Ok(store);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let (mut applied, mut skipped) = (0u64, 0u64);
    loop {
        let msg = tokio::time::timeout(REPLAY_RECORD_TIMEOUT, consumer.recv())
            .await
            .map_err(|_| {
                format!(
                    "no record for {} s while reading up to offset {high}",
                    REPLAY_RECORD_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| e.to_string())?;
        let offset = msg.offset();
        let outcome = match msg.key() {
            Some(key) => decode(key, msg.payload()),
            None => Err("record without a key".into()),
        };
        match outcome.and_then(|c| c.map_or(Ok(()), |c| store.apply(c))) {
            Ok(()) => applied += 1,
            Err(reason) => {
                skipped += 1;
                tracing::warn!(topic = TOPIC, offset, %reason, "Skipped a schema registry record.");
            }
        }
        if offset >= high - 1 {
            break;
        }
    }
    tracing::debug!(
        topic = TOPIC,
        applied,
        skipped,
        "Schema registry state read back."
    );
    Ok(store)
}

/// The partition's watermarks; a topic created a moment ago may need a few
/// tries before the broker answers for it.
async fn watermarks(consumer: &Arc<GroupConsumer>) -> Result<(i64, i64), String> {
    let mut last = String::new();
    for _ in 0..20 {
        let c = Arc::clone(consumer);
        let answer = tokio::task::spawn_blocking(move || {
            c.fetch_watermarks(TOPIC, 0, Duration::from_secs(5))
        })
        .await
        .map_err(|e| e.to_string())?;
        match answer {
            Ok(w) => return Ok(w),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("cannot read the end offsets: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(change: Change) {
        let (key, value) = encode(&change).expect("encodes");
        assert_eq!(
            decode(&key, value.as_deref()),
            Ok(Some(change.clone())),
            "{change:?}"
        );
    }

    #[test]
    fn records_use_confluents_json_layout() {
        let (key, value) = encode(&Change::Schema {
            subject: "s".into(),
            version: 1,
            id: 7,
            schema: r#""string""#.into(),
            deleted: false,
        })
        .expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&key),
            r#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#
        );
        assert_eq!(
            String::from_utf8_lossy(&value.expect("value")),
            r#"{"subject":"s","version":1,"id":7,"schema":"\"string\"","deleted":false}"#
        );
        let (key, value) = encode(&Change::Config {
            subject: None,
            level: Some(Level::Full),
        })
        .expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&key),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(
            String::from_utf8_lossy(&value.expect("value")),
            r#"{"compatibilityLevel":"FULL"}"#
        );
        let (key, value) = encode(&Change::HardDelete {
            subject: "s".into(),
            version: 1,
        })
        .expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&key),
            r#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#,
            "a hard delete is a tombstone on the version's key"
        );
        assert_eq!(value, None);
    }

    #[test]
    fn every_change_survives_a_roundtrip() {
        roundtrip(Change::Schema {
            subject: "a".into(),
            version: 3,
            id: 9,
            schema: "\"long\"".into(),
            deleted: true,
        });
        roundtrip(Change::HardDelete {
            subject: "a".into(),
            version: 3,
        });
        roundtrip(Change::DeleteSubject {
            subject: "a".into(),
            version: 4,
        });
        roundtrip(Change::Config {
            subject: Some("a".into()),
            level: Some(Level::ForwardTransitive),
        });
        roundtrip(Change::Config {
            subject: Some("a".into()),
            level: None,
        });
    }

    #[test]
    fn records_a_confluent_registry_writes_are_read_or_skipped() {
        assert_eq!(decode(br#"{"keytype":"NOOP","magic":0}"#, None), Ok(None));
        assert_eq!(
            decode(
                br#"{"keytype":"MODE","subject":null,"magic":0}"#,
                Some(br#"{"mode":"READWRITE"}"#)
            ),
            Ok(None)
        );
        let proto = decode(
            br#"{"keytype":"SCHEMA","subject":"p","version":1,"magic":1}"#,
            Some(br#"{"subject":"p","version":1,"id":2,"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF","deleted":false}"#),
        );
        assert!(proto.is_err_and(|e| e.contains("PROTOBUF")));
        assert!(decode(b"not json", None).is_err());
        assert!(
            decode(
                br#"{"keytype":"CONFIG","subject":null,"magic":0}"#,
                Some(br#"{"compatibilityLevel":"SIDEWAYS"}"#)
            )
            .is_err()
        );
    }
}
