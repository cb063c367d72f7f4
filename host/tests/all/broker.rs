//! The embedded broker (Tansu, patched in `vendor/`) serves fetches as Kafka
//! does, checked with real rdkafka clients.

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::common::*;

/// A consumer that starts inside a batch, with fetches cut short by
/// `fetch.max.bytes`, gets every record from its start on, without a gap.
/// Tansu's fetch went on from the start plus the number of records fetched;
/// as the first batch served begins before the start, that skipped records
/// (the campaign bounce test lost views this way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_from_inside_a_batch_misses_no_record() {
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let topic = "batches";
    create_topic(&bootstrap, topic, 1).await;

    // One batch of 10 records (offsets 0-9), then 40 batches of one record.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "200")
        .create()
        .expect("producer");
    let value = |i: usize| format!("record-{i:04}");
    let values: Vec<String> = (0..10).map(value).collect();
    let first: Vec<_> = values
        .iter()
        .map(|v| producer.send_result(FutureRecord::<(), _>::to(topic).payload(v)))
        .collect::<Result<_, _>>()
        .map_err(|(e, _)| e)
        .expect("queued");
    let mut offsets = Vec::new();
    for d in first {
        offsets.push(d.await.expect("delivered").expect("acknowledged").offset);
    }
    for i in 10..50 {
        let v = value(i);
        let sent = producer
            .send(
                FutureRecord::<(), _>::to(topic).payload(&v),
                Duration::from_secs(10),
            )
            .await
            .expect("acknowledged");
        offsets.push(sent.offset);
    }
    assert_eq!(offsets, (0..50).collect::<Vec<i64>>());

    // From offset 5, the middle of the first batch; fetches of about 1 kB
    // (the responses themselves may be larger).
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "batches")
        .set("enable.auto.commit", "false")
        .set("message.max.bytes", "1000")
        .set("fetch.max.bytes", "1000")
        .set("max.partition.fetch.bytes", "1000")
        .set("receive.message.max.bytes", "100000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(5))
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let mut seen = Vec::new();
    while seen.len() < 45 {
        match tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            Err(_) => break,
            Ok(m) => {
                let m = m.expect("fetched");
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                seen.push((m.offset(), v));
            }
        }
    }
    let missing: Vec<i64> = (5..50)
        .filter(|o| !seen.iter().any(|(s, _)| s == o))
        .collect();
    assert!(missing.is_empty(), "offsets never fetched: {missing:?}");
    let want: Vec<(i64, String)> = (5..50).map(|i| (i as i64, value(i))).collect();
    assert_eq!(seen, want);
}
