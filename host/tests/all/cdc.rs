//! The CDC pipeline: cdc-gen → cdc-shape → compacted topic. Replaying the topic
//! rebuilds the generator's own table, every change is consistent with the rows
//! that exist at that point, and a SIGKILL of the source connector changes none
//! of that.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

pub(crate) const SOURCE: &str = r#"
name = "cdc-source"
[source.generator]
plugin = "cdc-gen"
rate_per_sec = RATE
batch_size = 100
[source.generator.config]
seed = 9
initial_rows = 50
[[transform]]
plugin = "cdc-shape"
[sink.kafka]
topic = "users.cdc"
partitions = 3
[sink.kafka.topic_config]
"cleanup.policy" = "compact"
[checkpoint]
interval_ms = 500
"#;

/// A row without its clock-made fields: after a restart, changes past the
/// checkpoint are made again with the same content but a later clock.
pub(crate) fn content(row: &Value) -> Value {
    let mut r = row.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("created_at");
        o.remove("updated_at");
    }
    r
}

/// Replays the topic and rebuilds the table, checking each key's history:
/// created (or snapshotted) once, then updated, then deleted and tombstoned,
/// each `before` equal to the row as it stood (`strict`: also its timestamps).
async fn rebuild(bootstrap: &str, strict: bool) -> (BTreeMap<u64, Value>, usize) {
    let same = |a: &Value, b: &Value| {
        if strict {
            a == b
        } else {
            content(a) == content(b)
        }
    };
    let seen = consume(bootstrap, "users.cdc", usize::MAX, Duration::from_secs(5)).await;
    let mut table: BTreeMap<u64, Value> = BTreeMap::new();
    let mut deleted: HashSet<u64> = HashSet::new();
    let mut seqs: HashMap<u64, u32> = HashMap::new();
    for s in &seen {
        let key: Value = serde_json::from_slice(s.key.as_deref().expect("key")).expect("key JSON");
        let id = key["id"].as_u64().expect("key.id");
        let Some(value) = s.value.as_deref() else {
            assert!(
                deleted.contains(&id),
                "tombstone for {id} before its delete"
            );
            continue;
        };
        let v: Value = serde_json::from_slice(value).expect("envelope JSON");
        let seq = v["source"]["seq"].as_u64().expect("source.seq");
        *seqs.entry(seq).or_default() += 1;
        assert!(
            !deleted.contains(&id),
            "change for {id} after its delete: {v}"
        );
        match v["op"].as_str().expect("op") {
            "c" | "r" => {
                assert!(v["before"].is_null(), "{v}");
                assert!(
                    table.insert(id, v["after"].clone()).is_none(),
                    "second create of {id}"
                );
            }
            "u" => {
                let before = table
                    .get(&id)
                    .unwrap_or_else(|| panic!("update of missing {id}"));
                assert!(
                    same(before, &v["before"]),
                    "update of {id}: before {} is not the row {before}",
                    v["before"]
                );
                table.insert(id, v["after"].clone());
            }
            "d" => {
                let before = table
                    .remove(&id)
                    .unwrap_or_else(|| panic!("delete of missing {id}"));
                assert!(
                    same(&before, &v["before"]),
                    "delete of {id}: before {} is not the row {before}",
                    v["before"]
                );
                assert!(v["after"].is_null());
                deleted.insert(id);
            }
            other => panic!("unknown op {other}"),
        }
    }
    let repeated: Vec<_> = seqs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "changes repeated: {repeated:?}");
    (table, seqs.len())
}

/// The generator's own table, from the connector's last checkpoint.
fn generator_rows(state: &Path) -> BTreeMap<u64, Value> {
    let ckpt = weir::state::CheckpointStore::new(state, "cdc-source")
        .load()
        .expect("readable checkpoint")
        .expect("a checkpoint");
    let snap = ckpt
        .stage("source", "cdc-gen")
        .expect("cdc-gen state")
        .expect("a source snapshot");
    let v: Value = serde_json::from_slice(snap).expect("snapshot JSON");
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["id"].as_u64().expect("id"), r.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_topic_rebuilds_the_generators_table() {
    plugin("cdc-gen");
    plugin("cdc-shape");
    let broker = broker().await;
    let (_dir, loaded) = connector(&SOURCE.replace("RATE", "0"));
    let stats = run_connector(&loaded, &broker.bootstrap(), 5_000, None).await;
    assert_eq!(stats.dead_lettered, 0);
    let (table, changes) = rebuild(&broker.bootstrap(), true).await;
    assert_eq!(changes, 5_000);
    assert_eq!(table, generator_rows(&state_dir(&loaded)));
    assert!(table.len() > 50, "the table grew ({})", table.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_source_continues_the_same_table() {
    plugin("cdc-gen");
    plugin("cdc-shape");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("cdc-source.toml");
    std::fs::write(&toml, SOURCE.replace("RATE", "2000")).expect("write");
    let state = dir.path().join("state");
    let first = weir_run(&toml, &bootstrap, &state, &[]);
    let ckpt = state.join("cdc-source.ckpt");
    assert!(eventually(|| ckpt.is_file()).await, "no checkpoint");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    kill(first);

    let log = finish(weir_run(&toml, &bootstrap, &state, &["--duration", "2"])).await;
    assert!(log.contains("Restored state"), "{log}");

    let (table, changes) = rebuild(&bootstrap, false).await;
    assert!(changes > 3_000, "both runs produced ({changes})");
    let strip = |t: &BTreeMap<u64, Value>| -> BTreeMap<u64, Value> {
        t.iter().map(|(k, v)| (*k, content(v))).collect()
    };
    assert_eq!(
        strip(&table),
        strip(&generator_rows(&state)),
        "the topic rebuilds the generator's table"
    );
}

/// The same connector and state directory against a second cluster: the
/// generator's checkpoint describes rows that cluster never received, so the
/// generator starts fresh and the log says why (naming the checkpoint and
/// both clusters), instead of updating and deleting rows the topic never had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_written_for_another_cluster_starts_the_generator_fresh() {
    plugin("cdc-gen");
    plugin("cdc-shape");
    let first = broker().await;
    let second = broker().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("cdc-source.toml");
    std::fs::write(&toml, SOURCE.replace("RATE", "0")).expect("write");
    let state = dir.path().join("state");
    let run = |bootstrap: String| {
        let (toml, state) = (toml.clone(), state.clone());
        async move {
            finish(weir_run(
                &toml,
                &bootstrap,
                &state,
                &["--max-records", "2000"],
            ))
            .await
        }
    };
    run(first.bootstrap()).await;
    let log = run(second.bootstrap()).await;
    let ckpt = state.join("cdc-source.ckpt");
    let line = log
        .lines()
        .find(|l| l.contains("starting from scratch"))
        .unwrap_or_else(|| panic!("no line on the foreign checkpoint:\n{log}"));
    assert!(line.contains(&ckpt.display().to_string()), "{line}");
    assert_eq!(
        line.matches("/users.cdc").count(),
        2,
        "both clusters: {line}"
    );
    assert!(!log.contains("Restored state"), "{log}");

    let (table, changes) = rebuild(&second.bootstrap(), true).await;
    assert_eq!(changes, 2_000);
    assert_eq!(table, generator_rows(&state));
}
