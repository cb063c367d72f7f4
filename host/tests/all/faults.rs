//! Fault tests with sequence-numbered records (the generator's `weir.seq`),
//! each printing produced / delivered / lost / duplicated, in the manner of
//! Kafka Connect's bounce test: the host stopped and killed over and over in
//! the middle of a pipeline; the broker process (`weir broker --data-dir`)
//! killed and restarted in the middle of a produce run and of a consume run;
//! librdkafka's mock cluster taking its broker down and up; and a neighbour
//! connector that traps on every call.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use tracing::instrument::WithSubscriber;

use crate::common::*;

const GEN: &str = r#"
name = "gen"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = RATE
batch_size = 200
[source.generator.config]
seed = 5
customers = 200
invalid_ratio = 0.08
duplicate_ratio = 0.04
[sink.kafka]
topic = "purchases"
partitions = 3
[checkpoint]
interval_ms = 200
"#;

const VALIDATE: &str = r#"
name = "check"
[source.kafka]
topic = "purchases"
group_id = "check"
batch_size = 200
batch_timeout_ms = 100
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "valid"
partitions = 2
[checkpoint]
interval_ms = 200
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
# A killed host's successor waits for the group to re-form; Tansu may hold a
# rebalance for the whole rebalance timeout (this, librdkafka's default 300 s).
"max.poll.interval.ms" = "10000"
"#;

/// Every `weir.seq` in `topics`, read back from the beginning until nothing
/// came for `idle` (the mock cluster holds a new group for 3 s first).
async fn seqs_within(bootstrap: &str, topics: &[&str], idle: Duration) -> Vec<u64> {
    let mut out = Vec::new();
    for t in topics {
        let seen = consume(bootstrap, t, usize::MAX, idle).await;
        out.extend(seen.iter().map(seq));
    }
    out
}

async fn seqs(bootstrap: &str, topics: &[&str]) -> Vec<u64> {
    seqs_within(bootstrap, topics, Duration::from_secs(3)).await
}

/// [`seqs`] on the mock cluster.
async fn mock_seqs(bootstrap: &str, topics: &[&str]) -> Vec<u64> {
    seqs_within(bootstrap, topics, Duration::from_secs(8)).await
}

