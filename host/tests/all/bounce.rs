//! Bounce tests for the pipelines `faults.rs` does not bounce, in the manner of
//! Kafka Connect's bounce test: the `weir run` host is stopped with SIGTERM 5
//! times and killed with SIGKILL 5 times in the middle of its run, each time
//! after observable progress, then run to its end, and what arrived is tallied
//! against what was produced (a number never seen is lost, one seen twice is
//! duplicated).
//!
//! - campaign: views → per-minute aggregation (partitioned state) → Parquet,
//!   effectively-once: the view counts of the rows add up to exactly the views
//!   produced, per (campaign, minute), kills included; no partial file visible.
//! - CDC: `cdc-source` (cdc-gen → cdc-shape → topic) and `cdc-view` (topic →
//!   cdc-table) in one host, as the shipped files run: every change once on
//!   the topic (`source.seq`), and the view's table, restored after each kill,
//!   equal to the table the topic rebuilds, with nothing in its DLQ.
//! - customer events: the shipped connector (generator → Avro in Confluent
//!   framing, schema registered in the embedded registry): every event once
//!   on the topic (`weir.seq`), all under the one registered schema id.
//! - GTFS-realtime: a loopback feed whose version changes with every request,
//!   polled, decoded by `gtfs-rt`, into Kafka: every version the host
//!   acknowledged (it asks for the next one only once a feed's records are
//!   acknowledged by Kafka) or fetched before a clean stop is in the topic,
//!   every vehicle of it; a SIGKILL may cut off only the one feed in flight.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::{Array, Int64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::common::*;
use crate::{campaign, cdc};
use campaign::{campaigns_csv, files};

/// Rounds per test: the first `STOPS` end with SIGTERM, the rest with SIGKILL.
const ROUNDS: u64 = 10;
const STOPS: u64 = 5;

/// Times measured over the rounds of one test.
#[derive(Default)]
struct Times {
    /// SIGTERM to exit 0, per clean stop.
    term: Vec<f64>,
    /// Start of a host to its first progress, per start.
    recover: Vec<f64>,
}

impl Times {
    fn worst(v: &[f64]) -> f64 {
        v.iter().copied().fold(0.0, f64::max)
    }

    fn summary(&self) -> String {
        format!(
            "SIGTERM to exit 0: at most {:.2} s over {} stops; start to first progress: at most {:.2} s over {} starts (after a SIGKILL at most {:.2} s)",
            Self::worst(&self.term),
            self.term.len(),
            Self::worst(&self.recover),
            self.recover.len(),
            Self::worst(&self.recover[(STOPS as usize + 1).min(self.recover.len())..]),
        )
    }

    fn check(&self) {
        let worst = Self::worst(&self.term);
        assert!(
            worst < 30.0,
            "a SIGTERM took {worst:.1} s to drain and exit"
        );
    }
}

/// One round: waits (at most 60 s each) for the host's first progress
/// (`progress() > 0`, timed from `started`) and then for `progress() >= step`,
/// lets it run `extra` longer, then stops it with SIGTERM (rounds below
/// [`STOPS`], and the last one, [`ROUNDS`]; exit 0 required) or kills it with
/// SIGKILL.
async fn bounce(
    round: u64,
    run: Running,
    started: Instant,
    mut progress: impl FnMut() -> i64,
    step: i64,
    extra: Duration,
    times: &mut Times,
) -> String {
    let first = eventually_within(Duration::from_secs(60), || progress() > 0).await;
    assert!(first, "round {round}: no progress\n{}", run.log());
    times.recover.push(started.elapsed().as_secs_f64());
    let reached = eventually_within(Duration::from_secs(60), || progress() >= step).await;
    assert!(reached, "round {round}: stuck\n{}", run.log());
    tokio::time::sleep(extra).await;
    if round < STOPS || round == ROUNDS {
        let t = Instant::now();
        run.signal("TERM");
        let log = run.finish().await;
        times.term.push(t.elapsed().as_secs_f64());
        assert!(log.contains("Pipeline stopped."), "{log}");
        log
    } else {
        let log = run.log();
        run.kill();
        log
    }
}

// ---------------------------------------------------------------- campaign

