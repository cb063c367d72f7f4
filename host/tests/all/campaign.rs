//! The campaign pipeline: generated view logs → topic → per-minute aggregation
//! joined with campaigns.csv → Hive-partitioned Parquet. A run SIGKILLed in the
//! middle and restarted must leave exactly the dataset of an uninterrupted run:
//! no lost or repeated rows, no temporary files in sight. The same holds for two
//! hosts sharing the topic's partitions with partitioned state when one of them
//! is SIGKILLed: its partitions and their windows move to the other through the
//! consumer group and the state topic. (The comparison with
//! an independent aggregation read through pyarrow is
//! `host/tests/interop/campaign_parquet.py`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::{Array, Float64Array, Int64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::*;

const VIEWS: u64 = 60_000;

pub(crate) fn campaigns_csv() -> String {
    repo_root()
        .join("connectors/data/campaigns.csv")
        .display()
        .to_string()
}

/// Generates `VIEWS` view logs spread over ~10 minutes of event time to
/// `topic`, keyed by `key` (`view_id` or `campaign_id`), `rate` a second (0: at
/// once), with `late_ratio` of them generated 10–15 minutes late.
async fn produce(bootstrap: String, topic: &str, key: &str, rate: u32, late_ratio: f64) {
    let (_dir, loaded) = connector(&format!(
        r#"
name = "views-{topic}"
[source.generator]
plugin = "campaign-views"
rate_per_sec = {rate}
batch_size = 1000
lookups = ["campaigns"]
[source.generator.config]
simulated_views_per_sec = 100
late_ratio = {late_ratio}
late_min_ms = 600000
late_max_ms = 900000
late_warmup_ms = 150000
unknown_campaign_ratio = 0.01
key = "{key}"
[lookup.campaigns]
path = "{csv}"
key = "campaign_id"
[sink.kafka]
topic = "{topic}"
partitions = 3
"#,
        csv = campaigns_csv()
    ));
    let stats = run_connector(&loaded, &bootstrap, VIEWS, None).await;
    assert_eq!(stats.written, VIEWS);
}

/// The aggregation connector; `partitioned` keeps state per partition in a topic.
pub(crate) fn minute_toml(group: &str, topic: &str, out: &Path, partitioned: bool) -> String {
    format!(
        r#"
name = "{group}"
[source.kafka]
topic = "{topic}"
group_id = "{group}"
batch_size = 2000
batch_timeout_ms = 300
[aggregate]
plugin = "campaign-minute"
trigger_interval_ms = 100
allowed_lateness_ms = 30000
tick_every_batch = true
partitioned = {partitioned}
lookups = ["campaigns"]
[aggregate.config]
unknown_campaign = "dlq"
[lookup.campaigns]
path = "{csv}"
key = "campaign_id"
[sink.parquet]
path = "{out}"
partition_by = ["network_id", "minute_timestamp"]
columns = [
    {{ name = "campaign_id", type = "int64", nullable = false }},
    {{ name = "network_id", type = "int64" }},
    {{ name = "minute_timestamp", type = "string", nullable = false }},
    {{ name = "view_count", type = "int64", nullable = false }},
    {{ name = "avg_duration_s", type = "float64", nullable = false }},
    {{ name = "total_duration_ms", type = "int64", nullable = false }},
]
[checkpoint]
interval_ms = 200
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"#,
        csv = campaigns_csv(),
        out = out.display()
    )
}

/// Every file under `root`.
pub(crate) fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// One output row: partition folder, campaign, count, average (bits), total.
type Row = (String, i64, i64, u64, i64);

/// The dataset's rows, sorted; panics on a hidden (temporary) file.
fn dataset(root: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in files(root) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            !name.starts_with('.') && name.ends_with(".parquet"),
            "stray file {}",
            path.display()
        );
        let folder = path
            .parent()
            .and_then(|p| p.strip_prefix(root).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let file = std::fs::File::open(&path).expect("open");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = |name: &str| batch.column_by_name(name).expect(name).clone();
            let ids = col("campaign_id");
            let ids = ids.as_any().downcast_ref::<Int64Array>().expect("int64");
            let counts = col("view_count");
            let counts = counts.as_any().downcast_ref::<Int64Array>().expect("int64");
            let avgs = col("avg_duration_s");
            let avgs = avgs.as_any().downcast_ref::<Float64Array>().expect("f64");
            let totals = col("total_duration_ms");
            let totals = totals.as_any().downcast_ref::<Int64Array>().expect("int64");
            for i in 0..batch.num_rows() {
                assert!(!ids.is_null(i));
                rows.push((
                    folder.clone(),
                    ids.value(i),
                    counts.value(i),
                    avgs.value(i).to_bits(),
                    totals.value(i),
                ));
            }
        }
    }
    rows.sort();
    rows
}

