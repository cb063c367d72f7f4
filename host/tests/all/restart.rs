//! A generator connector killed with SIGKILL and restarted: the topic holds every
//! sequence number of the run exactly once — what was delivered past the last
//! checkpoint is made again by the restored plugin and skipped, nothing is lost.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_generator_resumes_without_gaps_or_repeats() {
    plugin("purchases-gen");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("gen.toml");
    std::fs::write(
        &toml,
        r#"
name = "gen-restart"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 2000
batch_size = 100
[source.generator.config]
seed = 5
[sink.kafka]
topic = "purchases"
partitions = 3
[checkpoint]
interval_ms = 1000
"#,
    )
    .expect("write");
    let state = dir.path().join("state");

    let first = weir_run(&toml, &bootstrap, &state, &[]);
    let ckpt = state.join("gen-restart.ckpt");
    assert!(eventually(|| ckpt.is_file()).await, "no checkpoint");
    // Half way to the next checkpoint: records past it are already delivered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(first);

    let log = finish(weir_run(&toml, &bootstrap, &state, &["--duration", "2"])).await;
    assert!(log.contains("already delivered"), "{log}");

    let seen = consume(&bootstrap, "purchases", usize::MAX, Duration::from_secs(5)).await;
    let mut count: BTreeMap<u64, u32> = BTreeMap::new();
    let mut lineages = std::collections::HashSet::new();
    for s in &seen {
        lineages.insert(s.header("weir.lineage").expect("lineage").to_string());
        let seq: u64 = s.header("weir.seq").expect("seq").parse().expect("number");
        *count.entry(seq).or_default() += 1;
    }
    assert_eq!(lineages.len(), 1, "one run, one lineage");
    let last = *count.keys().last().expect("records");
    assert!(last > 2_000, "the second run went on ({last})");
    let repeated: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "repeated sequence numbers: {repeated:?}\n{log}"
    );
    assert_eq!(count.len() as u64, last, "no gaps in 1..={last}");
}