/// The generator → Kafka connector and the Kafka → validate → Kafka one, each
/// stopped with SIGTERM 5 times and killed with SIGKILL 5 times in the middle
/// of its run, then run to its end: nothing lost in either; nothing repeated
/// by the generator (it skips what its killed predecessor delivered) nor
/// after a clean stop; repeats after a kill counted (at-least-once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_stops_and_five_kills_per_pipeline_lose_nothing() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let gen_toml = dir.path().join("gen.toml");
    std::fs::write(&gen_toml, GEN.replace("RATE", "3000")).expect("write");
    let check_toml = dir.path().join("check.toml");
    std::fs::write(&check_toml, VALIDATE).expect("write");

    // Stage 1: the generator, bounced while it produces.
    let mut term_secs: Vec<f64> = Vec::new();
    for round in 0..10 {
        let run = Running::new(weir_run(&gen_toml, &bootstrap, &state, &[]));
        let started = std::time::Instant::now();
        let log_has = |run: &Running, s: &str| run.log().contains(s);
        assert!(
            eventually(|| log_has(&run, "Pipeline running.")).await,
            "{}",
            run.log()
        );
        tokio::time::sleep(Duration::from_millis(600 + 97 * round)).await;
        if round < 5 {
            let t = Instant::now();
            run.signal("TERM");
            run.finish().await;
            term_secs.push(t.elapsed().as_secs_f64());
        } else {
            run.kill();
        }
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    // A last run, stopped cleanly, remakes what the last kill cut short.
    let run = Running::new(weir_run(&gen_toml, &bootstrap, &state, &[]));
    assert!(eventually(|| run.log().contains("Pipeline running.")).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.signal("TERM");
    run.finish().await;
    let generated = seqs(&bootstrap, &["purchases"]).await;
    let produced = generated.iter().copied().max().unwrap_or(0);
    let gen_tally = Tally::of(produced, generated.iter().copied());
    println!("generator → Kafka, 5 SIGTERM + 5 SIGKILL: {gen_tally}");
    assert!(produced > 5_000, "{gen_tally}");
    assert_eq!(gen_tally.lost, 0, "{gen_tally}");
    assert_eq!(gen_tally.duplicated, 0, "{gen_tally}");

    // Stage 2: validate, 5 clean stops then 5 kills, each after progress.
    let mut last = committed(&bootstrap, "check", "purchases");
    for round in 0..10 {
        let run = Running::new(weir_run(&check_toml, &bootstrap, &state, &[]));
        assert!(eventually(|| run.log().contains("Pipeline running.")).await);
        // A clean stop commits all it handled, which can be well past the
        // target: the last rounds may find little or nothing left to read.
        let target = (last + produced as i64 / 20).min(produced as i64);
        let reached = eventually_within(Duration::from_secs(60), || {
            committed(&bootstrap, "check", "purchases") >= target
        })
        .await;
        assert!(reached, "round {round}: no progress\n{}", run.log());
        if round < 5 {
            let t = Instant::now();
            run.signal("TERM");
            let log = run.finish().await;
            term_secs.push(t.elapsed().as_secs_f64());
            assert!(log.contains("Pipeline stopped."), "{log}");
        } else {
            tokio::time::sleep(Duration::from_millis(40)).await;
            run.kill();
        }
        last = committed(&bootstrap, "check", "purchases");
    }
    run_to_end(&check_toml, &bootstrap, &state).await;
    let answered = seqs(&bootstrap, &["valid", "check.dlq"]).await;
    let tally = Tally::of(produced, answered.iter().copied());
    let worst_term = term_secs.iter().copied().fold(0.0, f64::max);
    println!(
        "Kafka → validate → Kafka, 5 SIGTERM + 5 SIGKILL: {tally}; SIGTERM to exit 0: at most {worst_term:.2} s over {} stops",
        term_secs.len()
    );
    assert_eq!(tally.lost, 0, "{tally}");
    // Every repeat comes from a kill: a clean stop commits what it handled.
    assert!(tally.duplicated <= produced, "{tally}");
    assert!(
        worst_term < 30.0,
        "a SIGTERM took {worst_term:.1} s to drain and exit"
    );
}

/// Takes the mock cluster's broker down for `length`, timed by this thread
/// (outside the runtime the pipeline shares): on a loaded machine a tokio
/// timer of this test fired 8 s late once, and the outage is what decides
/// whether the consumer stays in its group. The outage it really was.
fn outage_of<C: rdkafka::ClientContext>(mock: &MockCluster<'_, C>, length: Duration) -> Duration {
    tokio::task::block_in_place(|| {
        mock.broker_down(1).expect("down");
        let start = Instant::now();
        std::thread::sleep(length);
        mock.broker_up(1).expect("up");
        start.elapsed()
    })
}

/// The broker goes away for 3 s in the middle of a produce run and, later,
/// for longer than the consumer's session timeout in the middle of a consume
/// run (mock cluster: broker down, then up). The producer's retries lose
/// nothing; the consumer is put out of its group, rejoins, gets its
/// partitions back and reads to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_going_away_mid_produce_and_mid_consume_loses_nothing() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    // The mock cannot create topics over the admin API.
    for (topic, partitions) in [
        ("purchases", 3),
        ("gen.dlq", 1),
        ("valid", 2),
        ("check.dlq", 1),
    ] {
        mock.create_topic(topic, partitions, 1).expect("topic");
    }
    let produced = 20_000u64;

    let (_gen_dir, generator) = connector(&GEN.replace("RATE", "8000"));
    let bs = bootstrap.clone();
    let producing =
        tokio::spawn(async move { run_connector(&generator, &bs, produced, None).await.written });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let outage = outage_of(&mock, Duration::from_secs(3));
    let up = Instant::now();
    let written = producing.await.expect("generator");
    let produce_recovered = up.elapsed();
    let tally = Tally::of(produced, mock_seqs(&bootstrap, &["purchases"]).await);
    println!(
        "broker down {:.1} s mid-produce: {tally}; the run finished {:.1} s after the broker came back",
        outage.as_secs_f64(),
        produce_recovered.as_secs_f64()
    );
    assert_eq!(written, produced);
    assert_eq!(tally.lost, 0, "{tally}");

    let (_check_dir, check) = connector(VALIDATE);
    let bs = bootstrap.clone();
    // The consumer's group events (assigned, revoked, lost, failed commits,
    // client errors), printed with the figures.
    let log = CapturedLog::default();
    let pipeline =
        weir::pipeline::Pipeline::build(&check, &runtime(), &bs, None, &state_dir(&check))
            .with_subscriber(log.dispatch())
            .await
            .expect("builds");
    let read = pipeline.records_read();
    let consuming = tokio::spawn(
        async move {
            let stop = weir::pipeline::StopAfter {
                at_end: true,
                duration: Some(Duration::from_secs(120)),
                ..Default::default()
            };
            pipeline
                .run(stop, tokio_util::sync::CancellationToken::new())
                .await
                .expect("runs")
        }
        .with_subscriber(log.dispatch()),
    );
    // The outage comes once a third is read (librdkafka fetches ahead, so
    // waiting for a third committed would find it nearly done).
    let third = produced / 3;
    let midway = eventually(|| read.load(std::sync::atomic::Ordering::Relaxed) >= third).await;
    assert!(midway, "the consumer made no progress:\n{}", log.text());
    let read_at_outage = read.load(std::sync::atomic::Ordering::Relaxed);
    // Longer than VALIDATE's session timeout (6 s): the group always drops
    // the consumer, so its way back in is what this part tests.
    let consume_outage = outage_of(&mock, Duration::from_secs(8));
    let up = Instant::now();
    let read_at_return = read.load(std::sync::atomic::Ordering::Relaxed);
    let stats = consuming.await.expect("validate");
    let consume_recovered = up.elapsed();
    let answered = mock_seqs(&bootstrap, &["valid", "check.dlq"]).await;
    let tally = Tally::of(produced, answered);
    let text = log.text();
    let events: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("INFO") || l.contains("Partitions"))
        .collect();
    let events = events.join("\n");
    println!(
        "broker down {:.1} s mid-consume: {tally} (read {read_at_outage} records when it went, {read_at_return} when it came back, {} in all); the run reached the end {:.1} s after the broker came back; the consumer's events:\n{events}",
        consume_outage.as_secs_f64(),
        stats.read,
        consume_recovered.as_secs_f64()
    );
    assert_eq!(tally.lost, 0, "{tally}\n{text}");
    let back = text
        .find("Partitions lost")
        .is_some_and(|lost| text[lost..].contains("Partitions assigned by the group"));
    assert!(
        back,
        "the consumer was not put out of its group and taken back:\n{events}"
    );
}

