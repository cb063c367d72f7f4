//! `[sink.kafka]`: the table, its checks, its plan line, and how it opens.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::KafkaSink;
use super::avro::AvroEncoder;
use crate::config::{AvroSchema, check_topic_name, defaults, load_avro};
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SinkConnector, SubjectPlan,
    TopicPlan,
};
use crate::kafka::admin::TopicSpec;
use crate::plan::Level;
use crate::sinks::{Sink, SinkError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// `topic = "purchases"`
    pub topic: String,
    /// `partitions = 3`: used when weir creates the topic.
    #[serde(default = "defaults::partitions")]
    pub partitions: i32,
    /// `replication_factor = 1`: used when weir creates the topic.
    #[serde(default = "defaults::replication_factor")]
    pub replication_factor: i32,
    /// `[sink.kafka.topic_config]`: topic settings at creation, e.g. `"cleanup.policy" = "compact"`.
    #[serde(default)]
    pub topic_config: BTreeMap<String, String>,
    /// `format = "json"` (values as the plugin made them) or `"avro"` (encoded
    /// with `value_schema`, registered in the schema registry, Confluent framing).
    #[serde(default)]
    pub format: ValueFormat,
    /// `value_schema = "../schemas/user_event.v1.avsc"`: the Avro writer schema,
    /// relative to the connector file.
    pub value_schema: Option<String>,
    /// `subject = "customer_events-value"`: the registry subject; defaults to
    /// `<topic>-value` (Confluent's TopicNameStrategy).
    pub subject: Option<String>,
    /// `exactly_once = true`: a Kafka → plugins → Kafka connector writes each
    /// checkpoint's outputs, DLQ entries, plugin state and input offsets in
    /// one Kafka transaction, so a crash neither loses nor repeats a record for
    /// `read_committed` readers. Needs a broker with transactions.
    #[serde(default)]
    pub exactly_once: bool,
    /// `transactional_id = "weir-purchases"`: the producer's transactional id
    /// (default `weir-<connector>`). A restarted host with the same id fences
    /// its killed predecessor and aborts what it left open; two hosts running
    /// at once need different ids.
    pub transactional_id: Option<String>,
    /// The parsed `value_schema`, once resolved.
    #[serde(skip)]
    pub schema: Option<AvroSchema>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    #[default]
    Json,
    Avro,
}

impl KafkaSinkConfig {
    /// The registry subject of the value schema.
    pub fn subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| format!("{}-value", self.topic))
    }
}

impl SinkConnector for KafkaSinkConfig {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn resolve(&mut self, cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        check_topic_name(&self.topic).map_err(|m| Invalid::new("topic", m))?;
        match (self.format, &self.value_schema) {
            (ValueFormat::Avro, None) => {
                return Err(Invalid::new(
                    "format",
                    "`format = \"avro\"` needs `value_schema = \"path/to/schema.avsc\"`",
                ));
            }
            (ValueFormat::Avro, Some(file)) => {
                let schema =
                    load_avro(&cx.base.join(file)).map_err(|m| Invalid::new("value_schema", m))?;
                self.schema = Some(schema);
            }
            (ValueFormat::Json, Some(_)) => {
                return Err(Invalid::new(
                    "value_schema",
                    "a value schema is only used with `format = \"avro\"`",
                ));
            }
            (ValueFormat::Json, None) => {}
        }
        if self.partitions < 1 {
            return Err(Invalid::new("partitions", "must be at least 1"));
        }
        if self.replication_factor < 1 {
            return Err(Invalid::new("replication_factor", "must be at least 1"));
        }
        Ok(())
    }

    fn topics(&self) -> Vec<TopicPlan> {
        vec![TopicPlan {
            role: "sink",
            spec: TopicSpec {
                name: self.topic.clone(),
                partitions: self.partitions,
                replication_factor: self.replication_factor,
                config: self.topic_config.clone(),
            },
        }]
    }

    fn subjects(&self) -> Vec<SubjectPlan> {
        self.schema
            .iter()
            .map(|schema| SubjectPlan {
                subject: self.subject(),
                schema: schema.clone(),
            })
            .collect()
    }

    fn describe(&self, cx: &DescribeContext<'_>) -> PlanLine {
        let k = cx.kafka;
        let line = format!(
            "sink: kafka `{}` as {:?}, acks {:?}, compression {:?}, idempotent {}",
            self.topic, self.format, k.acks, k.compression, k.idempotent
        );
        (Level::Ok, line.to_lowercase())
    }

    fn summary(&self) -> String {
        format!("kafka({}, {} partitions)", self.topic, self.partitions)
    }

    fn open(&self, cx: &OpenContext<'_>) -> Result<Box<dyn Sink>, SinkError> {
        let mut sink = KafkaSink::new(cx.producer.clone(), self.topic.clone());
        if let Some(schema) = &self.schema {
            let subject = self.subject();
            let id = cx
                .schema_ids
                .get(&subject)
                .copied()
                .ok_or_else(|| SinkError::Connector {
                    kind: "kafka",
                    retryable: false,
                    source: format!("schema subject `{subject}` was not registered").into(),
                })?;
            sink = sink.with_avro(AvroEncoder::new(schema.schema.clone()), id);
        }
        Ok(Box::new(sink))
    }
}
