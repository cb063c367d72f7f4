//! Observability of a running host: a Prometheus scrape during a run shows
//! counters that match the records produced and consumed, the consumer lag
//! drains to zero, `/healthz` and `/readyz` answer, and SIGTERM ends the run
//! cleanly.

use crate::common::*;

const EVENTS: u64 = 4_000;

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_during_a_run_matches_the_records_produced() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let broker = broker().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gen_toml = dir.path().join("gen.toml");
    std::fs::write(
        &gen_toml,
        format!(
            r#"
name = "obs-gen"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 0
batch_size = 500
max_records = {EVENTS}
[source.generator.config]
seed = 7
invalid_ratio = 0.05
duplicate_ratio = 0.0
[sink.kafka]
topic = "obs-purchases"
partitions = 3
"#
        ),
    )
    .expect("write");
    let val_toml = dir.path().join("validate.toml");
    std::fs::write(
        &val_toml,
        r#"
name = "obs-validate"
[source.kafka]
topic = "obs-purchases"
batch_size = 500
batch_timeout_ms = 200
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "obs-valid"
[checkpoint]
interval_ms = 200
"#,
    )
    .expect("write");

    let addr = free_addr();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("run")
        .args([&gen_toml, &val_toml])
        .args(["--bootstrap-servers", &broker.bootstrap()])
        .args(["--metrics-listen", &addr])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .env("WEIR_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("weir starts");
    let run = Running::new(run);

    let validated = "connector=\"obs-validate\"";
    let mut metrics = String::new();
    let stage = ["plugin=\"purchases-validate\""];
    // Settled: every record read has been through the stage and delivered,
    // and the lag reported after the last checkpoint is zero.
    let done = eventually(|| {
        metrics = http_get(&addr, "/metrics").1;
        let out = sample(&metrics, "weir_stage_records_out_total", &stage);
        sample(&metrics, "weir_records_read_total", &[validated]) >= EVENTS as f64
            && sample(&metrics, "weir_stage_records_in_total", &stage) >= EVENTS as f64
            && sample(&metrics, "weir_records_written_total", &[validated]) == out
            && metrics.contains("weir_consumer_lag")
            && sample(&metrics, "weir_consumer_lag", &["topic=\"obs-purchases\""]) == 0.0
    })
    .await;
    assert!(
        done,
        "the scrape never showed {EVENTS} records read:\n{metrics}\n{}",
        run.log()
    );

    let n = EVENTS as f64;
    assert_eq!(
        sample(
            &metrics,
            "weir_records_written_total",
            &["connector=\"obs-gen\""]
        ),
        n,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "weir_records_read_total", &[validated]), n);
    let stage_in = sample(&metrics, "weir_stage_records_in_total", &stage);
    let stage_out = sample(&metrics, "weir_stage_records_out_total", &stage);
    let failed = sample(&metrics, "weir_stage_records_failed_total", &stage);
    assert_eq!(stage_in, n, "{metrics}");
    assert_eq!(stage_out + failed, n, "{metrics}");
    assert!(failed > 0.0, "5 % of the events are invalid:\n{metrics}");
    assert_eq!(
        sample(&metrics, "weir_records_written_total", &[validated]),
        stage_out
    );
    assert!(
        sample(&metrics, "weir_dlq_records_total", &[validated]) >= failed,
        "every failed record is counted by reason:\n{metrics}"
    );
    assert!(sample(&metrics, "weir_guest_call_seconds_count", &stage) > 0.0);
    assert_eq!(sample(&metrics, "weir_sandbox_traps_total", &[]), 0.0);
    assert_eq!(
        sample(&metrics, "weir_producer_delivery_errors_total", &[]),
        0.0
    );

    let (status, body) = http_get(&addr, "/healthz");
    assert!(status.contains("200"), "{status} {body}");
    let (status, body) = http_get(&addr, "/readyz");
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("obs-validate: Running"), "{body}");
    assert!(body.contains("obs-gen: Stopped"), "{body}");

    // SIGTERM: drain, commit, exit 0.
    run.signal("TERM");
    let log = run.finish().await;
    assert!(log.contains("Pipeline stopped"), "{log}");
}
