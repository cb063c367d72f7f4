//! `exactly_once = true`: Kafka → purchases-validate → Kafka in Kafka
//! transactions, on the embedded broker (Tansu, patched to route EndTxn and to
//! tell `read_committed` readers which transactions were aborted). A broker
//! without transactions is played by librdkafka's mock cluster with EndTxn
//! switched off: the host must refuse the setting with a clear error.

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;

use crate::common::*;

const EVENTS: u64 = 40_000;

fn connector_toml(exactly_once: bool) -> String {
    format!(
        r#"
name = "eos"
[source.kafka]
topic = "purchases"
group_id = "eos"
batch_size = 200
batch_timeout_ms = 100
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "valid"
partitions = 2
exactly_once = {exactly_once}
[checkpoint]
interval_ms = 100
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"max.poll.interval.ms" = "10000"
"#
    )
}

/// Five SIGKILLs at different points of the input, then a run to the end:
/// every event is answered exactly once for a `read_committed` reader — valid
/// ones in the output topic, bad ones in the DLQ with their labels — while a
/// `read_uncommitted` reader sees what the killed transactions left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_lose_and_repeat_nothing_for_read_committed_readers() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    produce_purchases(&bootstrap, EVENTS).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("eos.toml");
    std::fs::write(&toml, connector_toml(true)).expect("write");
    let state = dir.path().join("state");
    let started = std::time::Instant::now();
    for k in 1..=5i64 {
        let run = Running::new(weir_run(&toml, &bootstrap, &state, &[]));
        let at = EVENTS as i64 * k / 6;
        let reached = eventually_within(Duration::from_secs(60), || {
            committed(&bootstrap, "eos", "purchases") >= at
        })
        .await;
        assert!(
            reached,
            "run {k} did not commit {at} offsets:\n{}",
            run.log()
        );
        // Let the next transaction get under way, then kill in the middle of it.
        tokio::time::sleep(Duration::from_millis(30 * k as u64)).await;
        run.kill();
    }
    let log = run_to_end(&toml, &bootstrap, &state).await;
    assert!(log.contains("Restored state and positions"), "{log}");
    let recovered = started.elapsed();

    let idle = Duration::from_secs(3);
    let valid = consume(&bootstrap, "valid", usize::MAX, idle).await;
    let dead = consume(&bootstrap, "eos.dlq", usize::MAX, idle).await;
    for d in &dead {
        assert!(
            d.header("weir.injected").is_some(),
            "a valid event was rejected: {:?}",
            d.header("weir.dlq.reason")
        );
    }
    assert!(
        valid.iter().all(|v| v.header("weir.injected").is_none()),
        "a bad event passed"
    );
    let committed_tally = Tally::of(EVENTS, valid.iter().chain(&dead).map(seq));
    let raw_valid = consume_as(&bootstrap, "valid", usize::MAX, idle, "read_uncommitted").await;
    let raw_dead = consume_as(&bootstrap, "eos.dlq", usize::MAX, idle, "read_uncommitted").await;
    let uncommitted_tally = Tally::of(EVENTS, raw_valid.iter().chain(&raw_dead).map(seq));
    println!(
        "exactly-once, 5 SIGKILLs + a run to the end in {:.1} s: read_committed {committed_tally}; read_uncommitted {uncommitted_tally}",
        recovered.as_secs_f64()
    );
    assert_eq!(committed_tally.lost, 0, "{committed_tally}");
    assert_eq!(committed_tally.duplicated, 0, "{committed_tally}");
    assert!(
        uncommitted_tally.duplicated > 0,
        "no kill landed inside a transaction: the test proved nothing ({uncommitted_tally})"
    );
}

/// A broker without transactions (the mock cluster with EndTxn switched
/// off, as Tansu 0.6 was before weir's patch): the connector refuses to start,
/// naming the setting and what to do, before reading anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_transactions_is_refused() {
    plugin("purchases-validate");
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.apiversion(RDKafkaApiKey::EndTxn, None, None)
        .expect("EndTxn off");
    // The mock cannot create topics over the admin API.
    for (topic, partitions) in [
        ("purchases", 3),
        ("valid", 2),
        ("eos.dlq", 1),
        ("eos.state", 1),
    ] {
        mock.create_topic(topic, partitions, 1).expect("topic");
    }
    let (_dir, loaded) = connector(&connector_toml(true));
    let built = tokio::time::timeout(
        Duration::from_secs(90),
        weir::pipeline::Pipeline::build(
            &loaded,
            &runtime(),
            &mock.bootstrap_servers(),
            None,
            &state_dir(&loaded),
        ),
    )
    .await
    .expect("refused in bounded time");
    let Err(e) = built else {
        panic!("exactly_once was accepted by a broker without transactions");
    };
    let msg = e.to_string();
    println!("{msg}");
    assert!(msg.contains("exactly_once = false"), "{msg}");
    assert!(msg.contains("transactions"), "{msg}");
}