/// A connector whose plugin traps on every call, beside a healthy one in the
/// same host (one runtime, as `weir run a.toml b.toml` runs them): every
/// healthy record is answered, every trapping one reaches the DLQ, and the
/// healthy connector's time with the neighbour against its time alone is
/// printed (a measurement; tests do not assert on wall-clock time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_neighbour_trapping_on_every_call_leaves_the_healthy_connector_whole() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    plugin("purchases-gen");
    plugin("purchases-validate");
    plugin("test-misbehave");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let events = 20_000u64;
    produce_purchases(&bootstrap, events).await;
    let traps = 600usize;
    create_topic(&bootstrap, "bad", 1).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    let keys: Vec<String> = (0..traps).map(|i| i.to_string()).collect();
    let sends: Vec<_> = keys
        .iter()
        .map(|k| {
            producer.send(
                FutureRecord::to("bad").key(k).payload("PANIC"),
                Duration::from_secs(30),
            )
        })
        .collect();
    for s in futures::future::join_all(sends).await {
        s.expect("sent");
    }
    let healthy = |group: &str| {
        connector(&VALIDATE.replace("group_id = \"check\"", &format!("group_id = \"{group}\"")))
    };
    let neighbour = connector(
        r#"
name = "noisy"
[source.kafka]
topic = "bad"
batch_size = 1
batch_timeout_ms = 50
[[transform]]
plugin = "test-misbehave"
[sink.kafka]
topic = "noisy-out"
partitions = 1
"#,
    );
    let at_end = || weir::pipeline::StopAfter {
        at_end: true,
        duration: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let run = |loaded: weir::config::Loaded| {
        let bs = bootstrap.clone();
        async move {
            let t = Instant::now();
            let stats = weir::pipeline::Pipeline::build(
                &loaded,
                &runtime(),
                &bs,
                None,
                &state_dir(&loaded),
            )
            .await
            .expect("builds")
            .run(at_end(), tokio_util::sync::CancellationToken::new())
            .await
            .expect("runs");
            (stats, t.elapsed())
        }
    };
    let (alone_dir, alone) = healthy("alone");
    let (alone_stats, alone_time) = run(alone).await;
    let (beside_dir, beside) = healthy("beside");
    let (_noisy_dir, noisy) = neighbour;
    let noisy_task = tokio::spawn(run(noisy));
    let (beside_stats, beside_time) = run(beside).await;
    let (noisy_stats, noisy_time) = noisy_task.await.expect("neighbour");
    drop((alone_dir, beside_dir));
    assert_eq!(alone_stats.read, events);
    assert_eq!(beside_stats.read, events);
    assert_eq!(
        alone_stats.written + alone_stats.dead_lettered,
        beside_stats.written + beside_stats.dead_lettered
    );
    assert_eq!(beside_stats.written, alone_stats.written);
    assert_eq!(noisy_stats.read, traps as u64);
    assert_eq!(
        noisy_stats.dead_lettered, traps as u64,
        "every trap reaches the DLQ"
    );
    println!(
        "noisy neighbour: {events} events validated in {:.2} s alone, {:.2} s beside a connector trapping on each of {traps} calls ({:.2}×; the neighbour's {traps} traps took {:.2} s)",
        alone_time.as_secs_f64(),
        beside_time.as_secs_f64(),
        beside_time.as_secs_f64() / alone_time.as_secs_f64(),
        noisy_time.as_secs_f64()
    );
}

