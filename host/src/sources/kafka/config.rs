//! `[source.kafka]`: the table, its checks, its plan line, and how it opens.

use std::time::Duration;

use serde::Deserialize;

use super::{Batching, KafkaSource};
use crate::config::{StartFrom, check_topic_name, defaults};
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SourceConnector,
};
use crate::plan::Level;
use crate::sources::{Source, SourceError};

/// A Kafka topic read in a consumer group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// `topic = "purchases"`
    pub topic: String,
    /// `group_id = "purchases-console"`; defaults to the connector name.
    pub group_id: Option<String>,
    /// `batch_size = 500`: most records handed on at once.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// `batch_timeout_ms = 200`: the longest a batch stays open.
    #[serde(default = "defaults::batch_timeout_ms")]
    pub batch_timeout_ms: u64,
    /// `linger_ms = 0`: how long a batch waits for more records once none
    /// is ready; 0 closes it at once (lowest latency; under load batches
    /// fill up anyway).
    #[serde(default)]
    pub linger_ms: u64,
    /// `start_from = "earliest"` or `"latest"`, when the group has no offset yet.
    #[serde(default)]
    pub start_from: StartFrom,
    /// `event_time = "start_timestamp"`: the JSON value's field (or dotted
    /// path) holding each record's event time, in epoch milliseconds or RFC
    /// 3339; the watermark and the aggregator's windows then use it instead of
    /// the Kafka timestamp. A record without it goes to the DLQ
    /// (`event_time_missing` / `event_time_invalid`). Unset: the Kafka timestamp.
    #[serde(default)]
    pub event_time: Option<String>,
}

impl KafkaSourceConfig {
    /// The consumer group: `group_id`, else the connector's name.
    pub fn group(&self, connector: &str) -> String {
        self.group_id
            .clone()
            .unwrap_or_else(|| connector.to_string())
    }
}

impl SourceConnector for KafkaSourceConfig {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        check_topic_name(&self.topic).map_err(|m| Invalid::new("topic", m))?;
        if self.batch_size == 0 {
            return Err(Invalid::new("batch_size", "must be at least 1"));
        }
        if let Some(field) = &self.event_time
            && field.split('.').any(str::is_empty)
        {
            return Err(Invalid::new(
                "event_time",
                format!(
                    "`{field}` is not a field name: name a field of the JSON value, e.g. `start_timestamp`, or a dotted path such as `event.ts`"
                ),
            ));
        }
        Ok(())
    }

    fn batches_arrive_whole(&self) -> bool {
        true
    }

    fn describe(&self, cx: &DescribeContext<'_>) -> PlanLine {
        let group = self.group(cx.name);
        let group = match &self.event_time {
            Some(f) => format!("{group}`, event time from `{f}"),
            None => group,
        };
        match (cx.topics, cx.partitions(&self.topic)) {
            (_, Some(n)) => (
                Level::Ok,
                format!(
                    "source: topic `{}` ({n} partitions), group `{group}`",
                    self.topic
                ),
            ),
            (Some(_), None) => (
                Level::Warn,
                format!(
                    "source: topic `{}` does not exist yet; the consumer waits for it (group `{group}`)",
                    self.topic
                ),
            ),
            (None, _) => (
                Level::Ok,
                format!("source: topic `{}`, group `{group}`", self.topic),
            ),
        }
    }

    fn summary(&self) -> Option<String> {
        Some(format!("kafka({})", self.topic))
    }

    fn open(&self, cx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, SourceError> {
        let consumer = cx.cluster.consumer(&self.group(cx.name), self.start_from)?;
        let batching = Batching {
            max: self.batch_size as usize,
            timeout: Duration::from_millis(self.batch_timeout_ms),
            linger: Duration::from_millis(self.linger_ms),
        };
        let mut source = KafkaSource::new(consumer, &cx.cluster.bootstrap, &self.topic, batching)?;
        if cx.exactly_once {
            source.set_transactional();
        }
        Ok(Box::new(source))
    }
}
