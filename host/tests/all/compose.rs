//! docker-compose.yml and the Dockerfile, checked without a Docker engine (none
//! runs on the development machines): the stack's wiring is parsed and every
//! connector file a weir service runs is validated by `weir validate` with that
//! service's environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml::Value;

use crate::common::*;

const CONNECTORS_IN_CONTAINER: &str = "/opt/weir/connectors/";

fn compose() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml"))
        .expect("docker-compose.yml");
    let mut v: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is YAML");
    v.apply_merge().expect("merge keys resolve");
    v
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A service's environment (map or `KEY=VALUE` list form).
fn env(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Mapping(m) => m.iter().map(|(k, v)| (text(k), text(v))).collect(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(|e| {
                let e = text(e);
                let (k, v) = e.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Compose's own `${VAR:-default}` in a value: the default (nothing is set here).
fn compose_default(value: &str) -> String {
    match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        Some(inner) => inner
            .split_once(":-")
            .map_or(String::new(), |(_, d)| d.to_string()),
        None => value.to_string(),
    }
}

/// `${VAR}` without a default on a line that is not a comment.
fn required_vars(toml: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in toml.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let inner = &after[..end];
            if !inner.contains(":-") {
                out.insert(inner.to_string());
            }
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn the_stack_wires_kafka_the_registry_and_every_pipeline() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    let service = |name: &str| -> &Value {
        services
            .get(name)
            .unwrap_or_else(|| panic!("service `{name}` missing"))
    };

    // Kafka in KRaft mode; its in-network listener is what weir must use.
    let kafka = env(service("kafka"));
    let roles = &kafka["KAFKA_PROCESS_ROLES"];
    assert!(
        roles.contains("broker") && roles.contains("controller"),
        "kafka: KAFKA_PROCESS_ROLES = {roles}"
    );
    assert!(
        !kafka
            .get("KAFKA_CONTROLLER_QUORUM_VOTERS")
            .cloned()
            .unwrap_or_default()
            .is_empty(),
        "kafka: no controller quorum voter"
    );
    let advertised = &kafka["KAFKA_ADVERTISED_LISTENERS"];
    let bootstrap = advertised
        .split(',')
        .find_map(|l| l.strip_prefix("PLAINTEXT://"))
        .unwrap_or_else(|| panic!("kafka: no PLAINTEXT listener in {advertised}"))
        .to_string();
    assert!(
        bootstrap.starts_with("kafka:"),
        "kafka: advertised {bootstrap}"
    );

    let registry = env(service("schema-registry"));
    assert!(
        registry["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"].contains(&bootstrap),
        "schema-registry: its store must be the kafka service ({bootstrap})"
    );
    let port = registry["SCHEMA_REGISTRY_LISTENERS"]
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let registry_url = format!("http://schema-registry:{port}");

    let mut host_ports = BTreeMap::new();
    let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, svc) in services {
        let name = text(name);
        for p in svc["ports"].as_sequence().into_iter().flatten() {
            let published = text(p).split(':').next().unwrap_or_default().to_string();
            if let Some(other) = host_ports.insert(published.clone(), name.clone()) {
                panic!("host port {published} is published by `{other}` and `{name}`");
            }
        }
        if svc.get("build").is_none() {
            continue;
        }
        // A weir service.
        let dockerfile = text(&svc["build"]["dockerfile"]);
        assert!(
            repo_root().join(&dockerfile).is_file(),
            "{name}: build.dockerfile `{dockerfile}` does not exist"
        );
        let e = env(svc);
        assert_eq!(
            e.get("WEIR_BOOTSTRAP_SERVERS"),
            Some(&bootstrap),
            "{name}: WEIR_BOOTSTRAP_SERVERS"
        );
        assert_eq!(
            e.get("WEIR_SCHEMA_REGISTRY_URL"),
            Some(&registry_url),
            "{name}: WEIR_SCHEMA_REGISTRY_URL"
        );
        let depends: Vec<String> = match &svc["depends_on"] {
            Value::Mapping(m) => m.keys().map(text).collect(),
            Value::Sequence(s) => s.iter().map(text).collect(),
            _ => Vec::new(),
        };
        assert!(
            depends.contains(&"kafka".to_string()),
            "{name}: depends_on kafka"
        );
        let mounts: Vec<String> = svc["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        assert!(
            mounts
                .iter()
                .any(|m| m.starts_with("./connectors:/opt/weir/connectors")),
            "{name}: connectors/ is not mounted at /opt/weir/connectors: {mounts:?}"
        );
        let command: Vec<String> = svc["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: command"))
            .iter()
            .map(text)
            .collect();
        assert_eq!(
            command.first().map(String::as_str),
            Some("run"),
            "{name}: {command:?}"
        );
        for file in &command[1..] {
            let rel = file
                .strip_prefix(CONNECTORS_IN_CONTAINER)
                .unwrap_or_else(|| panic!("{name}: {file} is not under {CONNECTORS_IN_CONTAINER}"));
            let path = repo_root().join("connectors").join(rel);
            let toml = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!("{name}: runs {file}, but connectors/{rel} does not exist")
            });
            for var in required_vars(&toml) {
                assert!(
                    e.contains_key(&var),
                    "{name}: connectors/{rel} needs ${{{var}}}, which the service does not set"
                );
            }
            runs.entry(rel.to_string()).or_default().push(name.clone());
        }
    }
    for pipeline in [
        "customer-events.toml",
        "cdc-source.toml",
        "cdc-view.toml",
        "campaign-views.toml",
        "campaign-minute.toml",
        "gtfs-vehicles.toml",
        "purchases-gen.toml",
        "purchases.toml",
    ] {
        assert!(
            runs.contains_key(pipeline),
            "no service runs connectors/{pipeline}"
        );
    }
    assert!(
        runs["campaign-minute.toml"].len() >= 2,
        "campaign-minute runs on two hosts to show scale-out: {:?}",
        runs["campaign-minute.toml"]
    );
}

