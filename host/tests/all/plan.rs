//! `weir plan`: what a deploy would do, without producing anything, and a
//! non-zero exit when it would fail.

use std::process::Command;

use weir::config::KafkaConfig;
use weir::kafka::client::Cluster;
use weir::registry::EmbeddedRegistry;
use weir::registry::client::RegistryClient;

use crate::common::*;
use crate::pg_server::PgServer;

fn plan(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("plan")
        .args(args)
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .envs(envs.iter().copied())
        .env_remove("WEIR_BOOTSTRAP_SERVERS")
        .env_remove("WEIR_SCHEMA_REGISTRY_URL")
        .current_dir(repo_root())
        .output()
        .expect("weir plan runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn connectors() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("connectors"))
        .expect("connectors/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_connector_plans_on_the_embedded_broker() {
    pipeline_plugins();
    // The PostgreSQL connectors' server, with the source's table.
    let pg = PgServer::start();
    pg.psql(
        "postgres",
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
    );
    let url = pg.url("postgres");
    let files = connectors();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let (ok, text) = plan(&args, &[("PG_URL", &url)]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("plan: {} connectors, 0 errors", files.len())),
        "{text}"
    );
    for f in &files {
        let name = std::path::Path::new(f)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            text.contains(&format!("{name} (")),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains("partitioned state topic `campaign-minute.state` would be created"));
    assert!(text.contains("weir:plugin@0.3.0"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_against_a_cluster_names_existing_topics_and_fails_on_an_incompatible_schema() {
    plugin("customer-events");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let cluster = Cluster {
        bootstrap: bootstrap.clone(),
        settings: KafkaConfig::default(),
    };
    let reg = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"), &cluster)
        .await
        .expect("registry starts");
    let url = reg.url();
    let file = repo_root().join("connectors/customer-events.toml");
    let file = file.to_str().expect("utf-8");
    let args = [
        file,
        "--bootstrap-servers",
        &bootstrap,
        "--schema-registry-url",
        &url,
    ];

    // An empty cluster and registry: everything would be created.
    let (ok, text) = tokio::task::spawn_blocking({
        let args = args.map(str::to_string);
        move || plan(&args.each_ref().map(String::as_str), &[])
    })
    .await
    .expect("join");
    assert!(ok, "{text}");
    assert!(
        text.contains("sink topic `customer_events` would be created (partitions 3"),
        "{text}"
    );
    assert!(
        text.contains("new subject, would be registered as version 1"),
        "{text}"
    );
    assert!(text.contains(&format!("cluster: {bootstrap}")), "{text}");

    // The topic exists with 1 partition and the subject holds an incompatible
    // UserEvent (event_id a long): the plan fails, naming the registry's reason.
    create_topic(&bootstrap, "customer_events", 1).await;
    let theirs = serde_json::json!({
        "type": "record", "name": "UserEvent", "namespace": "io.weir.media",
        "fields": [{"name": "event_id", "type": "long"}]
    });
    RegistryClient::new(&url)
        .expect("client")
        .register("customer_events-value", &theirs.to_string())
        .await
        .expect("theirs registers");
    let (ok, text) = tokio::task::spawn_blocking({
        let args = args.map(str::to_string);
        move || plan(&args.each_ref().map(String::as_str), &[])
    })
    .await
    .expect("join");
    assert!(!ok, "an incompatible schema must fail the plan:\n{text}");
    assert!(text.contains("ERROR schema"), "{text}");
    assert!(
        text.contains("not compatible") && text.contains("event_id"),
        "{text}"
    );
    assert!(
        text.contains(
            "sink topic `customer_events` exists with 1 partitions, the connector asks 3"
        ),
        "{text}"
    );
    assert!(text.contains("weir run` would fail"), "{text}");
    let seen = consume(
        &bootstrap,
        "customer_events",
        usize::MAX,
        std::time::Duration::from_secs(1),
    )
    .await;
    assert!(seen.is_empty(), "plan produced nothing");
}

#[test]
fn secrets_from_the_environment_never_appear_in_a_plan() {
    plugin("purchases-gen");
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("secret.toml");
    std::fs::write(
        &toml,
        r#"
name = "secret"
[source.generator]
plugin = "purchases-gen"
[sink.console]
[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.username" = "weir"
"sasl.password" = "${PLAN_TEST_PASSWORD}"
"#,
    )
    .expect("write");
    let (ok, text) = plan(
        &[toml.to_str().expect("utf-8")],
        &[("PLAN_TEST_PASSWORD", "hunter2-do-not-print")],
    );
    assert!(ok, "{text}");
    assert!(!text.contains("hunter2"), "a secret was printed:\n{text}");
    assert!(text.contains("sasl.password=<redacted>"), "{text}");
    assert!(text.contains("sasl.username=weir"), "{text}");
}

/// A Kafka source whose topic does not exist yet is a warning, not an error:
/// the connector waits for the topic (see `pipeline.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_topic_is_a_warning() {
    plugin("purchases-validate");
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("early.toml");
    std::fs::write(
        &toml,
        r#"
[source.kafka]
topic = "not-yet"
event_time = "ts"
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "out"
"#,
    )
    .expect("write");
    let path = toml.display().to_string();
    let (ok, text) =
        tokio::task::spawn_blocking(move || plan(&[&path, "--bootstrap-servers", &bootstrap], &[]))
            .await
            .expect("plan");
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "warn  source: topic `not-yet` does not exist yet; the consumer waits for it (group `early`, event time from `ts`)"
        ),
        "{text}"
    );
    assert!(text.contains("0 errors"), "{text}");
}

/// `weir plan` says why a PostgreSQL server is not ready for CDC: a missing
/// table, a table without a primary key, a role that may not replicate, a
/// server that does not answer.
#[test]
fn a_plan_names_what_keeps_postgres_cdc_from_starting() {
    let pg = PgServer::start();
    pg.psql("postgres", "CREATE TABLE keyless (id int, name text)");
    pg.psql("postgres", "CREATE ROLE reader LOGIN PASSWORD 'r'");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cdc.toml");
    let file_s = file.display().to_string();
    let check = |url: &str, table: &str, want: &str| {
        std::fs::write(
            &file,
            format!(
                "[source.postgres_cdc]\nurl = \"{url}\"\ntables = [\"{table}\"]\n[sink.console]\n"
            ),
        )
        .expect("write");
        let (ok, text) = plan(&[&file_s], &[]);
        assert!(!ok, "{text}");
        assert!(text.contains(want), "{want}:\n{text}");
        assert!(!text.contains(":weir-test@"), "password shown:\n{text}");
    };
    let url = pg.url("postgres");
    check(&url, "public.nope", "table public.nope does not exist");
    check(&url, "keyless", "table public.keyless has no primary key");
    let reader = url.replace("postgres:weir-test@", "reader:r@");
    check(&reader, "keyless", "role `reader` may not replicate");
    check("postgres://a:b@127.0.0.1:1/x", "t", "connect");
}