/// View logs keyed by campaign, `rate` a second, event time advancing 10 ms a
/// view; 1 % of unknown campaigns (dead-lettered by the aggregation), none late.
fn views_toml() -> String {
    format!(
        r#"
name = "views"
[source.generator]
plugin = "campaign-views"
rate_per_sec = 800
batch_size = 200
lookups = ["campaigns"]
[source.generator.config]
simulated_views_per_sec = 100
late_ratio = 0.0
unknown_campaign_ratio = 0.01
key = "campaign_id"
[lookup.campaigns]
path = "{csv}"
key = "campaign_id"
[sink.kafka]
topic = "views"
partitions = 3
"#,
        csv = campaigns_csv()
    )
}

/// The shipped aggregation's shape: partitioned state, Hive-partitioned Parquet.
fn minute_toml(out: &Path) -> String {
    // Smaller, faster batches than campaign.rs; a dead member leaves soon.
    let toml = campaign::minute_toml("minute", "views", out, true);
    let batches = "batch_size = 2000\nbatch_timeout_ms = 300";
    assert!(toml.contains(batches), "{toml}");
    toml.replace(batches, "batch_size = 500\nbatch_timeout_ms = 100")
        + "\"max.poll.interval.ms\" = \"10000\"\n"
}

fn hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// View count per (campaign, minute label) over the visible files under
/// `root`; panics on a visible file that is not complete Parquet.
fn counts(root: &Path) -> BTreeMap<(i64, String), i64> {
    let mut out = BTreeMap::new();
    for path in files(root).into_iter().filter(|p| !hidden(p)) {
        assert!(
            path.extension().is_some_and(|e| e == "parquet"),
            "stray visible file {}",
            path.display()
        );
        let minute = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("minute_timestamp="))
            .unwrap_or_else(|| panic!("not in a minute folder: {}", path.display()))
            .to_string();
        let file = std::fs::File::open(&path).expect("open");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("partial Parquet file {}: {e}", path.display()))
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let ids = batch.column_by_name("campaign_id").expect("campaign_id");
            let ids = ids.as_any().downcast_ref::<Int64Array>().expect("int64");
            let n = batch.column_by_name("view_count").expect("view_count");
            let n = n.as_any().downcast_ref::<Int64Array>().expect("int64");
            for i in 0..batch.num_rows() {
                *out.entry((ids.value(i), minute.clone())).or_default() += n.value(i);
            }
        }
    }
    out
}

/// (campaign, minute label) of a view's JSON.
fn view_key(value: &[u8]) -> (i64, String) {
    let j: Value = serde_json::from_slice(value).expect("view JSON");
    let start = j["start_timestamp"].as_i64().expect("start_timestamp");
    (
        j["campaign_id"].as_i64().expect("campaign_id"),
        campaign_model::time::minute(start - start.rem_euclid(60_000)),
    )
}

/// Where the bounced aggregation writes its dataset.
enum Dataset {
    Folder(PathBuf),
    /// A bucket of a local S3 server; read through a local copy.
    Bucket {
        server: Moto,
        copy: PathBuf,
    },
}

impl Dataset {
    fn connector(&self) -> String {
        match self {
            Dataset::Folder(out) => minute_toml(out),
            Dataset::Bucket { server, .. } => {
                minute_toml(Path::new("s3://lake/minute")) + server.storage_toml().as_str()
            }
        }
    }

