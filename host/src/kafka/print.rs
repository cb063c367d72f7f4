//! `weir tail TOPIC`: a topic's records as JSON lines, like
//! `kafka-avro-console-consumer`. Values (and keys) in Confluent's Avro framing
//! are decoded with the writer schema fetched from the registry by id; other
//! bytes are shown as JSON when they parse, else as text, else as base64.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use base64::Engine;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::message::Headers;
use serde_json::{Value, json};

use super::KafkaIoError;
use super::client::Cluster;
use crate::config::StartFrom;
use crate::registry::client::{ClientError, RegistryClient};
use crate::registry::wire;

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error(transparent)]
    Kafka(#[from] KafkaIoError),
    #[error(
        "{topic} partition {partition} offset {offset} is Avro (schema id {id}) but no schema registry is given; pass --schema-registry-url or set WEIR_SCHEMA_REGISTRY_URL"
    )]
    NoRegistry {
        topic: String,
        partition: i32,
        offset: i64,
        id: u32,
    },
    #[error("schema id {id}: {source}")]
    Registry { id: u32, source: ClientError },
    #[error("{topic} partition {partition} offset {offset}: {reason}")]
    Decode {
        topic: String,
        partition: i32,
        offset: i64,
        reason: String,
    },
    #[error("cannot write to stdout: {0}")]
    Output(#[from] std::io::Error),
}

/// What to read and how to show it.
#[derive(Debug, Clone, Default)]
pub struct TailOptions {
    pub from_beginning: bool,
    /// Stop after this many records.
    pub max: Option<u64>,
    /// Stop when nothing came for this long.
    pub idle: Option<Duration>,
    pub headers: bool,
}

/// Prints `topic`'s records to `out` until `max` or `idle`; returns how many.
pub async fn tail(
    cluster: &Cluster,
    topic: &str,
    registry: Option<&str>,
    opts: &TailOptions,
    out: &mut impl Write,
) -> Result<u64, TailError> {
    let start = if opts.from_beginning {
        StartFrom::Earliest
    } else {
        StartFrom::Latest
    };
    let consumer = cluster.consumer(&format!("weir-tail-{}", uuid::Uuid::new_v4()), start)?;
    consumer
        .subscribe(&[topic])
        .map_err(|source| KafkaIoError::Subscribe {
            topic: topic.to_string(),
            source,
        })?;
    let client = registry
        .map(RegistryClient::new)
        .transpose()
        .map_err(|source| TailError::Registry { id: 0, source })?;
    let mut decoder = Decoder {
        client,
        schemas: HashMap::new(),
    };
    let mut printed = 0u64;
    while opts.max.is_none_or(|m| printed < m) {
        let msg = match opts.idle {
            Some(idle) => match tokio::time::timeout(idle, consumer.recv()).await {
                Err(_) => break,
                Ok(m) => m,
            },
            None => consumer.recv().await,
        }
        .map_err(|source| KafkaIoError::Consume {
            topic: topic.to_string(),
            source,
        })?;
        let at = |reason: String| TailError::Decode {
            topic: topic.to_string(),
            partition: msg.partition(),
            offset: msg.offset(),
            reason,
        };
        let key = decoder
            .show(msg.key(), topic, msg.partition(), msg.offset())
            .await?;
        let value = decoder
            .show(msg.payload(), topic, msg.partition(), msg.offset())
            .await?;
        let mut line = json!({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "timestamp": msg.timestamp().to_millis(),
            "key": key,
            "value": value,
        });
        if opts.headers {
            let headers: serde_json::Map<String, Value> = msg
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            let v = h.value.map_or(Value::Null, |v| {
                                Value::String(String::from_utf8_lossy(v).into_owned())
                            });
                            (h.key.to_string(), v)
                        })
                        .collect()
                })
                .unwrap_or_default();
            line["headers"] = Value::Object(headers);
        }
        serde_json::to_writer(&mut *out, &line).map_err(|e| at(e.to_string()))?;
        writeln!(out)?;
        printed += 1;
    }
    out.flush()?;
    Ok(printed)
}

/// Turns bytes into JSON, fetching Avro writer schemas once per id.
struct Decoder {
    client: Option<RegistryClient>,
    schemas: HashMap<u32, apache_avro::Schema>,
}

impl Decoder {
    async fn show(
        &mut self,
        bytes: Option<&[u8]>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<Value, TailError> {
        let Some(bytes) = bytes else {
            return Ok(Value::Null);
        };
        let Some((id, body)) = avro_framed(bytes) else {
            return Ok(plain(bytes));
        };
        let at = |reason: String| TailError::Decode {
            topic: topic.to_string(),
            partition,
            offset,
            reason,
        };
        if !self.schemas.contains_key(&id) {
            let client = self.client.as_ref().ok_or_else(|| TailError::NoRegistry {
                topic: topic.to_string(),
                partition,
                offset,
                id,
            })?;
            let text = client
                .schema_by_id(id)
                .await
                .map_err(|source| TailError::Registry { id, source })?;
            let schema = apache_avro::Schema::parse_str(&text)
                .map_err(|e| at(format!("schema {id} does not parse: {e}")))?;
            self.schemas.insert(id, schema);
        }
        let schema = &self.schemas[&id];
        let value = apache_avro::from_avro_datum(schema, &mut &body[..], None)
            .map_err(|e| at(format!("not Avro of schema {id}: {e}")))?;
        Value::try_from(value).map_err(|e| at(e.to_string()))
    }
}

/// Confluent's framing: magic byte 0, a 4-byte schema id, a body. A JSON
/// document never starts with a zero byte, so the check is unambiguous for
/// what weir writes.
fn avro_framed(bytes: &[u8]) -> Option<(u32, &[u8])> {
    match bytes.first() {
        Some(0) => wire::decode(bytes).ok(),
        _ => None,
    }
}

/// Bytes that are not Avro: JSON if they parse, else text, else base64.
fn plain(bytes: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_bytes_are_json_text_or_base64() {
        assert_eq!(plain(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(plain(b"user-000001"), json!("user-000001"));
        assert_eq!(plain(&[0xff, 0xfe]), json!({"base64": "//4="}));
        assert!(avro_framed(br#"{"a":1}"#).is_none());
        assert_eq!(avro_framed(&[0, 0, 0, 0, 7, 42]), Some((7, &[42u8][..])));
    }

    #[tokio::test]
    async fn avro_without_a_registry_names_what_to_pass() {
        let mut d = Decoder {
            client: None,
            schemas: HashMap::new(),
        };
        let e = d
            .show(Some(&[0, 0, 0, 0, 3, 2]), "t", 1, 9)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schema id 3") && e.contains("--schema-registry-url"),
            "{e}"
        );
    }
}