/// Views (their JSON) in the DLQ by reason code.
async fn dead_letters(bootstrap: &str, topic: &str) -> BTreeMap<String, BTreeSet<Vec<u8>>> {
    let mut out: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for s in consume(bootstrap, topic, usize::MAX, Duration::from_secs(3)).await {
        for code in s.header("weir.dlq.codes").expect("codes").split(',') {
            out.entry(code.to_string())
                .or_default()
                .insert(s.value.clone().expect("the view"));
        }
    }
    out
}

/// The reference: one uninterrupted, non-partitioned run over topic `views`
/// into `dir/clean`; its dataset and log.
async fn clean_run(bootstrap: &str, dir: &Path) -> (Vec<Row>, String) {
    let out = dir.join("clean");
    let toml = dir.join("clean.toml");
    std::fs::write(&toml, minute_toml("clean", "views", &out, false)).expect("write");
    let log = run_to_end(&toml, bootstrap, &dir.join("clean-state")).await;
    (dataset(&out), log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_writes_the_dataset_of_an_uninterrupted_run() {
    plugin("campaign-views");
    plugin("campaign-minute");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    // No late views here: with one aggregator over three partitions the
    // watermark waits for partitions the broker has not served yet, so which
    // late views are recognised depends on how it interleaves them (see
    // docs/broker.md, "Partitions are served one after another"); the
    // partitioned test below covers late views.
    produce(bootstrap.clone(), "views", "view_id", 0, 0.0).await;
    let dir = tempfile::tempdir().expect("tempdir");

    // Reference: one uninterrupted run.
    let (clean, log) = clean_run(&bootstrap, dir.path()).await;
    assert!(log.contains("Reached the end of the source"), "{log}");

    // Killed once a checkpoint covers part of the input and files exist.
    let out = dir.path().join("killed");
    let toml = dir.path().join("killed.toml");
    std::fs::write(&toml, minute_toml("killed", "views", &out, false)).expect("write");
    let state = dir.path().join("state");
    let mut first = weir_run(&toml, &bootstrap, &state, &[]);
    let store = weir::state::CheckpointStore::new(&state, "killed");
    let covered = || covered_offsets(&store);
    eventually(|| covered() >= VIEWS as i64 / 3 && !files(&out).is_empty()).await;
    assert!(
        first.try_wait().expect("wait").is_none(),
        "the first run finished before it could be killed; make the input larger"
    );
    kill(first);
    let at_kill = covered();
    assert!(
        (VIEWS as i64 / 3..VIEWS as i64).contains(&at_kill),
        "killed with {at_kill} records checkpointed"
    );
    let log = run_to_end(&toml, &bootstrap, &state).await;
    assert!(log.contains("Restored state and positions"), "{log}");
    let restarted = dataset(&out);

    assert!(clean.len() > 100, "{} rows", clean.len());
    let keys: BTreeSet<(&str, i64)> = clean.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(keys.len(), clean.len(), "every (campaign, minute) once");
    let only_clean: Vec<&Row> = clean.iter().filter(|r| !restarted.contains(r)).collect();
    let only_restarted: Vec<&Row> = restarted.iter().filter(|r| !clean.contains(r)).collect();
    assert!(
        only_clean.is_empty() && only_restarted.is_empty(),
        "the killed run's dataset differs from the clean one ({} and {} rows): only clean {:?}, only restarted {:?}",
        clean.len(),
        restarted.len(),
        &only_clean[..only_clean.len().min(8)],
        &only_restarted[..only_restarted.len().min(8)]
    );

    // Every view is in exactly one place: counted in a row, or in the DLQ.
    let counted: i64 = clean.iter().map(|r| r.2).sum();
    let dead = dead_letters(&bootstrap, "clean.dlq").await;
    let dead_total: usize = dead.values().map(BTreeSet::len).sum();
    assert!(dead.get("unknown_campaign").is_some_and(|s| !s.is_empty()));
    assert_eq!(counted as u64 + dead_total as u64, VIEWS);
    // The killed run may send a record to the DLQ twice (at least once), never
    // another record.
    let dead_killed = dead_letters(&bootstrap, "killed.dlq").await;
    assert_eq!(dead_killed, dead);
}

/// The same kill with the dataset in an S3 bucket (a local S3 server): after
/// the SIGKILL only whole objects of covered checkpoints stay, and the
/// restarted run's dataset equals the uninterrupted run's (written to a folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_writes_the_same_dataset_to_a_bucket() {
    plugin("campaign-views");
    plugin("campaign-minute");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    produce(bootstrap.clone(), "views", "view_id", 0, 0.0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (clean, _) = clean_run(&bootstrap, dir.path()).await;

    let moto = Moto::start();
    moto.boto("s3.create_bucket(Bucket='lake')");
    let toml = dir.path().join("killed.toml");
    let text = minute_toml("killed", "views", Path::new("s3://lake/minutes"), false)
        + moto.storage_toml().as_str();
    std::fs::write(&toml, text).expect("write");
    let state = dir.path().join("state");
    let first = weir_run(&toml, &bootstrap, &state, &[]);
    let store = weir::state::CheckpointStore::new(&state, "killed");
    eventually(|| covered_offsets(&store) >= VIEWS as i64 / 3 && !moto.keys("lake").is_empty())
        .await;
    kill(first);
    // Whatever the kill left, each object is a whole Parquet file.
    let mirror = dir.path().join("mirror");
    moto.mirror("lake", "minutes", &mirror);
    let at_kill = dataset(&mirror);
    assert!(!at_kill.is_empty(), "objects written before the kill");
    let log = run_to_end(&toml, &bootstrap, &state).await;
    assert!(log.contains("Restored state and positions"), "{log}");
    moto.mirror("lake", "minutes", &mirror);
    let restarted = dataset(&mirror);
    let only_clean = clean.iter().filter(|r| !restarted.contains(r)).count();
    let only_restarted = restarted.iter().filter(|r| !clean.contains(r)).count();
    assert_eq!(
        (only_clean, only_restarted, restarted.len()),
        (0, 0, clean.len()),
        "the bucket's dataset after a SIGKILL equals an uninterrupted run's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_the_partitions_and_one_dies_leaving_the_single_host_dataset() {
    plugin("campaign-views");
    plugin("campaign-minute");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    // Views keyed by campaign arrive for ~12 s while the hosts come and go.
    let producing = tokio::spawn(produce(
        bootstrap.clone(),
        "keyed",
        "campaign_id",
        5_000,
        0.01,
    ));

    let out = dir.path().join("shared");
    let toml = dir.path().join("shared.toml");
    std::fs::write(&toml, minute_toml("shared", "keyed", &out, true)).expect("write");
    let a = Running::new(weir_run(&toml, &bootstrap, &dir.path().join("a"), &[]));
    assert!(
        eventually(|| a.log().contains("Partition assigned") && !files(&out).is_empty()).await,
        "host A never wrote a file:\n{}",
        a.log()
    );
    let b = Running::new(weir_run(
        &toml,
        &bootstrap,
        &dir.path().join("b"),
        &["--exit-at-end", "--duration", "120"],
    ));
    assert!(
        eventually(|| b.log().contains("Partition assigned")).await,
        "host B never got a partition:\n{}",
        b.log()
    );
    // Let B work beside A for a moment, then kill A in the middle of the input.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let a_log = a.log();
    a.kill();
    producing.await.expect("producer");
    let b_log = b.finish().await;
    assert!(
        b_log
            .lines()
            .any(|l| l.contains("Partition assigned") && l.contains("restored_sequence")),
        "B never restored a partition's state from the state topic:\n{b_log}"
    );
    let shared = dataset(&out);

    // Reference: one host alone over the same input.
    let single_out = dir.path().join("single");
    let single_toml = dir.path().join("single.toml");
    std::fs::write(
        &single_toml,
        minute_toml("single", "keyed", &single_out, true),
    )
    .expect("write");
    run_to_end(&single_toml, &bootstrap, &dir.path().join("single-state")).await;
    let single = dataset(&single_out);

    assert!(single.len() > 100, "{} rows", single.len());
    let keys: BTreeSet<(&str, i64)> = single.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(keys.len(), single.len(), "every (campaign, minute) once");
    let only_single: Vec<&Row> = single.iter().filter(|r| !shared.contains(r)).collect();
    let only_shared: Vec<&Row> = shared.iter().filter(|r| !single.contains(r)).collect();
    if !(only_single.is_empty() && only_shared.is_empty()) {
        let single_dead = dead_letters(&bootstrap, "single.dlq").await;
        let dead: BTreeSet<&Vec<u8>> = single_dead.values().flatten().collect();
        let mut truth: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for s in consume(&bootstrap, "keyed", VIEWS as usize, Duration::from_secs(3)).await {
            let v = s.value.clone().expect("view");
            if dead.contains(&v) {
                continue;
            }
            let j: serde_json::Value = serde_json::from_slice(&v).expect("json");
            let t = j["start_timestamp"].as_i64().expect("start");
            *truth
                .entry((j["campaign_id"].as_i64().expect("id"), t / 60_000))
                .or_default() += 1;
        }
        for r in only_single.iter().chain(&only_shared) {
            let minute = r.0.rsplit('=').next().unwrap_or_default();
            let found: Vec<_> = truth
                .iter()
                .filter(|((c, m), _)| {
                    *c == r.1 && campaign_model::time::minute(*m * 60_000) == minute
                })
                .map(|(_, n)| *n)
                .collect();
            eprintln!("row {r:?}: independent count {found:?}");
        }
    }
    assert!(
        only_single.is_empty() && only_shared.is_empty(),
        "two hosts with one killed differ from one host ({} and {} rows): only single {:?}, only shared {:?}\nA:\n{a_log}\nB:\n{b_log}",
        single.len(),
        shared.len(),
        &only_single[..only_single.len().min(8)],
        &only_shared[..only_shared.len().min(8)]
    );
    let counted: i64 = single.iter().map(|r| r.2).sum();
    let dead = dead_letters(&bootstrap, "single.dlq").await;
    let dead_total: usize = dead.values().map(BTreeSet::len).sum();
    assert_eq!(counted as u64 + dead_total as u64, VIEWS);
    assert!(dead.get("late").is_some_and(|s| !s.is_empty()), "{dead:?}");
    assert!(dead.get("unknown_campaign").is_some_and(|s| !s.is_empty()));
    assert_eq!(dead_letters(&bootstrap, "shared.dlq").await, dead);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_output_pauses_the_connector_until_it_can_write_again() {
    plugin("campaign-views");
    plugin("campaign-minute");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    produce(bootstrap.clone(), "views", "view_id", 0, 0.0).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (clean, _) = clean_run(&bootstrap, dir.path()).await;

    // A file where the folder of network 1 must go: every flush fails there.
    let out = dir.path().join("blocked");
    std::fs::create_dir_all(&out).expect("mkdir");
    let blocker = out.join("network_id=1");
    std::fs::write(&blocker, b"in the way").expect("write");
    let toml = dir.path().join("blocked.toml");
    std::fs::write(&toml, minute_toml("blocked", "views", &out, false)).expect("write");
    let run = Running::new(weir_run(
        &toml,
        &bootstrap,
        &dir.path().join("blocked-state"),
        &["--exit-at-end", "--duration", "120"],
    ));
    assert!(
        eventually(|| run.log().contains("The Parquet sink cannot write")).await,
        "no pause:\n{}",
        run.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !run.log().contains("Pipeline stopped"),
        "the connector must wait, not stop:\n{}",
        run.log()
    );
    for f in files(&out) {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            f == blocker || (name.ends_with(".parquet") && !name.starts_with('.')),
            "a partial or hidden file is visible: {}",
            f.display()
        );
    }
    std::fs::remove_file(&blocker).expect("unblock");
    let log = run.finish().await;
    assert!(log.contains("The Parquet sink writes again"), "{log}");
    assert_eq!(
        dataset(&out),
        clean,
        "the dataset of a run that never paused"
    );
}

/// View logs produced by another program an hour after they happened (Kafka
/// timestamps are the time of produce, as a plain producer leaves them; here
/// each view's `start_timestamp` + 1 h, since the generated views are recent),
/// then consumed as one backfill. With `event_time = "start_timestamp"` the
/// watermark and the windows use the same time, and the dataset is the live
/// run's (whose Kafka timestamps are the event times); without it, the views
/// are judged by their produce time and many are called late. A view without
/// the field goes to the DLQ as `event_time_missing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_produced_an_hour_later_give_the_live_dataset_with_event_time() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    plugin("campaign-views");
    plugin("campaign-minute");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    produce(bootstrap.clone(), "views", "view_id", 0, 0.0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (live, _) = clean_run(&bootstrap, dir.path()).await;

    // The same views, in the same partitions and order, stamped an hour after
    // they started; plus one view without its start.
    create_topic(&bootstrap, "external", 3).await;
    let mut views = consume(&bootstrap, "views", VIEWS as usize, Duration::from_secs(3)).await;
    assert_eq!(views.len(), VIEWS as usize);
    views.sort_by_key(|s| (s.partition, s.offset));
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let headless = br#"{"view_id":"no-start","end_timestamp":1,"banner_id":1,"campaign_id":1}"#;
    let hour_later = |v: &[u8]| {
        let j: serde_json::Value = serde_json::from_slice(v).expect("view JSON");
        j["start_timestamp"].as_i64().expect("start_timestamp") + 3_600_000
    };
    let newest = views
        .iter()
        .map(|s| hour_later(s.value.as_deref().expect("view")));
    let newest = newest.max().expect("views");
    let sends: Vec<_> = views
        .iter()
        .map(|s| {
            let v = s.value.as_deref().expect("view");
            (s.partition, s.key.as_deref(), v, hour_later(v))
        })
        .chain([(0, Some(&b"no-start"[..]), &headless[..], newest)])
        .map(|(p, k, v, ts)| {
            let mut r = FutureRecord::<[u8], [u8]>::to("external")
                .partition(p)
                .payload(v)
                .timestamp(ts);
            r.key = k;
            producer.send(r, Duration::from_secs(30))
        })
        .collect();
    for s in futures::future::join_all(sends).await {
        s.expect("sent");
    }

    let backfill = |name: &str, event_time: bool| {
        let out = dir.path().join(name);
        let mut toml = minute_toml(name, "external", &out, false);
        if event_time {
            toml = toml.replace(
                "topic = \"external\"",
                "topic = \"external\"\nevent_time = \"start_timestamp\"",
            );
        }
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml).expect("write");
        let state = dir.path().join(format!("{name}-state"));
        let bootstrap = bootstrap.clone();
        async move {
            let log = run_to_end(&path, &bootstrap, &state).await;
            (dataset(&out), log)
        }
    };
    let (with_event_time, log) = backfill("backfill", true).await;
    assert!(log.contains("Reached the end of the source"), "{log}");
    let dead = dead_letters(&bootstrap, "backfill.dlq").await;
    assert_eq!(
        dead.get("event_time_missing").map(BTreeSet::len),
        Some(1),
        "{dead:?}"
    );
    assert!(!dead.contains_key("late"), "on-time views called late");
    assert!(live.len() > 100, "{} rows", live.len());
    assert_eq!(
        with_event_time, live,
        "the backfill differs from the live run"
    );

    let (by_produce_time, _) = backfill("produce-time", false).await;
    let dead = dead_letters(&bootstrap, "produce-time.dlq").await;
    let late = dead.get("late").map_or(0, BTreeSet::len);
    println!(
        "backfill stamped an hour late: {} of {} rows, {late} views late without `event_time`; {} rows and none late with it",
        by_produce_time.len(),
        live.len(),
        with_event_time.len()
    );
    assert!(late > VIEWS as usize / 10, "{late} late");
    assert_ne!(by_produce_time, live);
}
