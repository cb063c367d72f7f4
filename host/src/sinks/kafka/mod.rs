//! `[sink.kafka]`: produce a batch and hand back its delivery reports as a
//! [`Pending`], so the pipeline can read and process the next batch while the
//! broker acknowledges this one; with `format = "avro"`, values are encoded with
//! the registered writer schema in Confluent's framing first, and a value that
//! does not fit is refused.

use futures::future::BoxFuture;

use super::{Rejected, SCHEMA_MISMATCH, Sink, SinkError};
use crate::kafka::KafkaIoError;
use crate::kafka::produce::{DeliverySummary, Outgoing, Pending, Producer, enqueue};
use crate::record::{Batch, RecordView};
use crate::registry::wire;
use weir_sdk::Rejection;

pub mod avro;
mod config;

pub use avro::AvroEncoder;
pub use config::{KafkaSinkConfig, ValueFormat};

pub struct KafkaSink {
    producer: Producer,
    topic: String,
    /// The writer schema and its registry id, for `format = "avro"`.
    avro: Option<Box<(AvroEncoder, u32)>>,
    /// Delivery reports since the last summary in the log.
    summary: DeliverySummary,
}

impl KafkaSink {
    pub fn new(producer: Producer, topic: String) -> Self {
        KafkaSink {
            producer,
            topic,
            avro: None,
            summary: DeliverySummary::default(),
        }
    }

    /// Values are Avro, written with `encoder`'s schema, registered as `id`.
    pub fn with_avro(mut self, encoder: AvroEncoder, id: u32) -> Self {
        self.avro = Some(Box::new((encoder, id)));
        self
    }

    /// Queues a batch for the broker: the records a schema refused, and the
    /// delivery reports still to come for the rest.
    pub async fn produce(&mut self, batch: &Batch) -> Result<(Rejected, Pending), KafkaIoError> {
        let Some((encoder, id)) = self.avro.as_deref() else {
            let pending = enqueue(
                &self.producer,
                &self.topic,
                batch.iter().map(Outgoing::view),
            )
            .await?;
            return Ok((Vec::new(), pending.summed_into(&self.summary)));
        };
        // Every framed value in one buffer: the Confluent header, then the
        // Avro body written in place after it.
        let mut rejected = Vec::new();
        let mut framed = Vec::with_capacity(batch.len() * 256);
        let mut encoded: Vec<(RecordView<'_>, Option<std::ops::Range<usize>>)> =
            Vec::with_capacity(batch.len());
        for (i, r) in batch.iter().enumerate() {
            // A tombstone stays a tombstone.
            let Some(value) = r.value() else {
                encoded.push((r, None));
                continue;
            };
            let start = framed.len();
            wire::write_header(*id, &mut framed);
            match encoder.encode_into(value, &mut framed) {
                Ok(()) => encoded.push((r, Some(start..framed.len()))),
                Err(reason) => {
                    framed.truncate(start);
                    rejected.push((i, Rejection::new(SCHEMA_MISMATCH, reason)));
                }
            }
        }
        let outgoing = encoded
            .iter()
            .map(|(r, value)| Outgoing::view(*r).with_value(value.clone().map(|v| &framed[v])));
        let pending = enqueue(&self.producer, &self.topic, outgoing).await?;
        Ok((rejected, pending.summed_into(&self.summary)))
    }
}

impl Sink for KafkaSink {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn send<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<(Rejected, Option<Pending>), SinkError>> {
        Box::pin(async move {
            let (rejected, pending) = self.produce(batch).await?;
            Ok((rejected, Some(pending)))
        })
    }
}