    /// The dataset as a reader sees it now, as a folder.
    fn now(&self) -> PathBuf {
        match self {
            Dataset::Folder(out) => out.clone(),
            Dataset::Bucket { server, copy } => {
                server.mirror("lake", "minute", copy);
                copy.clone()
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_to_parquet_survives_five_stops_and_five_kills_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    campaign_bounce(dir.path(), Dataset::Folder(dir.path().join("out"))).await;
}

/// The same bounces with the dataset in an S3 bucket (a local moto server):
/// after every SIGKILL no partial or uncovered object stays visible, and the
/// dataset equals the input. Run with `BOUNCE_LOG_DIR` set, the broker's group
/// decisions are logged there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_to_s3_survives_five_stops_and_five_kills_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Moto::start();
    server.boto("s3.create_bucket(Bucket='lake')");
    let copy = dir.path().join("copy");
    campaign_bounce(dir.path(), Dataset::Bucket { server, copy }).await;
}

async fn campaign_bounce(dir: &Path, dataset: Dataset) {
    plugin("campaign-views");
    plugin("campaign-minute");
    // With BOUNCE_LOG_DIR, the in-process broker's group coordinator logs
    // to broker.log there (the join, sync and heartbeat decisions).
    if let Ok(d) = std::env::var("BOUNCE_LOG_DIR") {
        let file = std::fs::File::create(Path::new(&d).join("broker.log")).expect("broker.log");
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_env_filter("tansu_broker::coordinator=debug")
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .finish(),
        );
    }
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let views = dir.join("views.toml");
    std::fs::write(&views, views_toml()).expect("write");
    let minute = dir.join("minute.toml");
    std::fs::write(&minute, dataset.connector()).expect("write");
    let state = dir.join("state");
    let began = Instant::now();

    // Views arrive all through the bounces.
    let producer = Running::new(weir_run(&views, &bootstrap, &dir.join("gen"), &[]));
    assert!(
        eventually(|| producer.log().contains("Pipeline running.")).await,
        "{}",
        producer.log()
    );

    let mut times = Times::default();
    let mut logs: Vec<String> = Vec::new();
    for round in 0..=ROUNDS {
        let at_start = committed(&bootstrap, "minute", "views");
        let started = Instant::now();
        let run = Running::new(weir_run(&minute, &bootstrap, &state, &[]));
        let progress = || committed(&bootstrap, "minute", "views") - at_start;
        // Files on disk before the first stop; then about a second of input.
        if round == 0 {
            assert!(
                eventually_within(Duration::from_secs(60), || !files(&dataset.now())
                    .is_empty())
                .await,
                "no file written:\n{}",
                run.log()
            );
        }
        let extra = Duration::from_millis(37 * round);
        let log = bounce(round, run, started, progress, 1_000, extra, &mut times).await;
        if let Ok(d) = std::env::var("BOUNCE_LOG_DIR") {
            std::fs::write(Path::new(&d).join(format!("round-{round}.log")), &log).expect("log");
        }
        // For a failure: what each run restored, removed or complained about.
        logs.extend(
            log.lines()
                .filter(|l| {
                    ["Restor", "Remov", "WARN", "ERROR", "Partition"]
                        .iter()
                        .any(|w| l.contains(w))
                })
                .map(|l| format!("round {round}: {l}")),
        );
        // Right after a stop or a kill: every visible file is complete.
        counts(&dataset.now());
    }
    let producer_log = producer.log();
    producer.signal("TERM");
    producer.finish().await;
    let log = run_to_end(&minute, &bootstrap, &state).await;
    if let Ok(d) = std::env::var("BOUNCE_LOG_DIR") {
        std::fs::write(Path::new(&d).join("final.log"), &log).expect("log");
    }
    assert!(log.contains("Reached the end of the source"), "{log}");

    // The truth: every view in the topic, by (campaign, minute).
    let input = consume(&bootstrap, "views", usize::MAX, Duration::from_secs(3)).await;
    let mut truth: BTreeMap<(i64, String), i64> = BTreeMap::new();
    // Where each (campaign, minute)'s views are: partition, first and last offset.
    let mut place: BTreeMap<(i64, String), (i32, i64, i64)> = BTreeMap::new();
    for s in &input {
        let k = view_key(s.value.as_deref().expect("view"));
        let at = place
            .entry(k.clone())
            .or_insert((s.partition, s.offset, s.offset));
        at.1 = at.1.min(s.offset);
        at.2 = at.2.max(s.offset);
        *truth.entry(k).or_default() += 1;
    }
    // What the aggregation made of them: rows, and views dead-lettered (the
    // DLQ is at-least-once: each view counted once).
    let out = dataset.now();
    let stray: Vec<PathBuf> = files(&out).into_iter().filter(|p| hidden(p)).collect();
    assert!(stray.is_empty(), "hidden files left behind: {stray:?}");
    let mut made = counts(&out);
    let dead: BTreeSet<Vec<u8>> =
        consume(&bootstrap, "minute.dlq", usize::MAX, Duration::from_secs(3))
            .await
            .into_iter()
            .filter_map(|s| s.value)
            .collect();
    for v in &dead {
        *made.entry(view_key(v)).or_default() += 1;
    }
    let produced = input.len() as u64;
    let delivered: i64 = made.values().sum();
    let keys: BTreeSet<&(i64, String)> = truth.keys().chain(made.keys()).collect();
    let (mut lost, mut duplicated) = (0u64, 0u64);
    let mut wrong = Vec::new();
    for k in keys {
        let want = truth.get(k).copied().unwrap_or(0);
        let got = made.get(k).copied().unwrap_or(0);
        if want != got {
            wrong.push((k.clone(), want, got, place.get(k).copied()));
        }
        lost += (want - got).max(0) as u64;
        duplicated += (got - want).max(0) as u64;
    }
    let tally = Tally {
        produced,
        delivered: delivered as u64,
        lost,
        duplicated,
    };
    println!(
        "campaign → Parquet, {STOPS} SIGTERM + {} SIGKILL: {tally} (views; {} (campaign, minute) rows, {} views dead-lettered as unknown campaigns); {}; test took {:.1} s",
        ROUNDS - STOPS,
        truth.len(),
        dead.len(),
        times.summary(),
        began.elapsed().as_secs_f64()
    );
    assert!(produced > 20_000, "{tally}");
    assert!(
        wrong.is_empty(),
        "{tally}; (campaign, minute): produced, counted, (partition, offsets): {:?}\nruns:\n{}\nlast run:\n{log}\nproducer:\n{producer_log}",
        &wrong[..wrong.len().min(10)],
        logs.join("\n")
    );
    assert_eq!((tally.lost, tally.duplicated), (0, 0), "{tally}");
    times.check();
}

// ---------------------------------------------------------------- customer events

/// Records on `topic` (3 partitions): the sum of its high watermarks.
fn end_offsets(bootstrap: &str, topic: &str) -> i64 {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    (0..3)
        .filter_map(|p| c.fetch_watermarks(topic, p, Duration::from_secs(5)).ok())
        .map(|(_, high)| high)
        .sum()
}

/// The shipped customer-events connector, as an operator runs it (its own
/// embedded schema registry each time, state in the broker's `_schemas`),
/// bounced while it produces 500 events a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_events_survive_five_stops_and_five_kills() {
    plugin("customer-events");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let toml = repo_root().join("connectors/customer-events.toml");
    let topic = "customer_events";
    let began = Instant::now();
    let mut times = Times::default();
    for round in 0..=ROUNDS {
        let at_start = end_offsets(&bootstrap, topic);
        let started = Instant::now();
        let run = Running::new(weir_run(&toml, &bootstrap, &state, &[]));
        let progress = || end_offsets(&bootstrap, topic) - at_start;
        let extra = Duration::from_millis(37 * round);
        bounce(round, run, started, progress, 400, extra, &mut times).await;
    }
    let seen = consume(&bootstrap, topic, usize::MAX, Duration::from_secs(3)).await;
    let produced = seen.iter().map(seq).max().unwrap_or(0);
    let tally = Tally::of(produced, seen.iter().map(seq));
    // Confluent framing (magic byte 0, then the schema id), one id throughout:
    // eleven starts registered the schema once.
    let ids: BTreeSet<u32> = seen
        .iter()
        .map(|s| {
            let v = s.value.as_deref().expect("an event");
            assert_eq!(v.first(), Some(&0), "Confluent magic byte");
            u32::from_be_bytes(v[1..5].try_into().expect("schema id"))
        })
        .collect();
    println!(
        "customer events (Avro), {STOPS} SIGTERM + {} SIGKILL: {tally} (schema ids {ids:?}); {}; test took {:.1} s",
        ROUNDS - STOPS,
        times.summary(),
        began.elapsed().as_secs_f64()
    );
    assert!(produced > 4_000, "{tally}");
    assert_eq!((tally.lost, tally.duplicated), (0, 0), "{tally}");
    assert_eq!(ids.len(), 1, "{ids:?}");
    times.check();
}

