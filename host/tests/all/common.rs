//! Shared helpers: plugin paths, a broker per test, an independent consumer.

use std::path::PathBuf;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use weir::kafka::embedded::EmbeddedBroker;
use weir::runtime::Runtime;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/plugins/NAME.wasm`, built by `just plugin`.
pub fn plugin(name: &str) -> PathBuf {
    let p = repo_root()
        .join("target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: run `just plugin` before the tests",
        p.display()
    );
    p
}

pub fn plugin_dir() -> PathBuf {
    repo_root().join("target/plugins")
}

pub async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("embedded broker starts")
}

pub fn runtime() -> Runtime {
    let dir = std::env::temp_dir().join("weir-test-cache");
    Runtime::new(Some(dir)).expect("runtime")
}

/// A record as an independent consumer sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
    pub partition: i32,
    pub offset: i64,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `topic` from the beginning in a fresh group until `want` records have
/// arrived or nothing new came for `idle`.
pub async fn consume(bootstrap: &str, topic: &str, want: usize, idle: Duration) -> Vec<Seen> {
    consume_as(bootstrap, topic, want, idle, "read_committed").await
}

/// [`consume`] with another `isolation.level`: `read_uncommitted` also sees
/// the records of aborted and open transactions.
pub async fn consume_as(
    bootstrap: &str,
    topic: &str,
    want: usize,
    idle: Duration,
    isolation: &str,
) -> Vec<Seen> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    while out.len() < want {
        match tokio::time::timeout(idle, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => panic!("consume {topic}: {e}"),
            Ok(Ok(m)) => out.push(Seen {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                partition: m.partition(),
                offset: m.offset(),
            }),
        }
    }
    out
}

/// Writes a connector file into a temp dir and loads it.
pub fn connector(text: &str) -> (tempfile::TempDir, weir::config::Loaded) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.toml");
    std::fs::write(&path, text).expect("write connector");
    let loaded = weir::config::load(&path, &[plugin_dir()]).expect("connector loads");
    (dir, loaded)
}

/// Builds a connector against `bootstrap` and runs it until it has read
/// `max_records` (or, with `timeout`, until that much time has passed).
pub async fn run_connector(
    loaded: &weir::config::Loaded,
    bootstrap: &str,
    max_records: u64,
    timeout: Option<Duration>,
) -> weir::pipeline::RunStats {
    let stop = weir::pipeline::StopAfter {
        max_records: Some(max_records),
        duration: timeout,
        at_end: false,
    };
    run_until(loaded, bootstrap, stop).await
}

/// Builds a connector against `bootstrap` and runs it until its source has
/// handled everything, or `timeout` has passed.
pub async fn run_to_the_end(
    loaded: &weir::config::Loaded,
    bootstrap: &str,
    timeout: Duration,
) -> weir::pipeline::RunStats {
    let stop = weir::pipeline::StopAfter {
        at_end: true,
        duration: Some(timeout),
        ..Default::default()
    };
    run_until(loaded, bootstrap, stop).await
}

async fn run_until(
    loaded: &weir::config::Loaded,
    bootstrap: &str,
    stop: weir::pipeline::StopAfter,
) -> weir::pipeline::RunStats {
    weir::pipeline::Pipeline::build(loaded, &runtime(), bootstrap, None, &state_dir(loaded))
        .await
        .expect("pipeline builds")
        .run(stop, tokio_util::sync::CancellationToken::new())
        .await
        .expect("pipeline runs")
}

/// A connector's checkpoint directory in tests: beside its (temporary) file.
pub fn state_dir(loaded: &weir::config::Loaded) -> PathBuf {
    loaded
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), |p| p.join("state"))
}

/// `weir run TOML` as its own process against `bootstrap`, with its checkpoints
/// in `state`; stderr is captured (see [`finish`]), at `TEST_WEIR_LOG` (default
/// `info`) when set.
pub fn weir_run(
    toml: &std::path::Path,
    bootstrap: &str,
    state: &std::path::Path,
    extra: &[&str],
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("run")
        .arg(toml)
        .args(["--bootstrap-servers", bootstrap])
        .arg("--state-dir")
        .arg(state)
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args(extra)
        .env(
            "WEIR_LOG",
            std::env::var("TEST_WEIR_LOG").unwrap_or("info".into()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("weir starts")
}

/// Waits for a `weir` process to exit; its log, after checking it succeeded.
pub async fn finish(child: std::process::Child) -> String {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("weir exits");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "weir failed:\n{log}");
    log
}

/// `weir run TOML --exit-at-end` (at most 120 s) to completion; its log.
pub async fn run_to_end(
    toml: &std::path::Path,
    bootstrap: &str,
    state: &std::path::Path,
) -> String {
    finish(weir_run(
        toml,
        bootstrap,
        state,
        &["--exit-at-end", "--duration", "120"],
    ))
    .await
}

/// Offsets `group` has committed on `topic` (3 partitions), summed; 0 while
/// they cannot be read.
pub fn committed(bootstrap: &str, group: &str, topic: &str) -> i64 {
    use rdkafka::consumer::BaseConsumer;
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(topic, p);
    }
    c.committed_offsets(tpl, Duration::from_secs(5))
        .map(|t| {
            t.elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    rdkafka::Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Polls `done` every 50 ms for up to 30 s; whether it became true.
pub async fn eventually(done: impl FnMut() -> bool) -> bool {
    eventually_within(Duration::from_secs(30), done).await
}

/// [`eventually`] with another limit.
pub async fn eventually_within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..limit.as_millis() / 50 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

/// A `weir` process whose log can be read while it runs; killed if the test
/// fails before it is finished.
pub struct Running {
    child: Option<std::process::Child>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    pub fn new(mut child: std::process::Child) -> Self {
        use std::io::BufRead;
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut l = sink.lock().expect("log");
                l.push_str(&line);
                l.push('\n');
            }
        });
        Running {
            child: Some(child),
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    pub fn signal(&self, name: &str) {
        if let Some(c) = &self.child {
            signal(c, name);
        }
    }

    pub fn kill(mut self) {
        if let Some(c) = self.child.take() {
            kill(c);
        }
    }

    /// Waits for the exit; the log, after checking it succeeded.
    pub async fn finish(mut self) -> String {
        let mut child = self.child.take().expect("running");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("weir exits");
        // The reader thread sees the end of stderr right after the exit.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let log = self.log();
        assert!(status.success(), "weir failed:\n{log}");
        log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// SIGKILL, and reap.
pub fn kill(mut child: std::process::Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

/// `weir broker` as its own process on `addr`, so a test can stop or kill it;
/// returns once it accepts connections.
pub async fn broker_process(addr: &str) -> std::process::Child {
    broker_process_with(addr, &[]).await
}

/// `weir broker` on `addr` with `extra` arguments (e.g. `--data-dir DIR`).
pub async fn broker_process_with(addr: &str, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "broker",
            "--listen",
            addr,
            "--registry-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("weir broker starts");
    assert!(
        eventually(|| std::net::TcpStream::connect(addr).is_ok()).await,
        "the broker listens on {addr}"
    );
    child
}

/// Sends a signal (`STOP`, `CONT`, `TERM`) to a process.
pub fn signal(child: &std::process::Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{name} {}", child.id());
}

/// Every plugin the shipped connectors use, built if missing.
pub fn pipeline_plugins() {
    for p in [
        "customer-events",
        "purchases-gen",
        "purchases-validate",
        "purchases-daily",
        "campaign-views",
        "campaign-minute",
        "cdc-gen",
        "cdc-shape",
        "cdc-table",
        "gtfs-rt",
    ] {
        plugin(p);
    }
}

/// A plain HTTP/1.0 GET (enough for a Prometheus scrape or a health check):
/// the status line and the body; empty when nothing listens.
pub fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return (String::new(), String::new());
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// Runs the purchases generator in process: `n` events into `purchases` (3
/// partitions), 8 % of them broken and 4 % repeated, each such one labelled
/// `weir.injected` with the rules it breaks.
pub async fn produce_purchases(bootstrap: &str, n: u64) {
    let (_dir, loaded) = connector(
        r#"
name = "gen"
[source.generator]
plugin = "purchases-gen"
rate_per_sec = 0
batch_size = 1000
[source.generator.config]
seed = 11
customers = 300
invalid_ratio = 0.08
duplicate_ratio = 0.04
[sink.kafka]
topic = "purchases"
partitions = 3
"#,
    );
    let stats = run_connector(&loaded, bootstrap, n, None).await;
    assert_eq!(stats.written, n);
}

/// Delivery counts over sequence-numbered records, in the manner of Kafka
/// Connect's bounce test: a number in `1..=produced` never seen is lost, one
/// seen more than once is duplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub produced: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl Tally {
    pub fn of(produced: u64, seqs: impl IntoIterator<Item = u64>) -> Tally {
        let mut seen = vec![0u32; produced as usize];
        let mut delivered = 0;
        for s in seqs {
            delivered += 1;
            if let Some(n) = s.checked_sub(1).and_then(|i| seen.get_mut(i as usize)) {
                *n += 1;
            }
        }
        Tally {
            produced,
            delivered,
            lost: seen.iter().filter(|&&n| n == 0).count() as u64,
            duplicated: seen.iter().map(|&n| u64::from(n.saturating_sub(1))).sum(),
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "produced {} / delivered {} / lost {} / duplicated {}",
            self.produced, self.delivered, self.lost, self.duplicated
        )
    }
}

/// The generator's sequence number of a record (`weir.seq`, from 1).
pub fn seq(s: &Seen) -> u64 {
    s.header("weir.seq")
        .and_then(|v| v.parse().ok())
        .expect("a weir.seq header")
}

/// An HTTP request's bytes up to the end of its headers (or what came before
/// the client stopped), for the tests' hand-written feed servers.
pub fn read_request(s: &mut impl std::io::Read) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let mut req = Vec::new();
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => req.extend_from_slice(&buf[..k]),
        }
    }
    req
}

/// The log of pipelines run in this test process, captured for a test to
/// print: attach it to a future with `tracing::instrument::WithSubscriber`.
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    /// A subscriber writing weir's and librdkafka's events at `info` (and
    /// above) into this log, with the time of each line.
    pub fn dispatch(&self) -> tracing::Dispatch {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("TEST_WEIR_LOG").unwrap_or("info".into()))
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::Dispatch::new(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Creates `topic` with `partitions` on `bootstrap` through weir's own admin
/// path (replication 1, default settings).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    weir::kafka::admin::ensure_topics(
        &weir::kafka::client::Cluster {
            bootstrap: bootstrap.to_string(),
            settings: Default::default(),
        },
        &[weir::kafka::admin::TopicSpec {
            name: topic.into(),
            partitions,
            replication_factor: 1,
            config: Default::default(),
        }],
    )
    .await
    .unwrap_or_else(|e| panic!("create topic {topic}: {e}"));
}

/// A moto S3 server on a free loopback port, stopped on drop.
pub struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = repo_root().join(".venv/bin/moto_server");
        assert!(
            bin.is_file(),
            "{} is missing: run `just setup` (it installs moto[server])",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs boto3 (an independent S3 client) against the server.
    pub fn boto(&self, script: &str) -> String {
        let python = repo_root().join(".venv/bin/python");
        let prelude = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1')\n",
            self.endpoint()
        );
        let out = std::process::Command::new(python)
            .args(["-c", &(prelude + script)])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every key in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let listed = self.boto(&format!(
            "for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}'):\n    for o in page.get('Contents', []): print(o['Key'])"
        ));
        let mut keys: Vec<String> = listed.lines().map(str::to_string).collect();
        keys.sort();
        keys
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// `[sink.parquet.storage]` for this server, to append to a connector file.
    pub fn storage_toml(&self) -> String {
        format!(
            "[sink.parquet.storage]\naws_endpoint_url = \"{}\"\naws_allow_http = \"true\"\naws_region = \"us-east-1\"\naws_access_key_id = \"k\"\naws_secret_access_key = \"s\"\n",
            self.endpoint()
        )
    }

    /// Copies every object of `bucket` under `prefix` into `dir` (emptied
    /// first), keys as paths: a bucket's dataset read like a folder's.
    pub fn mirror(&self, bucket: &str, prefix: &str, dir: &std::path::Path) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("mirror dir");
        self.boto(&format!(
            "import os\nfor page in s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}', Prefix='{prefix}/'):\n  for o in page.get('Contents', []):\n    to = os.path.join('{}', o['Key'][len('{prefix}/'):])\n    os.makedirs(os.path.dirname(to), exist_ok=True)\n    s3.download_file('{bucket}', o['Key'], to)",
            dir.display()
        ));
    }
}

/// How many records a connector's last checkpoint covers: the sum of its
/// Kafka source's next offsets (0 without a checkpoint).
pub fn covered_offsets(store: &weir::state::CheckpointStore) -> i64 {
    let Some(p) = store.load().ok().flatten().and_then(|c| c.position) else {
        return 0;
    };
    let offsets: std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>> =
        serde_json::from_slice(&p.bytes).expect("a Kafka position");
    offsets.values().flat_map(|p| p.values()).sum()
}

/// How many records a generator had made at its last checkpoint.
pub fn generated_at_checkpoint(store: &weir::state::CheckpointStore) -> i64 {
    let Some(p) = store.load().ok().flatten().and_then(|c| c.position) else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_slice(&p.bytes).expect("a generator position");
    v["generated"].as_i64().expect("generated")
}
