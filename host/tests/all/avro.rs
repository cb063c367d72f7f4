//! The customer-events pipeline: generated events written as Avro in Confluent's
//! framing with the schema registered first; an incompatible schema stops the
//! connector before it produces; a record that does not fit the schema goes to
//! the DLQ with the field that failed.

use std::time::Duration;

use weir::config::KafkaConfig;
use weir::kafka::client::Cluster;
use weir::pipeline::{Pipeline, PipelineError, StopAfter};
use weir::registry::EmbeddedRegistry;
use weir::registry::client::RegistryClient;

use crate::common::*;

fn schema_path() -> String {
    repo_root()
        .join("schemas/user_event.v1.avsc")
        .display()
        .to_string()
}

fn events_toml(topic: &str, schema: &str) -> String {
    format!(
        r#"
name = "{topic}"
[source.generator]
plugin = "customer-events"
rate_per_sec = 0
[source.generator.config]
seed = 5
users = 200
[sink.kafka]
topic = "{topic}"
partitions = 3
format = "avro"
value_schema = "{schema}"
"#
    )
}

async fn registry(bootstrap: &str) -> EmbeddedRegistry {
    let cluster = Cluster {
        bootstrap: bootstrap.to_string(),
        settings: KafkaConfig::default(),
    };
    EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"), &cluster)
        .await
        .expect("registry starts")
}

async fn run(
    toml: &str,
    bootstrap: &str,
    url: &str,
    n: u64,
) -> Result<weir::pipeline::RunStats, PipelineError> {
    let (_dir, loaded) = connector(toml);
    let p = Pipeline::build(
        &loaded,
        &runtime(),
        bootstrap,
        Some(url),
        &state_dir(&loaded),
    )
    .await?;
    let stop = StopAfter {
        max_records: Some(n),
        ..Default::default()
    };
    Ok(p.run(stop, tokio_util::sync::CancellationToken::new())
        .await
        .expect("runs"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_avro_in_confluent_framing_with_the_registered_schema() {
    plugin("customer-events");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let reg = registry(&bootstrap).await;
    let stats = run(
        &events_toml("customer_events", &schema_path()),
        &bootstrap,
        &reg.url(),
        3_000,
    )
    .await
    .expect("builds");
    assert_eq!((stats.written, stats.dead_lettered), (3_000, 0));

    let client = RegistryClient::new(&reg.url()).expect("client");
    let seen = consume(&bootstrap, "customer_events", 3_000, Duration::from_secs(5)).await;
    assert_eq!(seen.len(), 3_000);
    let mut kinds = std::collections::BTreeMap::new();
    let mut writer = None;
    for s in &seen {
        let value = s.value.as_deref().expect("value");
        let (id, body) = weir::registry::wire::decode(value).expect("Confluent framing");
        if writer.is_none() {
            let text = client.schema_by_id(id).await.expect("schema by id");
            writer = Some(apache_avro::Schema::parse_str(&text).expect("schema"));
        }
        let schema = writer.as_ref().expect("schema");
        let record = apache_avro::from_avro_datum(schema, &mut &body[..], None).expect("avro");
        let apache_avro::types::Value::Record(fields) = record else {
            panic!("a record")
        };
        let get = |name: &str| &fields.iter().find(|(n, _)| n == name).expect(name).1;
        let apache_avro::types::Value::Enum(_, kind) = get("event_type") else {
            panic!("event_type is an enum")
        };
        *kinds.entry(kind.clone()).or_insert(0) += 1;
        let apache_avro::types::Value::String(user) = get("user_id") else {
            panic!("user_id is a string")
        };
        assert_eq!(s.key.as_deref(), Some(user.as_bytes()), "keyed by user_id");
        assert!(matches!(
            get("event_timestamp"),
            apache_avro::types::Value::TimestampMillis(_)
        ));
    }
    assert_eq!(
        kinds.keys().collect::<Vec<_>>(),
        ["browse", "content_play", "search"]
    );
    assert!(kinds["content_play"] > kinds["search"], "{kinds:?}");
    // Running again registers nothing new: the same id.
    let versions = client_versions(&reg.url(), "customer_events-value").await;
    run(
        &events_toml("customer_events", &schema_path()),
        &bootstrap,
        &reg.url(),
        10,
    )
    .await
    .expect("second run");
    assert_eq!(
        client_versions(&reg.url(), "customer_events-value").await,
        versions
    );
}

async fn client_versions(url: &str, subject: &str) -> String {
    reqwest::get(format!("{url}/subjects/{subject}/versions"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_schema_stops_the_connector_before_it_produces() {
    plugin("customer-events");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let reg = registry(&bootstrap).await;
    // Someone registered a UserEvent whose event_id is a long: our string
    // event_id cannot read what they wrote (BACKWARD, the default).
    let theirs = serde_json::json!({
        "type": "record", "name": "UserEvent", "namespace": "io.weir.media",
        "fields": [{"name": "event_id", "type": "long"}]
    });
    let client = RegistryClient::new(&reg.url()).expect("client");
    client
        .register("clash-value", &theirs.to_string())
        .await
        .expect("theirs registers");
    let err = run(
        &events_toml("clash", &schema_path()),
        &bootstrap,
        &reg.url(),
        100,
    )
    .await
    .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("not compatible"), "{text}");
    assert!(text.contains("event_id"), "the registry's reason: {text}");
    assert!(
        text.contains("user_event.v1.avsc"),
        "names the schema file: {text}"
    );
    let seen = consume(&bootstrap, "clash", usize::MAX, Duration::from_secs(2)).await;
    assert!(seen.is_empty(), "nothing produced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_fit_goes_to_the_dlq_with_the_failing_field() {
    plugin("customer-events");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let reg = registry(&bootstrap).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let narrow = dir.path().join("narrow.avsc");
    std::fs::write(
        &narrow,
        r#"{"type": "record", "name": "Narrow", "fields": [
            {"name": "event_id", "type": "string"}]}"#,
    )
    .expect("write");
    let stats = run(
        &events_toml("narrow", &narrow.display().to_string()),
        &bootstrap,
        &reg.url(),
        50,
    )
    .await
    .expect("builds");
    assert_eq!((stats.written, stats.dead_lettered), (0, 50));
    let dead = consume(&bootstrap, "narrow.dlq", 50, Duration::from_secs(5)).await;
    assert_eq!(dead.len(), 50);
    for d in &dead {
        assert_eq!(
            d.header("weir.dlq.reason"),
            Some(
                "schema_mismatch: event_type, event_timestamp, user_id and 9 more: not fields of Narrow"
            )
        );
        assert_eq!(d.header("weir.dlq.stage"), Some("sink.kafka"));
        // The record as the plugin made it: JSON, not Avro.
        let v: serde_json::Value =
            serde_json::from_slice(d.value.as_deref().expect("value")).expect("JSON");
        assert!(v["event_id"].is_string());
    }
}