// ---------------------------------------------------------------- CDC

/// The CDC source of `cdc.rs` at 400 changes a second, checkpointing often.
fn cdc_source() -> String {
    cdc::SOURCE
        .replace("RATE", "400")
        .replace("interval_ms = 500", "interval_ms = 200")
}

const CDC_VIEW: &str = r#"
name = "cdc-view"
[source.kafka]
topic = "users.cdc"
group_id = "cdc-view"
batch_size = 200
batch_timeout_ms = 50
[aggregate]
plugin = "cdc-table"
trigger_interval_ms = 500
[aggregate.config]
last_rows = 10
[sink.console]
format = "table"
max_rows = 5
[checkpoint]
interval_ms = 200
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"max.poll.interval.ms" = "10000"
"#;

/// A connector's stage snapshot (JSON) from its checkpoint file.
fn snapshot(state: &Path, connector: &str, stage: &str, plugin: &str) -> Value {
    let ckpt = weir::state::CheckpointStore::new(state, connector)
        .load()
        .expect("readable checkpoint")
        .expect("a checkpoint");
    let snap = ckpt
        .stage(stage, plugin)
        .expect("this plugin's state")
        .expect("a snapshot");
    serde_json::from_slice(snap).expect("snapshot JSON")
}

fn rows_by_id(rows: &Value) -> BTreeMap<u64, Value> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["id"].as_u64().expect("id"), r.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_source_and_view_survive_five_stops_and_five_kills() {
    plugin("cdc-gen");
    plugin("cdc-shape");
    plugin("cdc-table");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("cdc-source.toml");
    std::fs::write(&source, cdc_source()).expect("write");
    let view = dir.path().join("cdc-view.toml");
    std::fs::write(&view, CDC_VIEW).expect("write");
    let state = dir.path().join("state");
    let began = Instant::now();
    let generated =
        || generated_at_checkpoint(&weir::state::CheckpointStore::new(&state, "cdc-source"));

    // One host runs both connectors, as `weir run cdc-source.toml cdc-view.toml`.
    let view_arg = view.display().to_string();
    let mut times = Times::default();
    for round in 0..=ROUNDS {
        let (g0, v0) = (generated(), committed(&bootstrap, "cdc-view", "users.cdc"));
        let started = Instant::now();
        let run = Running::new(weir_run(&source, &bootstrap, &state, &[&view_arg]));
        // Both halves moved: changes made and checkpointed, changes applied
        // and committed.
        let progress =
            || (generated() - g0).min(committed(&bootstrap, "cdc-view", "users.cdc") - v0);
        let extra = Duration::from_millis(41 * round);
        bounce(round, run, started, progress, 400, extra, &mut times).await;
    }
    // The view catches up with the rest of the topic.
    let log = run_to_end(&view, &bootstrap, &state).await;
    assert!(log.contains("Reached the end of the source"), "{log}");

    // The topic: every change once (source.seq from 1), one tombstone per delete.
    let seen = consume(&bootstrap, "users.cdc", usize::MAX, Duration::from_secs(3)).await;
    let mut seqs = Vec::new();
    let mut table: BTreeMap<u64, Value> = BTreeMap::new();
    let (mut deletes, mut tombstones) = (0u64, 0u64);
    let mut inconsistent = Vec::new();
    for s in &seen {
        let key: Value = serde_json::from_slice(s.key.as_deref().expect("key")).expect("key");
        let id = key["id"].as_u64().expect("key.id");
        let Some(value) = s.value.as_deref() else {
            tombstones += 1;
            continue;
        };
        let v: Value = serde_json::from_slice(value).expect("envelope");
        seqs.push(v["source"]["seq"].as_u64().expect("source.seq"));
        // Per key the partition keeps order: replaying rebuilds the table.
        let ok = match v["op"].as_str().expect("op") {
            "c" | "r" => table.insert(id, v["after"].clone()).is_none(),
            "u" => table.insert(id, v["after"].clone()).is_some(),
            "d" => {
                deletes += 1;
                table.remove(&id).is_some()
            }
            other => panic!("op {other}"),
        };
        if !ok {
            inconsistent.push(v);
        }
    }
    let produced = seqs.iter().copied().max().unwrap_or(0);
    let tally = Tally::of(produced, seqs.iter().copied());
    // The view's table as its last checkpoint holds it, and its DLQ.
    let viewed = rows_by_id(&snapshot(&state, "cdc-view", "aggregate", "cdc-table")["rows"]);
    let source_rows = rows_by_id(&snapshot(&state, "cdc-source", "source", "cdc-gen")["rows"]);
    let dead = consume(
        &bootstrap,
        "cdc-view.dlq",
        usize::MAX,
        Duration::from_secs(3),
    )
    .await;
    println!(
        "CDC source → Kafka, {STOPS} SIGTERM + {} SIGKILL: {tally} (changes by source.seq; {deletes} deletes, {tombstones} tombstones); Kafka → cdc-table: {} rows, equal to the table the topic rebuilds: {}, {} dead letters; {}; test took {:.1} s",
        ROUNDS - STOPS,
        viewed.len(),
        viewed == table,
        dead.len(),
        times.summary(),
        began.elapsed().as_secs_f64()
    );
    assert!(produced > 5_000, "{tally}");
    assert_eq!((tally.lost, tally.duplicated), (0, 0), "{tally}");
    assert_eq!(tombstones, deletes, "one tombstone per delete");
    assert!(
        inconsistent.is_empty(),
        "changes that do not fit the table: {:?}",
        &inconsistent[..inconsistent.len().min(5)]
    );
    let strip = |t: &BTreeMap<u64, Value>| -> BTreeMap<u64, Value> {
        t.iter().map(|(k, v)| (*k, cdc::content(v))).collect()
    };
    assert_eq!(
        strip(&table),
        strip(&source_rows),
        "the topic rebuilds the generator's table"
    );
    assert!(viewed == table, "the view's table differs from the topic's");
    let reasons: Vec<&str> = dead
        .iter()
        .filter_map(|s| s.header("weir.dlq.reason"))
        .take(5)
        .collect();
    assert!(
        dead.is_empty(),
        "the view dead-lettered changes: {reasons:?}"
    );
    times.check();
}

