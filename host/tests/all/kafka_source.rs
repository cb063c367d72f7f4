//! The Kafka source on its own: records taken a batch at a time from the
//! queue librdkafka forwards the assigned partitions to, across a rebalance.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::bindings as rdsys;
use rdkafka::producer::{BaseProducer, Producer as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weir::config::StartFrom;
use weir::kafka::client::Cluster;
use weir::sources::KafkaSource;
use weir::sources::kafka::Batching;

use crate::common::{broker, create_topic};

/// One record as the source handed it on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
}

/// Produces `n` records to `partitions` partitions of `topic` round-robin,
/// through librdkafka's C interface (header names as raw bytes): record `i`
/// has key `k{i}` (none for every 7th), value `v{i}` (a tombstone for every
/// 11th), a header `seq` = `i`, a header with no value, and every 13th a
/// header whose name is not UTF-8.
fn produce(bootstrap: &str, topic: &str, partitions: i32, n: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let topic = CString::new(topic).expect("topic");
    let seq = CString::new("seq").expect("name");
    let empty = CString::new("empty").expect("name");
    let odd = CString::new(vec![0xff, b'x', 0xfe]).expect("name");
    use rdsys::rd_kafka_vtype_t as V;
    type U = rdsys::rd_kafka_vu_s__bindgen_ty_1;
    let vu = |vtype, u| rdsys::rd_kafka_vu_t { vtype, u };
    let mem = |b: &[u8]| U {
        mem: rdsys::rd_kafka_vu_s__bindgen_ty_1__bindgen_ty_1 {
            ptr: b.as_ptr().cast_mut().cast(),
            size: b.len(),
        },
    };
    let header = |name: &CString, value: Option<&[u8]>| U {
        header: rdsys::rd_kafka_vu_s__bindgen_ty_1__bindgen_ty_2 {
            name: name.as_ptr(),
            val: value.map_or(std::ptr::null(), |v| v.as_ptr().cast()),
            size: value.map_or(-1, |v| v.len() as isize),
        },
    };
    for i in 0..n {
        let (key, value, number) = (format!("k{i}"), format!("v{i}"), i.to_string());
        let mut vus = vec![
            vu(
                V::RD_KAFKA_VTYPE_TOPIC,
                U {
                    cstr: topic.as_ptr(),
                },
            ),
            vu(
                V::RD_KAFKA_VTYPE_PARTITION,
                U {
                    i32_: i as i32 % partitions,
                },
            ),
            vu(
                V::RD_KAFKA_VTYPE_MSGFLAGS,
                U {
                    i: rdsys::RD_KAFKA_MSG_F_COPY,
                },
            ),
            vu(
                V::RD_KAFKA_VTYPE_HEADER,
                header(&seq, Some(number.as_bytes())),
            ),
            vu(V::RD_KAFKA_VTYPE_HEADER, header(&empty, None)),
        ];
        if !i.is_multiple_of(7) {
            vus.push(vu(V::RD_KAFKA_VTYPE_KEY, mem(key.as_bytes())));
        }
        if !i.is_multiple_of(11) {
            vus.push(vu(V::RD_KAFKA_VTYPE_VALUE, mem(value.as_bytes())));
        }
        if i.is_multiple_of(13) {
            vus.push(vu(V::RD_KAFKA_VTYPE_HEADER, header(&odd, Some(b"odd"))));
        }
        loop {
            // SAFETY: every pointer outlives the call (F_COPY copies the bytes).
            let error = unsafe {
                rdsys::rd_kafka_produceva(producer.client().native_ptr(), vus.as_ptr(), vus.len())
            };
            if error.is_null() {
                break;
            }
            // SAFETY: an error librdkafka returned, ours to destroy.
            let code = unsafe { rdsys::rd_kafka_error_code(error) };
            unsafe { rdsys::rd_kafka_error_destroy(error) };
            assert_eq!(
                code,
                rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__QUEUE_FULL,
                "produce {i}"
            );
            producer.poll(Duration::from_millis(10));
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn expected(i: usize, partitions: i32) -> Got {
    let mut headers = vec![
        ("seq".to_string(), i.to_string().into_bytes()),
        ("empty".to_string(), Vec::new()),
    ];
    if i.is_multiple_of(13) {
        headers.push(("\u{fffd}x\u{fffd}".to_string(), b"odd".to_vec()));
    }
    Got {
        partition: i as i32 % partitions,
        offset: (i / partitions as usize) as i64,
        key: (!i.is_multiple_of(7)).then(|| format!("k{i}").into_bytes()),
        value: (!i.is_multiple_of(11)).then(|| format!("v{i}").into_bytes()),
        headers,
    }
}

async fn source(bootstrap: &str, topic: &str) -> KafkaSource {
    let cluster = Cluster {
        bootstrap: bootstrap.to_string(),
        settings: Default::default(),
    };
    let consumer = cluster
        .consumer("split-group", StartFrom::Earliest)
        .expect("consumer");
    let batching = Batching {
        max: 50,
        timeout: Duration::from_millis(100),
        linger: Duration::ZERO,
    };
    KafkaSource::new(consumer, bootstrap, topic, batching).expect("source")
}

/// Takes one batch, marks it handled and commits it: what a pipeline does.
async fn step(source: &mut KafkaSource, got: &mut Vec<Got>, stop: &CancellationToken) {
    let batch = source.next_batch(50, stop).await.expect("batch");
    for r in batch.iter() {
        let origin = r.origin().expect("origin");
        let record = r.to_record();
        got.push(Got {
            partition: origin.partition,
            offset: origin.offset,
            key: record.key,
            value: record.value,
            headers: record.headers,
        });
    }
    let next = batch.next_offsets();
    weir::sources::Source::mark_handled(source, &next);
    let positions = source.positions().clone();
    source.commit_offsets(&positions).expect("commit");
}

/// Per partition, offsets only go up in what one source handed on.
fn in_order(got: &[Got]) -> bool {
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    got.iter().all(|g| {
        let before = last.insert(g.partition, g.offset);
        before.is_none_or(|b| g.offset > b)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_of_one_group_read_every_record_intact_and_in_order_across_a_rebalance() {
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    // Enough that the first source, reading 50 records a step, is far from
    // the end when the group has rebalanced.
    let (topic, partitions, n) = ("split", 2, 20_000);
    create_topic(&bootstrap, topic, partitions).await;
    produce(&bootstrap, topic, partitions, n);

    let stop = CancellationToken::new();
    let mut first = source(&bootstrap, topic).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let limit = Instant::now() + Duration::from_secs(90);
    while a.len() < 500 && Instant::now() < limit {
        step(&mut first, &mut a, &stop).await;
    }
    assert!(
        a.len() >= 500,
        "the first source alone read {} records",
        a.len()
    );
    let before_join = a.len();
    let mut second = source(&bootstrap, topic).await;
    let mut seen = BTreeMap::new();
    while Instant::now() < limit {
        step(&mut first, &mut a, &stop).await;
        step(&mut second, &mut b, &stop).await;
        seen.clear();
        for g in a.iter().chain(&b) {
            seen.insert((g.partition, g.offset), g.clone());
        }
        if seen.len() == n && !b.is_empty() && a.len() > before_join {
            break;
        }
    }
    assert!(!b.is_empty(), "the second source got nothing after joining");
    assert!(
        a.len() > before_join,
        "the first source read nothing after the rebalance"
    );
    assert_eq!(seen.len(), n, "records read: {} of {n}", seen.len());
    for i in 0..n {
        let e = expected(i, partitions);
        assert_eq!(seen.get(&(e.partition, e.offset)), Some(&e), "record {i}");
    }
    assert!(in_order(&a), "the first source handed records out of order");
    assert!(
        in_order(&b),
        "the second source handed records out of order"
    );
    second.close().expect("close");
    first.close().expect("close");
}
