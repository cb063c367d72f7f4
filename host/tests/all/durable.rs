//! `weir broker --data-dir`: a broker killed with SIGKILL and started again on
//! the same directory has every acknowledged record, every committed offset
//! and the same cluster id (so connectors' checkpoints stay valid).

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, TopicPartitionList};

use crate::common::*;

const RECORDS: usize = 3_000;
const CONSUMED: usize = 1_000;

async fn durable_broker(addr: &str, dir: &std::path::Path) -> std::process::Child {
    broker_process_with(addr, &["--data-dir".as_ref(), dir.as_os_str()]).await
}

fn cluster_id(bootstrap: &str) -> Option<String> {
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "probe")
        .create()
        .expect("client");
    c.client().fetch_cluster_id(Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_offsets_and_the_cluster_id_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let broker = durable_broker(&addr, dir.path()).await;
    create_topic(&addr, "durable", 3).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in 0..RECORDS {
        let key = i.to_string();
        producer
            .send(
                // Headers, as weir's own records carry: the SQLite engine once
                // scanned its whole header table per fetched record.
                FutureRecord::to("durable").key(&key).payload(&key).headers(
                    rdkafka::message::OwnedHeaders::new()
                        .insert(rdkafka::message::Header {
                            key: "weir.seq",
                            value: Some(&key),
                        })
                        .insert(rdkafka::message::Header {
                            key: "weir.lineage",
                            value: Some("durable"),
                        }),
                ),
                Duration::from_secs(10),
            )
            .await
            .expect("acknowledged");
    }
    // A group reads part of the topic and commits.
    let group: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "durable-group")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    group.subscribe(&["durable"]).expect("subscribe");
    for _ in 0..CONSUMED {
        tokio::time::timeout(Duration::from_secs(30), group.recv())
            .await
            .expect("a record in time")
            .expect("a record");
    }
    group
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");
    drop(group);
    let id = cluster_id(&addr).expect("cluster id");

    kill(broker);
    let broker = durable_broker(&addr, dir.path()).await;

    assert_eq!(
        cluster_id(&addr).as_deref(),
        Some(id.as_str()),
        "same cluster id"
    );
    let seen = consume(&addr, "durable", RECORDS, Duration::from_secs(5)).await;
    let keys: BTreeSet<String> = seen
        .iter()
        .map(|s| String::from_utf8_lossy(s.key.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(seen.len(), RECORDS, "no record lost or repeated");
    for s in &seen {
        let key = String::from_utf8_lossy(s.key.as_deref().unwrap_or_default()).into_owned();
        assert_eq!(s.header("weir.seq"), Some(key.as_str()), "its own headers");
        assert_eq!(s.header("weir.lineage"), Some("durable"));
    }
    assert_eq!(keys.len(), RECORDS);
    let probe: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "durable-group")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition("durable", p);
    }
    let committed = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    let total: i64 = committed
        .elements()
        .iter()
        .filter_map(|e| e.offset().to_raw())
        .filter(|o| *o >= 0)
        .sum();
    assert!(
        total >= CONSUMED as i64,
        "the group's commits survived: {total} records committed"
    );
    kill(broker);
}

/// `weir broker` on an address another program holds stops at once with an
/// error naming it, instead of running with its listener dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_on_a_taken_port_exits_with_an_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr").to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .args([
                "broker",
                "--listen",
                &addr,
                "--registry-listen",
                "127.0.0.1:0",
            ])
            .output()
    })
    .await
    .expect("join")
    .expect("weir runs");
    drop(holder);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(err.contains("another program holds it"), "{err}");
}
