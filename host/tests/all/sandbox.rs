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
    create_topic(&broker.bootstrap(), "in", 1).await;
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

/// A test-misbehave instance with `memory_mb` and `call_timeout_ms`.
fn misbehave(memory_mb: usize, call_timeout_ms: u64) -> weir::runtime::PluginInstance {
    use weir::runtime::{GuestEnv, Limits, Plugin, PluginInstance, Role};
    let path = plugin("test-misbehave");
    let plugin = Plugin::load(&runtime(), &path, Role::Transform).expect("load");
    PluginInstance::start(
        std::sync::Arc::new(plugin),
        "sandbox",
        "{}".into(),
        Limits {
            memory_bytes: memory_mb << 20,
            call_timeout_ms,
        },
        GuestEnv::Real,
    )
    .expect("start")
}

fn batch(values: &[&str]) -> std::sync::Arc<weir::runtime::Columns> {
    let mut b = weir::record::Batch::default();
    for v in values {
        b.push(None, Some(v.as_bytes()), weir::record::NO_HEADERS, 0, None);
    }
    std::sync::Arc::clone(b.columns())
}

/// The process's resident memory in MiB (Linux).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[test]
fn a_guest_cannot_read_files_the_environment_or_the_network() {
    let mut inst = misbehave(64, 2_000);
    let out = inst.process(batch(&["PROBE"])).expect("probe runs");
    let records = out.output.records().expect("layout");
    let report = String::from_utf8_lossy(records[0].value.expect("report")).into_owned();
    println!("{report}");
    let line = |k: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("file").starts_with("error"), "{report}");
    assert!(line("listing").starts_with("error"), "{report}");
    assert_eq!(line("env"), "0", "{report}");
    assert!(line("tcp").starts_with("error"), "{report}");
    assert!(line("udp").starts_with("error"), "{report}");
}

#[test]
fn deep_recursion_is_a_trap_and_the_next_call_works() {
    let mut inst = misbehave(64, 2_000);
    let err = inst
        .process(batch(&["RECURSE"]))
        .expect_err("unbounded recursion must trap");
    println!("{err}");
    let out = inst.process(batch(&["fine"])).expect("a fresh instance");
    assert_eq!(out.passed, [0], "the fresh instance passes the record on");
}

#[test]
fn a_guest_asking_for_4_gib_stops_at_its_cap_and_the_host_stays_small() {
    let before = rss_mib();
    let mut inst = misbehave(64, 10_000);
    let err = inst
        .process(batch(&["ALLOC"]))
        .expect_err("allocation without end must trap");
    let after = rss_mib();
    println!("{err}; host RSS {before} → {after} MiB");
    assert!(
        after.saturating_sub(before) < 3 * 64,
        "the host grew by {} MiB for a 64 MiB cap",
        after - before
    );
    let out = inst.process(batch(&["fine"])).expect("a fresh instance");
    assert_eq!(out.passed, [0], "the fresh instance passes the record on");
}

#[test]
fn ten_thousand_trapping_calls_neither_panic_nor_leak() {
    let mut inst = misbehave(16, 2_000);
    let mut rss_at_1000 = 0;
    for i in 0..10_000 {
        assert!(inst.process(batch(&["PANIC"])).is_err());
        if i == 999 {
            rss_at_1000 = rss_mib();
        }
    }
    let rss_at_10000 = rss_mib();
    println!("RSS after 1,000 traps {rss_at_1000} MiB, after 10,000 {rss_at_10000} MiB");
    assert!(
        rss_at_10000 <= rss_at_1000 + 32,
        "memory grows with traps: {rss_at_1000} → {rss_at_10000} MiB"
    );
    let out = inst.process(batch(&["fine"])).expect("still serving");
    assert_eq!(out.passed, [0], "the fresh instance passes the record on");
}

/// Past its replay journal's cap an instance takes a snapshot in the
/// journal's place, so a trap then loses none of the state (test-misbehave
/// counts the records it passed).
#[test]
fn a_trap_after_the_replay_journal_filled_loses_no_state() {
    let mut inst = misbehave(16, 2_000).with_journal_cap(4 << 10);
    let record = "a record of about a hundred bytes, ".repeat(3);
    for _ in 0..200 {
        let out = inst.process(batch(&[record.as_str()])).expect("passes");
        assert_eq!(out.passed, [0]);
    }
    assert!(inst.process(batch(&["PANIC"])).is_err(), "the panic traps");
    let state = inst.snapshot().expect("the fresh instance snapshots");
    let passed = u64::from_le_bytes(state[..].try_into().expect("8 bytes"));
    assert_eq!(
        passed, 200,
        "every record passed before the trap is counted"
    );
}

/// Reported, not asserted (tests never assert on wall-clock time): how long an
/// endless loop runs past its 100 ms deadline, idle and with both cores busy.
#[test]
fn endless_loops_are_stopped_at_their_deadline() {
    let mut inst = misbehave(16, 100);
    let mut report = Vec::new();
    for load in [false, true] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let burners: Vec<_> = (0..if load { 2 } else { 0 })
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                })
            })
            .collect();
        let mut ms: Vec<u128> = (0..20)
            .map(|_| {
                let started = std::time::Instant::now();
                let err = inst.process(batch(&["LOOP"])).expect_err("must be stopped");
                assert!(!err.to_string().is_empty());
                started.elapsed().as_millis()
            })
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for b in burners {
            b.join().expect("burner");
        }
        ms.sort_unstable();
        report.push(format!(
            "{}: p50 {} ms, p99 {} ms, max {} ms over {} runs (deadline 100 ms)",
            if load { "both cores busy" } else { "idle" },
            ms[ms.len() / 2],
            ms[(ms.len() * 99 / 100).min(ms.len() - 1)],
            ms[ms.len() - 1],
            ms.len()
        ));
    }
    println!("{}", report.join("\n"));
    let out = inst.process(batch(&["fine"])).expect("still serving");
    assert_eq!(out.passed, [0], "the fresh instance passes the record on");
}
