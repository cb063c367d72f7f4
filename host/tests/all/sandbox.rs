//! Misbehaving plugins are stopped (deadline, memory cap, panic), their batch goes
//! to the DLQ with the reason, and the pipeline goes on with later batches.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_alloc_and_panic_go_to_the_dlq_and_the_pipeline_goes_on() {
    plugin("test-misbehave");
    let broker = broker().await;
    // batch_size = 1: every record is its own batch, so a trap costs one record.
    let (_dir, loaded) = connector(
        r#"
name = "sandbox"
[source.kafka]
topic = "in"
batch_size = 1
batch_timeout_ms = 100
[[transform]]
plugin = "test-misbehave"
[sink.kafka]
topic = "out"
partitions = 1
[limits]
memory_mb = 16
call_timeout_ms = 300
"#,
    );
    weir::kafka::admin::ensure_topics(
        &weir::kafka::client::Cluster {
            bootstrap: broker.bootstrap(),
            settings: Default::default(),
        },
        &[weir::kafka::admin::TopicSpec {
            name: "in".into(),
            partitions: 1,
            replication_factor: 1,
            config: Default::default(),
        }],
    )
    .await
    .expect("create input topic");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("producer");
    let inputs = [
        "a", "LOOP", "b", "ALLOC", "c", "PANIC", "d", "FAIL", "DROP", "e",
    ];
    for (i, v) in inputs.iter().enumerate() {
        let key = i.to_string();
        producer
            .send(
                FutureRecord::to("in").key(&key).payload(*v),
                Duration::from_secs(5),
            )
            .await
            .expect("produce input");
    }

    let stats = run_connector(
        &loaded,
        &broker.bootstrap(),
        inputs.len() as u64,
        Some(Duration::from_secs(60)),
    )
    .await;
    assert_eq!(stats.read, 10);
    assert_eq!(stats.written, 5);
    assert_eq!(stats.dead_lettered, 4);

    let out = consume(&broker.bootstrap(), "out", 6, Duration::from_secs(3)).await;
    let values: Vec<_> = out
        .iter()
        .map(|s| String::from_utf8_lossy(s.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(
        values,
        ["a", "b", "c", "d", "e"],
        "later batches still flow"
    );

    let dlq = consume(
        &broker.bootstrap(),
        "sandbox.dlq",
        5,
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(dlq.len(), 4);
    let reason_of = |v: &str| {
        let e = dlq
            .iter()
            .find(|s| s.value.as_deref() == Some(v.as_bytes()))
            .unwrap_or_else(|| panic!("{v} not in the DLQ"));
        assert_eq!(e.header("weir.dlq.stage"), Some("transform[0]"));
        assert_eq!(e.header("weir.dlq.plugin"), Some("test-misbehave"));
        assert_eq!(e.header("weir.dlq.source.topic"), Some("in"));
        assert!(e.header("weir.dlq.source.offset").is_some());
        e.header("weir.dlq.reason").unwrap_or_default().to_string()
    };
    let r = reason_of("LOOP");
    assert!(
        r.contains("deadline exceeded") && r.contains("300 ms"),
        "{r}"
    );
    let r = reason_of("ALLOC");
    assert!(
        r.contains("memory cap exceeded") && r.contains("16 MiB"),
        "{r}"
    );
    let r = reason_of("PANIC");
    assert!(
        r.contains("plugin trapped") && r.contains("told to panic"),
        "{r}"
    );
    assert_eq!(reason_of("FAIL"), "record asked to fail");
}
