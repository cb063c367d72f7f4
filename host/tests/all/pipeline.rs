//! The purchases pipeline end to end: generator plugin → embedded broker →
//! an independent rdkafka consumer.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_purchase_events_arrive_exactly_once_keyed_by_customer() {
    plugin("purchases-gen");
    let broker = broker().await;
    let (_dir, loaded) = connector(
        r#"
name = "gen-test"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 0
batch_size = 1000
[source.generator.config]
seed = 7
[sink.kafka]
topic = "purchases"
partitions = 3
"#,
    );
    let stats = run_connector(&loaded, &broker.bootstrap(), 10_000, None).await;
    assert_eq!(stats.read, 10_000);
    assert_eq!(stats.written, 10_000);

    let seen = consume(
        &broker.bootstrap(),
        "purchases",
        10_001,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(seen.len(), 10_000, "exactly 10,000 records, no more");
    let mut ids = HashSet::new();
    let mut partitions = HashSet::new();
    for s in &seen {
        let v: serde_json::Value =
            serde_json::from_slice(s.value.as_deref().expect("value")).expect("valid JSON");
        let customer = v["customer_id"].as_str().expect("customer_id");
        assert_eq!(
            s.key.as_deref(),
            Some(customer.as_bytes()),
            "key = customer_id"
        );
        for field in [
            "event_id",
            "timestamp",
            "customer_segment",
            "product_id",
            "product_name",
            "product_category",
            "quantity",
            "unit_price",
            "total_amount",
            "currency",
            "payment_method",
            "order_source",
            "discount_percentage",
            "is_new_customer",
            "device_type",
        ] {
            assert!(!v[field].is_null(), "{field} missing in {v}");
        }
        assert!(v["location"]["country"].is_string() && v["location"]["city"].is_string());
        assert!(
            ids.insert(v["event_id"].as_str().expect("id").to_string()),
            "duplicate event"
        );
        partitions.insert(s.partition);
    }
    assert_eq!(partitions.len(), 3, "keys spread over the 3 partitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_connector_commits_exactly_what_it_handled() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};

    let broker = broker().await;
    let (_d1, gen_cfg) = connector(
        r#"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 0
[sink.kafka]
topic = "p2"
partitions = 2
"#,
    );
    run_connector(&gen_cfg, &broker.bootstrap(), 300, None).await;
    // Copy p2 → p2-copy, stopping after 120 of the 300 records.
    let (_d2, copy_cfg) = connector(
        r#"
name = "copier"
[source.kafka]
topic = "p2"
batch_size = 50
batch_timeout_ms = 300
[sink.kafka]
topic = "p2-copy"
partitions = 1
"#,
    );
    let first = run_connector(&copy_cfg, &broker.bootstrap(), 120, None).await;
    assert_eq!(first.read, 120);
    let copied = consume(&broker.bootstrap(), "p2-copy", 121, Duration::from_secs(5)).await;
    assert_eq!(copied.len(), 120);

    // An independent client reads the group's committed offsets: together they
    // cover exactly the 120 handled records, not what was prefetched.
    let admin: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "copier")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("p2", 0);
    tpl.add_partition("p2", 1);
    let committed = admin
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    let total: i64 = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 120, "committed offsets: {committed:?}");
}

/// A Kafka source started before its topic exists says so in one line of its
/// own (not librdkafka's error, not "Consumer error"), picks the topic up once
/// it is created, and says that too. A bounded run (`--exit-at-end`) whose
/// topic never appears ends with an error naming the topic and the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_started_before_its_topic_waits_for_it_and_says_so() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("early.toml");
    let connector = |topic: &str| {
        format!(
            r#"
name = "early-{topic}"
[source.kafka]
topic = "{topic}"
batch_timeout_ms = 100
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "valid-{topic}"
"#
        )
    };
    std::fs::write(&toml, connector("purchases")).expect("write");
    let run = Running::new(weir_run(&toml, &bootstrap, &dir.path().join("state"), &[]));
    let waiting = format!("Waiting for topic `purchases` to exist on {bootstrap}");
    assert!(
        eventually(|| run.log().contains(&waiting)).await,
        "{}",
        run.log()
    );
    produce_purchases(&bootstrap, 2_000).await;
    let created = std::time::Instant::now();
    let picked_up = eventually_within(Duration::from_secs(60), || {
        committed(&bootstrap, "early-purchases", "purchases") >= 2_000
    })
    .await;
    println!(
        "a source started before its topic: all 2,000 records handled {:.1} s after the topic was created",
        created.elapsed().as_secs_f64()
    );
    assert!(picked_up, "{}", run.log());
    run.signal("TERM");
    let log = run.finish().await;
    assert_eq!(log.matches("Waiting for topic").count(), 1, "{log}");
    assert!(log.contains("Topic `purchases` exists now."), "{log}");
    for noise in ["ERROR", "Consumer error", "UnknownTopicOrPartition"] {
        assert!(!log.contains(noise), "`{noise}` in the log:\n{log}");
    }

    let never = dir.path().join("never.toml");
    std::fs::write(&never, connector("never")).expect("write");
    let out = weir_run(
        &never,
        &bootstrap,
        &dir.path().join("state"),
        &["--exit-at-end", "--duration", "120"],
    )
    .wait_with_output()
    .expect("weir exits");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains(&format!("topic `never` does not exist on {bootstrap}")),
        "{log}"
    );
}