/// A real `weir broker --data-dir` process killed with SIGKILL and restarted
/// on the same directory in the middle of a produce run, then in the middle of
/// a consume run: nothing acknowledged is lost; repeats are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_durable_broker_killed_mid_produce_and_mid_consume_loses_nothing() {
    plugin("purchases-gen");
    plugin("purchases-validate");
    let data = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let with_dir = |data: &std::path::Path| {
        vec![
            std::ffi::OsString::from("--data-dir"),
            data.as_os_str().to_owned(),
        ]
    };
    let args = with_dir(data.path());
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let broker = broker_process_with(&addr, &args).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let produced = 15_000u64;
    let gen_toml = dir.path().join("gen.toml");
    std::fs::write(&gen_toml, GEN.replace("RATE", "3000")).expect("write");
    let check_toml = dir.path().join("check.toml");
    std::fs::write(&check_toml, VALIDATE).expect("write");

    let generator = Running::new(weir_run(
        &gen_toml,
        &addr,
        &state,
        &["--max-records", &produced.to_string()],
    ));
    assert!(eventually(|| generator.log().contains("Pipeline running.")).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill(broker);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let up = Instant::now();
    let broker = broker_process_with(&addr, &args).await;
    generator.finish().await;
    let produce_recovered = up.elapsed();
    let tally = Tally::of(produced, seqs(&addr, &["purchases"]).await);
    println!(
        "durable broker SIGKILLed mid-produce: {tally}; the run finished {:.1} s after the restart",
        produce_recovered.as_secs_f64()
    );
    assert_eq!(tally.lost, 0, "{tally}");

    let check = Running::new(weir_run(&check_toml, &addr, &state, &[]));
    let third = produced as i64 / 3;
    assert!(
        eventually(|| committed(&addr, "check", "purchases") >= third).await,
        "{}",
        check.log()
    );
    let committed_at_kill = committed(&addr, "check", "purchases");
    kill(broker);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up = Instant::now();
    let broker = broker_process_with(&addr, &args).await;
    let target = produced as i64;
    let caught_up = eventually(|| committed(&addr, "check", "purchases") >= target).await;
    let consume_recovered = up.elapsed();
    check.signal("TERM");
    check.finish().await;
    let tally = Tally::of(produced, seqs(&addr, &["valid", "check.dlq"]).await);
    println!(
        "durable broker SIGKILLed for 3 s mid-consume ({committed_at_kill} of {produced} committed at the kill): {tally}; caught up {:.1} s after the restart",
        consume_recovered.as_secs_f64()
    );
    assert!(caught_up, "the consumer did not catch up after the restart");
    assert_eq!(tally.lost, 0, "{tally}");
    kill(broker);
}
