//! Integration tests: one binary (link time), each module against the embedded
//! broker with real rdkafka clients. Plugins must be built first (`just plugin`).

mod avro;
mod bounce;
mod broker;
mod campaign;
mod cdc;
mod common;
mod compose;
mod config_ui;
mod conformance;
mod durable;
mod exactly_once;
mod faults;
mod hostile;
mod http;
mod kafka_source;
mod measure;
mod observe;
mod pg_server;
mod pipeline;
mod plan;
mod postgres_cdc;
mod postgres_sink;
mod purchases;
mod registry;
mod restart;
mod s3;
mod sandbox;
mod version;
