//! The purchases pipeline: generator with injected bad events → topic →
//! validate → daily aggregation → report topic. Checked against an independent
//! computation over the generator's own labels (`weir.injected`), and across a
//! SIGKILL of the host.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

const EVENTS: u64 = 20_000;

/// The consumer connector; `group` lets two runs read the same topic independently.
fn consumer_toml(group: &str, report: &str) -> String {
    consumer_with(group, report, "purchases-validate")
}

/// The consumer connector with `validator` as its transform.
fn consumer_with(group: &str, report: &str, validator: &str) -> String {
    format!(
        r#"
name = "{group}"
[source.kafka]
topic = "purchases"
group_id = "{group}"
batch_size = 250
batch_timeout_ms = 300
[[transform]]
plugin = "{validator}"
[aggregate]
plugin = "purchases-daily"
trigger_interval_ms = 200
[sink.kafka]
topic = "{report}"
partitions = 1
[checkpoint]
interval_ms = 100
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"#
    )
}

/// Money as the report prints it (`18,457.50`) in cents.
fn cents(s: &str) -> i64 {
    let clean: String = s.chars().filter(|c| *c != ',').collect();
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, clean),
    };
    let (whole, frac) = digits.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{s}");
    let v = whole.parse::<i64>().expect("whole") * 100 + frac.parse::<i64>().expect("cents");
    if neg { -v } else { v }
}

/// The JSON number `12.34` in cents, exactly (as a decimal string, never a float sum).
fn json_cents(v: &serde_json::Value) -> i64 {
    let text = v.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "0"));
    let frac = format!("{frac:0<2}");
    assert_eq!(frac.len(), 2, "{text} has more than two decimals");
    whole.parse::<i64>().expect("whole") * 100 + frac.parse::<i64>().expect("frac")
}

/// Independent truth from the input topic: the valid events' total and count.
struct Truth {
    total_cents: i64,
    valid: u64,
    injected: u64,
}