#[test]
fn the_dockerfile_builds_the_host_and_the_plugins() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "a multi-stage build, got {stages} FROM lines");
    assert!(
        text.contains("rustup target add wasm32-wasip2"),
        "wasm target"
    );
    assert!(text.contains("just plugin"), "the plugins are built");
    assert!(
        text.contains("cargo build --release -p weir"),
        "the host is built"
    );
    let plugin_dir = text
        .split("WEIR_PLUGIN_DIR=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("ENV WEIR_PLUGIN_DIR");
    assert!(
        text.lines().any(|l| l.starts_with("COPY --from=build")
            && l.contains("target/plugins")
            && l.ends_with(plugin_dir)),
        "the plugins are copied to WEIR_PLUGIN_DIR ({plugin_dir})"
    );
    assert!(text.contains("USER "), "runs as a non-root user");
}

#[test]
fn every_connector_a_service_runs_validates_with_its_environment() {
    pipeline_plugins();
    let c = compose();
    for (name, svc) in c["services"].as_mapping().expect("services") {
        if svc.get("build").is_none() {
            continue;
        }
        let files: Vec<PathBuf> = svc["command"]
            .as_sequence()
            .into_iter()
            .flatten()
            .skip(1)
            .map(|f| {
                repo_root()
                    .join("connectors")
                    .join(text(f).trim_start_matches(CONNECTORS_IN_CONTAINER))
            })
            .collect();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_weir"));
        cmd.arg("validate")
            .args(&files)
            .arg("--plugin-dir")
            .arg(plugin_dir());
        for (k, v) in env(svc) {
            if k != "WEIR_PLUGIN_DIR" {
                cmd.env(k, compose_default(&v));
            }
        }
        let out = cmd.output().expect("weir validate runs");
        assert!(
            out.status.success(),
            "{}: weir validate {files:?} failed:\n{}{}",
            text(name),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn required_variables_skip_comments_and_defaults() {
    let toml = "a = \"${A}\"\nb = \"${B:-x}\"\n# c = \"${C}\"\nd = \"${D}-${E}\"\n";
    let want: BTreeSet<String> = ["A", "D", "E"].map(String::from).into();
    assert_eq!(required_vars(toml), want);
    assert_eq!(compose_default("${V:-http://x}"), "http://x");
    assert_eq!(compose_default("plain"), "plain");
}