// ---------------------------------------------------------------- GTFS

/// Feed version `n` has header timestamp `BASE + n`.
const BASE: u64 = 1_700_000_000;
/// Vehicles in every feed.
const VEHICLES: usize = 20;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn bytes_field(n: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint((n << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn varint_field(n: u64, v: u64, out: &mut Vec<u8>) {
    varint(n << 3, out);
    varint(v, out);
}

fn float_field(n: u64, v: f32, out: &mut Vec<u8>) {
    varint((n << 3) | 5, out);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A GTFS-realtime FeedMessage (hand-encoded protobuf): header version 2.0,
/// timestamp `BASE + version`, and [`VEHICLES`] vehicle positions.
fn feed(version: u64) -> Vec<u8> {
    let mut header = Vec::new();
    bytes_field(1, b"2.0", &mut header);
    varint_field(3, BASE + version, &mut header);
    let mut msg = Vec::new();
    bytes_field(1, &header, &mut msg);
    for i in 0..VEHICLES {
        let mut descriptor = Vec::new();
        bytes_field(1, format!("bus-{i}").as_bytes(), &mut descriptor);
        let mut position = Vec::new();
        float_field(1, 52.0 + i as f32 / 100.0, &mut position);
        float_field(2, 13.0 + (version % 1000) as f32 / 1000.0, &mut position);
        let mut vehicle = Vec::new();
        bytes_field(8, &descriptor, &mut vehicle);
        bytes_field(2, &position, &mut vehicle);
        varint_field(5, BASE + version, &mut vehicle);
        let mut entity = Vec::new();
        bytes_field(1, format!("e{i}").as_bytes(), &mut entity);
        bytes_field(4, &vehicle, &mut entity);
        bytes_field(2, &entity, &mut msg);
    }
    msg
}

/// Serves version `n` to the n-th request (from 1), 20 ms after reading it,
/// and notes which run (the `x-run` header) it went to.
fn serve_versions(served: Arc<Mutex<Vec<u64>>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let req = read_request(&mut s);
            let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
            let Some(run) = text
                .lines()
                .find_map(|l| l.strip_prefix("x-run:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
            else {
                continue;
            };
            std::thread::sleep(Duration::from_millis(20));
            let body = {
                let mut s = served.lock().expect("lock");
                s.push(run);
                feed(s.len() as u64)
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    addr
}

fn gtfs_toml(server: &str, run: u64) -> String {
    format!(
        r#"
name = "gtfs"
[source.http]
url = "http://{server}/vehicles.pb"
interval_ms = 100
timeout_ms = 2000
retries = 1
backoff_ms = 50
[source.http.headers]
"x-run" = "{run}"
[[transform]]
plugin = "gtfs-rt"
[transform.config]
field_names = "json"
[sink.kafka]
topic = "vehicles"
partitions = 3
[checkpoint]
interval_ms = 200
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtfs_poller_survives_five_stops_and_five_kills() {
    plugin("gtfs-rt");
    let served: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let server = serve_versions(served.clone());
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("gtfs.toml");
    let state = dir.path().join("state");
    let began = Instant::now();
    let mut times = Times::default();
    for round in 0..=ROUNDS {
        std::fs::write(&toml, gtfs_toml(&server, round)).expect("write");
        let started = Instant::now();
        let run = Running::new(weir_run(&toml, &bootstrap, &state, &[]));
        // Progress: feeds this run delivered, as Kafka acknowledged them.
        let at_start = end_offsets(&bootstrap, "vehicles");
        let progress = || (end_offsets(&bootstrap, "vehicles") - at_start) / VEHICLES as i64;
        let extra = Duration::from_millis(29 * round);
        let log = bounce(round, run, started, progress, 3, extra, &mut times).await;
        if let Ok(d) = std::env::var("BOUNCE_LOG_DIR") {
            std::fs::write(Path::new(&d).join(format!("gtfs-{round}.log")), &log).expect("log");
        }
    }
    // A request a killed host sent just before it died may still be answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = served.lock().expect("lock").clone();

    // Delivered: vehicles per feed version.
    let seen = consume(&bootstrap, "vehicles", usize::MAX, Duration::from_secs(3)).await;
    let mut per_version: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    for s in &seen {
        let v: Value = serde_json::from_slice(s.value.as_deref().expect("value")).expect("JSON");
        let ts = &v["header"]["timestamp"];
        let ts = ts
            .as_u64()
            .or_else(|| ts.as_str().and_then(|t| t.parse().ok()))
            .unwrap_or_else(|| panic!("header.timestamp in {v}"));
        let key = String::from_utf8(s.key.clone().expect("key")).expect("utf-8");
        assert_eq!(
            v["entity"]["vehicle"]["vehicle"]["id"].as_str(),
            Some(key.as_str())
        );
        *per_version
            .entry(ts - BASE)
            .or_default()
            .entry(key)
            .or_default() += 1;
    }
    // Owed: every version but the last one a SIGKILLed host asked for (it
    // may have died before Kafka acknowledged it; a poller acknowledges each
    // feed before it asks for the next, and cannot ask for one again).
    let mut cut = BTreeSet::new();
    for run in STOPS..ROUNDS {
        if let Some(last) = served.iter().rposition(|r| *r == run) {
            cut.insert(last as u64 + 1);
        }
    }
    let versions = served.len() as u64;
    let (mut lost, mut duplicated, mut delivered) = (0u64, 0u64, 0u64);
    let (mut lost_versions, mut cut_delivered) = (Vec::new(), 0);
    for version in 1..=versions {
        let got = per_version.get(&version);
        let vehicles = got.map_or(0, |m| m.len());
        delivered += got.map_or(0, |m| m.values().sum());
        duplicated += got.map_or(0, |m| m.values().map(|n| n - 1).sum());
        if cut.contains(&version) {
            cut_delivered += usize::from(vehicles == VEHICLES);
            continue;
        }
        if vehicles < VEHICLES {
            lost += (VEHICLES - vehicles) as u64;
            lost_versions.push((version, served[version as usize - 1], vehicles));
        }
    }
    let strange: Vec<&u64> = per_version
        .keys()
        .filter(|v| **v == 0 || **v > versions)
        .collect();
    let tally = Tally {
        produced: versions * VEHICLES as u64,
        delivered,
        lost,
        duplicated,
    };
    println!(
        "GTFS poll → gtfs-rt → Kafka, {STOPS} SIGTERM + {} SIGKILL: {tally} (vehicle positions; {versions} feed versions served, {} delivered; {} in flight at a kill, {cut_delivered} of them delivered anyway, not counted as lost); {}; test took {:.1} s",
        ROUNDS - STOPS,
        per_version.len(),
        cut.len(),
        times.summary(),
        began.elapsed().as_secs_f64()
    );
    assert!(strange.is_empty(), "versions never served: {strange:?}");
    assert!(versions >= 4 * (ROUNDS + 1), "{versions} versions served");
    assert!(
        lost_versions.is_empty(),
        "{tally}; (version, run, vehicles delivered) owed but missing: {lost_versions:?}"
    );
    assert_eq!(tally.duplicated, 0, "{tally}");
    times.check();
}