async fn truth(bootstrap: &str) -> Truth {
    let seen = consume(
        bootstrap,
        "purchases",
        EVENTS as usize,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(seen.len() as u64, EVENTS);
    let mut t = Truth {
        total_cents: 0,
        valid: 0,
        injected: 0,
    };
    for s in &seen {
        match s.header("weir.injected") {
            Some(_) => t.injected += 1,
            None => {
                let v: serde_json::Value =
                    serde_json::from_slice(s.value.as_deref().expect("value")).expect("JSON");
                t.total_cents += json_cents(&v["total_amount"]);
                t.valid += 1;
            }
        }
    }
    t
}

/// The last `RUNNING TOTAL` row of a report topic: (cents, transactions).
async fn final_running_total(bootstrap: &str, topic: &str) -> (i64, u64) {
    let seen = consume(bootstrap, topic, usize::MAX, Duration::from_secs(5)).await;
    let last = seen
        .iter()
        .rev()
        .find(|s| s.header("weir.section") == Some("RUNNING TOTAL"))
        .expect("a RUNNING TOTAL row");
    let v: serde_json::Value =
        serde_json::from_slice(last.value.as_deref().expect("value")).expect("JSON");
    let count = v["transactions"]
        .as_u64()
        .or_else(|| {
            v["transactions"]
                .as_str()
                .and_then(|s| s.replace(',', "").parse().ok())
        })
        .expect("transactions");
    (
        cents(v["running_total"].as_str().expect("running_total")),
        count,
    )
}

/// A broker holding the generated input, and the truth about it.
async fn setup() -> (weir::kafka::embedded::EmbeddedBroker, Truth) {
    plugin("purchases-validate");
    plugin("purchases-daily");
    let broker = broker().await;
    produce_purchases(&broker.bootstrap(), EVENTS).await;
    let truth = truth(&broker.bootstrap()).await;
    (broker, truth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_reach_the_dlq_with_their_reasons_and_totals_are_exact() {
    let (broker, truth) = setup().await;
    let bootstrap = broker.bootstrap();
    assert!(truth.injected > 500, "the generator injected bad events");

    let (_dir, loaded) = connector(&consumer_toml("daily", "report"));
    let stats = run_to_the_end(&loaded, &bootstrap, Duration::from_secs(120)).await;
    assert_eq!(stats.read, EVENTS);

    let (total, count) = final_running_total(&bootstrap, "report").await;
    assert_eq!(count, truth.valid, "every valid event counted once");
    assert_eq!(total, truth.total_cents, "running total to the cent");

    let dead = consume(&bootstrap, "daily.dlq", usize::MAX, Duration::from_secs(5)).await;
    let mut rejected = 0u64;
    for d in &dead {
        let reason = d.header("weir.dlq.reason").expect("reason");
        // The DLQ keeps the record as it came in, with the generator's label.
        let want: BTreeSet<&str> = d
            .header("weir.injected")
            .unwrap_or_else(|| panic!("a valid event was rejected: {reason}"))
            .split(',')
            .collect();
        let got: BTreeSet<&str> = d
            .header("weir.dlq.codes")
            .expect("codes")
            .split(',')
            .collect();
        assert_eq!(got, want, "reason `{reason}`");
        rejected += 1;
    }
    assert_eq!(
        rejected, truth.injected,
        "every injected event is in the DLQ"
    );
    assert_eq!(truth.valid + truth.injected, EVENTS);
    let by_code: u64 = stats.dlq_reasons.values().sum();
    assert!(by_code >= rejected, "{:?}", stats.dlq_reasons);
}

/// Runs `validator` over the whole topic; the final running total and the DLQ
/// as (input offset, codes, reason) in input order.
async fn run_with(
    bootstrap: &str,
    group: &str,
    validator: &str,
) -> ((i64, u64), Vec<(String, String, String)>) {
    let report = format!("{group}.report");
    let (_dir, loaded) = connector(&consumer_with(group, &report, validator));
    let stats = run_to_the_end(&loaded, bootstrap, Duration::from_secs(180)).await;
    assert_eq!(stats.read, EVENTS, "{validator}");
    let totals = final_running_total(bootstrap, &report).await;
    let dlq = format!("{group}.dlq");
    let mut dead: Vec<(String, String, String)> =
        consume(bootstrap, &dlq, usize::MAX, Duration::from_secs(5))
            .await
            .iter()
            .map(|d| {
                let h = |name: &str| d.header(name).unwrap_or_default().to_string();
                (
                    format!(
                        "{}/{}",
                        h("weir.dlq.source.partition"),
                        h("weir.dlq.source.offset")
                    ),
                    h("weir.dlq.codes"),
                    h("weir.dlq.reason"),
                )
            })
            .collect();
    dead.sort();
    (totals, dead)
}

/// The Python port of the validator (plugins/purchases-validate-py) in the same
/// pipeline as the Rust one: the same daily totals and the same DLQ, record for
/// record and word for word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_validator_gives_the_rust_validators_totals_and_dlq() {
    let (broker, truth) = setup().await;
    plugin("purchases-validate-py");
    let bootstrap = broker.bootstrap();
    let (rust_totals, rust_dlq) = run_with(&bootstrap, "daily-rs", "purchases-validate").await;
    let (py_totals, py_dlq) = run_with(&bootstrap, "daily-py", "purchases-validate-py").await;
    assert_eq!(rust_totals, (truth.total_cents, truth.valid));
    assert_eq!(py_totals, rust_totals, "daily totals");
    assert_eq!(rust_dlq.len() as u64, truth.injected);
    assert!(
        rust_dlq
            .iter()
            .all(|(at, _, reason)| at.contains('/') && !reason.is_empty())
    );
    assert_eq!(py_dlq.len(), rust_dlq.len(), "DLQ entries");
    for (py, rs) in py_dlq.iter().zip(&rust_dlq) {
        assert_eq!(py, rs, "the same rejection, in the same words");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_gives_the_totals_of_an_uninterrupted_run() {
    let (broker, truth) = setup().await;
    let bootstrap = broker.bootstrap();

    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("daily.toml");
    std::fs::write(&toml, consumer_toml("killed", "report-killed")).expect("write");
    let state = dir.path().join("state");

    // First run: killed with SIGKILL once a checkpoint covers part of the input.
    let metrics_addr = free_addr();
    let mut first = weir_run(
        &toml,
        &bootstrap,
        &state,
        &["--metrics-listen", &metrics_addr],
    );
    let store = weir::state::CheckpointStore::new(&state, "killed");
    let covered = || covered_offsets(&store);
    eventually(|| covered() >= 3_000).await;
    assert!(
        first.try_wait().expect("wait").is_none(),
        "the first run finished before it could be killed; make the input larger"
    );
    // Per-rule DLQ counts are exported while it runs.
    let metrics = http_get(&metrics_addr, "/metrics").1;
    for code in ["duplicate_event_id", "total_mismatch", "missing_field"] {
        let needle = format!("reason=\"{code}\"");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("weir_dlq_records_total") && l.contains(&needle)),
            "no DLQ count for {code} in:\n{metrics}"
        );
    }
    assert!(metrics.contains("weir_checkpoints_total"), "{metrics}");
    kill(first);
    let at_kill = covered();
    assert!(
        (3_000..EVENTS as i64).contains(&at_kill),
        "killed with {at_kill} records checkpointed"
    );

    // Second run: same group, same state, until it has caught up.
    let log = finish(weir_run(
        &toml,
        &bootstrap,
        &state,
        &["--exit-at-end", "--duration", "150"],
    ))
    .await;
    assert!(log.contains("Restored state and positions"), "{log}");
    assert!(log.contains("Reached the end of the source"), "{log}");

    let (total, count) = final_running_total(&bootstrap, "report-killed").await;
    assert_eq!(count, truth.valid, "no event lost or counted twice");
    assert_eq!(total, truth.total_cents);
}
