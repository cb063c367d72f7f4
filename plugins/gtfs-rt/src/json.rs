//! The protobuf JSON mapping of a feed's header and entities, as Python's
//! `json_format.MessageToDict` writes it: lowerCamelCase (or proto) names,
//! enum names, 64-bit integers as strings, unset fields left out.
//!
//! The feed is decoded a second time as a `prost_reflect::DynamicMessage`,
//! which keeps proto2 presence exactly as on the wire (the generated types turn
//! an absent required message into a default one) and knows every name.

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions, Value};
use weir_sdk::Rejection;

use crate::config::FieldNames;
use crate::proto::DESCRIPTOR_SET;
use crate::{MALFORMED_PROTOBUF, unexplained};

/// Serializes feeds with one naming convention.
#[derive(Debug, Clone)]
pub struct Mapper {
    feed: MessageDescriptor,
    options: SerializeOptions,
}

/// One feed, decoded for serialization.
#[derive(Debug, Clone)]
pub struct JsonFeed {
    /// The JSON of `FeedMessage.header`.
    pub header: Vec<u8>,
    entities: Vec<DynamicMessage>,
}

impl Mapper {
    /// Loads the compiled schema.
    pub fn new(names: FieldNames) -> Result<Self, String> {
        let pool = DescriptorPool::decode(DESCRIPTOR_SET)
            .map_err(|e| format!("gtfs-rt: built-in descriptor set is invalid: {e}"))?;
        let feed = pool
            .get_message_by_name("transit_realtime.FeedMessage")
            .ok_or("gtfs-rt: built-in schema has no transit_realtime.FeedMessage")?;
        let options = SerializeOptions::new()
            .use_proto_field_name(names == FieldNames::Proto)
            .stringify_64_bit_integers(true)
            .use_enum_numbers(false)
            .skip_default_fields(true);
        Ok(Mapper { feed, options })
    }

    /// Decodes `bytes` (already accepted by [`crate::feed::decode`]).
    pub fn decode(&self, bytes: &[u8]) -> Result<JsonFeed, Rejection> {
        let mut msg = DynamicMessage::decode(self.feed.clone(), bytes)
            .map_err(|e| Rejection::new(MALFORMED_PROTOBUF, e.to_string()))?;
        let header = match msg.get_field_by_name("header") {
            Some(h) => self.to_json(h.as_message()).map_err(unexplained)?,
            None => b"{}".to_vec(),
        };
        let entities = match msg.take_field_by_name("entity") {
            Some(Value::List(list)) => list
                .into_iter()
                .filter_map(|v| match v {
                    Value::Message(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(JsonFeed { header, entities })
    }

    /// The output value for entity `index`: `{"header":{…},"entity":{…}}`.
    pub fn record(&self, feed: &JsonFeed, index: usize) -> Result<Vec<u8>, String> {
        let entity = feed
            .entities
            .get(index)
            .ok_or_else(|| format!("gtfs-rt: entity #{index} missing from the dynamic decode"))?;
        let mut out = Vec::with_capacity(feed.header.len() + 256);
        out.extend_from_slice(b"{\"header\":");
        out.extend_from_slice(&feed.header);
        out.extend_from_slice(b",\"entity\":");
        self.write(&mut out, entity)?;
        out.push(b'}');
        Ok(out)
    }

    fn to_json(&self, msg: Option<&DynamicMessage>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        match msg {
            Some(m) => self.write(&mut out, m)?,
            None => out.extend_from_slice(b"{}"),
        }
        Ok(out)
    }

    fn write(&self, out: &mut Vec<u8>, msg: &DynamicMessage) -> Result<(), String> {
        let mut ser = serde_json::Serializer::new(out);
        msg.serialize_with_options(&mut ser, &self.options)
            .map_err(|e| format!("gtfs-rt: cannot write JSON: {e}"))
    }
}
