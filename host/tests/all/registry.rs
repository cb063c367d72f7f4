//! The embedded schema registry over real HTTP against the embedded broker:
//! the Confluent API, its error codes, and state that survives a restart
//! because it lives in the `_schemas` topic.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use weir::config::KafkaConfig;
use weir::kafka::client::Cluster;
use weir::registry::EmbeddedRegistry;
use weir::registry::client::{ClientError, RegistryClient};

use crate::common;

const VND: &str = "application/vnd.schemaregistry.v1+json";

fn cluster(bootstrap: String) -> Cluster {
    Cluster {
        bootstrap,
        settings: KafkaConfig::default(),
    }
}

async fn start(cluster: &Cluster) -> EmbeddedRegistry {
    EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"), cluster)
        .await
        .expect("registry starts")
}

/// A `User` record schema with `id` plus the given fields.
fn user(extra: &[Value]) -> Value {
    let mut fields = vec![json!({"name": "id", "type": "long"})];
    fields.extend_from_slice(extra);
    json!({"type": "record", "name": "User", "namespace": "weir.test", "fields": fields})
}

fn body(schema: &Value) -> Value {
    json!({ "schema": schema.to_string() })
}

fn email() -> Value {
    json!({"name": "email", "type": "string", "default": ""})
}

/// Added without a default: new readers cannot read old data (not BACKWARD).
fn phone() -> Value {
    json!({"name": "phone", "type": "string"})
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(registry: &EmbeddedRegistry) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: registry.url(),
        }
    }

    /// Status and JSON body (a raw body that is not JSON comes back as a string).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", VND).body(b.to_string());
        }
        let resp = req.send().await.expect("the registry answers");
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some(VND),
            "{path}"
        );
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

/// Asserts a Confluent error answer; its message.
fn error(answer: (u16, Value), status: u16, code: u64) -> String {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error_code"], json!(code), "{}", answer.1);
    answer.1["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_api_and_restart() {
    tokio::time::timeout(Duration::from_secs(120), api_and_restart())
        .await
        .expect("the registry test finishes within 120 s");
}

async fn api_and_restart() {
    let broker = common::broker().await;
    let cluster = cluster(broker.bootstrap());
    let registry = start(&cluster).await;
    let api = Api::new(&registry);
    let (v1, v2, v3) = (user(&[]), user(&[email()]), user(&[email(), phone()]));

    assert_eq!(api.get("/").await, (200, json!({})));
    assert_eq!(api.get("/subjects").await, (200, json!([])));
    assert_eq!(api.get("/schemas/types").await, (200, json!(["AVRO"])));

    // Register; the same schema (other formatting) keeps its id; another subject
    // shares the global id.
    let s = "/subjects/users-value/versions";
    assert_eq!(api.post(s, body(&v1)).await, (200, json!({"id": 1})));
    let spaced = json!({ "schema": serde_json::to_string_pretty(&v1).expect("json") });
    assert_eq!(api.post(s, spaced).await, (200, json!({"id": 1})));
    assert_eq!(
        api.post("/subjects/other-value/versions", body(&v1)).await,
        (200, json!({"id": 1}))
    );
    assert_eq!(api.post(s, body(&v2)).await, (200, json!({"id": 2})));
    assert_eq!(api.get(s).await, (200, json!([1, 2])));
    let (status, latest) = api.get("/subjects/users-value/versions/latest").await;
    assert_eq!(status, 200);
    assert_eq!(latest["subject"], "users-value");
    assert_eq!(
        (latest["version"].clone(), latest["id"].clone()),
        (json!(2), json!(2))
    );
    assert!(
        latest.get("schemaType").is_none(),
        "omitted for AVRO: {latest}"
    );
    let stored: Value =
        serde_json::from_str(latest["schema"].as_str().expect("schema string")).expect("json");
    assert_eq!(stored, v2);
    assert_eq!(
        api.get("/subjects/users-value/versions/1/schema").await,
        (200, v1.clone())
    );

    // Lookup under a subject.
    let (status, found) = api.post("/subjects/users-value", body(&v1)).await;
    assert_eq!(
        (status, found["version"].clone(), found["id"].clone()),
        (200, json!(1), json!(1))
    );
    error(
        api.post("/subjects/other-value", body(&v2)).await,
        404,
        40403,
    );
    error(api.post("/subjects/nobody", body(&v2)).await, 404, 40401);

    // Compatibility: a field without a default is not BACKWARD; the reason says which.
    let (status, check) = api
        .post(
            "/compatibility/subjects/users-value/versions/latest?verbose=true",
            body(&v3),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(check["is_compatible"], json!(false), "{check}");
    assert!(check["messages"].to_string().contains("phone"), "{check}");
    assert_eq!(
        api.post("/compatibility/subjects/users-value/versions/1", body(&v2))
            .await,
        (200, json!({"is_compatible": true}))
    );
    let refused = error(api.post(s, body(&v3)).await, 409, 409);
    assert!(refused.contains("phone"), "{refused}");

    // Bad requests.
    error(
        api.post(s, json!({"schema": r#"{"type":"record","name":"X"}"#}))
            .await,
        422,
        42201,
    );
    let proto = error(
        api.post(
            s,
            json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}),
        )
        .await,
        422,
        42201,
    );
    assert!(proto.contains("PROTOBUF"), "{proto}");
    error(
        api.get("/subjects/users-value/versions/0").await,
        422,
        42202,
    );
    error(
        api.get("/subjects/users-value/versions/9").await,
        404,
        40402,
    );
    error(api.get("/subjects/nobody/versions").await, 404, 40401);
    error(
        api.put("/config", json!({"compatibility": "SIDEWAYS"}))
            .await,
        422,
        42203,
    );
    let text = api
        .http
        .post(format!("{}{s}", api.base))
        .header("content-type", "text/plain")
        .body(body(&v1).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(text.status().as_u16(), 415);

    // Configuration, global and per subject.
    assert_eq!(
        api.get("/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        api.put("/config/users-value", json!({"compatibility": "none"}))
            .await,
        (200, json!({"compatibility": "NONE"}))
    );
    assert_eq!(
        api.get("/config/users-value").await,
        (200, json!({"compatibilityLevel": "NONE"}))
    );
    error(api.get("/config/other-value").await, 404, 40408);
    assert_eq!(
        api.get("/config/other-value?defaultToGlobal=true").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(api.post(s, body(&v3)).await, (200, json!({"id": 3})));
    assert_eq!(
        api.put("/config", json!({"compatibility": "FULL"})).await,
        (200, json!({"compatibility": "FULL"}))
    );

    // Ids.
    assert_eq!(
        api.get("/schemas/ids/1").await,
        (200, json!({"schema": v1.to_string()}))
    );
    assert_eq!(
        api.get("/schemas/ids/1/versions").await,
        (
            200,
            json!([{"subject": "other-value", "version": 1}, {"subject": "users-value", "version": 1}])
        )
    );
    assert_eq!(
        api.get("/schemas/ids/1/subjects").await,
        (200, json!(["other-value", "users-value"]))
    );
    error(api.get("/schemas/ids/99").await, 404, 40403);

    // Deletes: soft first, then permanent.
    error(
        api.delete("/subjects/other-value?permanent=true").await,
        404,
        40405,
    );
    assert_eq!(api.delete("/subjects/other-value").await, (200, json!([1])));
    error(api.delete("/subjects/other-value").await, 404, 40404);
    assert_eq!(api.get("/subjects").await, (200, json!(["users-value"])));
    assert_eq!(
        api.get("/subjects?deleted=true").await,
        (200, json!(["other-value", "users-value"]))
    );
    assert_eq!(
        api.delete("/subjects/other-value?permanent=true").await,
        (200, json!([1]))
    );
    assert_eq!(
        api.get("/subjects?deleted=true").await,
        (200, json!(["users-value"]))
    );
    error(
        api.delete("/subjects/users-value/versions/2?permanent=true")
            .await,
        404,
        40407,
    );
    assert_eq!(
        api.delete("/subjects/users-value/versions/2").await,
        (200, json!(2))
    );
    error(
        api.delete("/subjects/users-value/versions/2").await,
        404,
        40406,
    );
    assert_eq!(api.get(s).await, (200, json!([1, 3])));
    error(
        api.get("/subjects/users-value/versions/2").await,
        404,
        40402,
    );
    let (_, deleted) = api
        .get("/subjects/users-value/versions/2?deleted=true")
        .await;
    assert_eq!(deleted["id"], json!(2));
    assert_eq!(
        api.get("/schemas/ids/2").await.0,
        200,
        "ids outlive soft deletes"
    );

    // The client side, against the same registry.
    let client = RegistryClient::new(&registry.url()).expect("client");
    let (v1_text, v3_text) = (v1.to_string(), v3.to_string());
    assert_eq!(
        client
            .register("client-value", &v1_text)
            .await
            .expect("registers"),
        1
    );
    client
        .check_compatible("no-such-subject", &v3_text)
        .await
        .expect("no versions yet: compatible");
    match client.check_compatible("client-value", &v3_text).await {
        Err(ClientError::Incompatible { reasons, .. }) => {
            assert!(reasons.join(" ").contains("phone"), "{reasons:?}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    let refused = client
        .register("client-value", &v3_text)
        .await
        .expect_err("FULL refuses a field without default");
    assert_eq!(refused.error_code(), Some(409), "{refused}");
    let two = client.schema_by_id(2).await.expect("schema 2");
    assert!(two.contains("email"), "{two}");
    let missing = client.schema_by_id(99).await.expect_err("no schema 99");
    assert_eq!(missing.error_code(), Some(40403), "{missing}");

    // Restart: a new registry on the same broker reads `_schemas` back.
    let before = (
        api.get("/subjects?deleted=true").await,
        api.get("/subjects/users-value/versions?deleted=true").await,
        api.get("/subjects/users-value/versions/3").await,
        api.get("/subjects/client-value/versions/1").await,
    );
    let old_url = registry.url();
    drop(registry);
    let stopped = async {
        while reqwest::get(&old_url).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("a dropped registry stops answering");

    let registry = start(&cluster).await;
    let api = Api::new(&registry);
    let after = (
        api.get("/subjects?deleted=true").await,
        api.get("/subjects/users-value/versions?deleted=true").await,
        api.get("/subjects/users-value/versions/3").await,
        api.get("/subjects/client-value/versions/1").await,
    );
    assert_eq!(after, before);
    assert_eq!(
        before.0,
        (200, json!(["client-value", "users-value"])),
        "the hard-deleted subject stays gone"
    );
    assert_eq!(
        api.get("/subjects/users-value/versions").await,
        (200, json!([1, 3]))
    );
    error(
        api.get("/subjects/users-value/versions/2").await,
        404,
        40402,
    );
    assert_eq!(
        api.get("/config").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        api.get("/config/users-value").await,
        (200, json!({"compatibilityLevel": "NONE"}))
    );
    assert_eq!(api.get("/schemas/ids/2").await.0, 200);
    // Known schemas keep their ids; a new one gets the next id.
    assert_eq!(api.post(s, body(&v1)).await, (200, json!({"id": 1})));
    let v4 = user(&[email(), json!({"name": "age", "type": "int", "default": 0})]);
    assert_eq!(
        api.post("/subjects/client-value/versions", body(&v4)).await,
        (200, json!({"id": 4}))
    );
    assert_eq!(
        api.get("/subjects/client-value/versions").await,
        (200, json!([1, 2]))
    );
}

/// A write the broker never acknowledges is answered 50001 and not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_write_is_a_storage_error() {
    let broker = common::broker().await;
    let mut cluster = cluster(broker.bootstrap());
    cluster
        .settings
        .properties
        .insert("message.timeout.ms".into(), "2000".into());
    let registry = start(&cluster).await;
    let api = Api::new(&registry);
    assert_eq!(
        api.post("/subjects/a/versions", body(&user(&[]))).await,
        (200, json!({"id": 1}))
    );
    drop(broker);
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        api.post("/subjects/b/versions", body(&user(&[email()]))),
    )
    .await
    .expect("the write fails within the message timeout");
    error(answer, 500, 50001);
    assert_eq!(api.get("/subjects").await, (200, json!(["a"])));
}

/// A record schema named `R` with `fields`.
fn record(fields: Value) -> Value {
    json!({"type": "record", "name": "R", "namespace": "io.weir.matrix", "fields": fields})
}

/// The usual Avro changes, old → new, with whether each direction of reading
/// works: (name, old, new, backward = new reads old, forward = old reads new).
fn changes() -> Vec<(&'static str, Value, Value, bool, bool)> {
    let int = |n: &str| json!({"name": n, "type": "int"});
    let color = |symbols: &[&str]| json!({"name": "c", "type": {"type": "enum", "name": "Color", "symbols": symbols}});
    let union = |types: Value| json!({"name": "u", "type": types});
    vec![
        (
            "add a field with a default",
            record(json!([int("a")])),
            record(json!([int("a"), {"name": "b", "type": "string", "default": "x"}])),
            true,
            true,
        ),
        (
            "add a field without a default",
            record(json!([int("a")])),
            record(json!([int("a"), {"name": "b", "type": "string"}])),
            false,
            true,
        ),
        (
            "remove a field that had a default",
            record(json!([int("a"), {"name": "b", "type": "string", "default": "x"}])),
            record(json!([int("a")])),
            true,
            true,
        ),
        (
            "remove a field without a default",
            record(json!([int("a"), {"name": "b", "type": "string"}])),
            record(json!([int("a")])),
            true,
            false,
        ),
        (
            "int → long (promotion)",
            record(json!([int("a")])),
            record(json!([{"name": "a", "type": "long"}])),
            true,
            false,
        ),
        (
            "int → string (no promotion)",
            record(json!([int("a")])),
            record(json!([{"name": "a", "type": "string"}])),
            false,
            false,
        ),
        (
            "rename a field, old name as alias",
            record(json!([int("a")])),
            record(json!([{"name": "b", "type": "int", "aliases": ["a"]}])),
            true,
            false,
        ),
        (
            "add an enum symbol",
            record(json!([color(&["RED", "GREEN"])])),
            record(json!([color(&["RED", "GREEN", "BLUE"])])),
            true,
            false,
        ),
        (
            "remove an enum symbol",
            record(json!([color(&["RED", "GREEN", "BLUE"])])),
            record(json!([color(&["RED", "GREEN"])])),
            false,
            true,
        ),
        (
            "widen a union",
            record(json!([union(json!(["null", "string"]))])),
            record(json!([union(json!(["null", "string", "int"]))])),
            true,
            false,
        ),
        (
            "narrow a union",
            record(json!([union(json!(["null", "string", "int"]))])),
            record(json!([union(json!(["null", "string"]))])),
            false,
            true,
        ),
    ]
}

const LEVELS: [&str; 7] = [
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
];

fn allowed(level: &str, backward: bool, forward: bool) -> bool {
    match level.trim_end_matches("_TRANSITIVE") {
        "NONE" => true,
        "BACKWARD" => backward,
        "FORWARD" => forward,
        _ => backward && forward,
    }
}

/// Registers `versions` in order under a fresh subject at `level`; the status
/// and error code of each registration.
async fn register_chain(
    api: &Api,
    subject: &str,
    level: &str,
    versions: &[Value],
) -> Vec<(u16, Value)> {
    let (status, _) = api
        .put(
            &format!("/config/{subject}"),
            json!({"compatibility": level}),
        )
        .await;
    assert_eq!(status, 200, "{level}");
    let mut out = Vec::new();
    for v in versions {
        out.push(
            api.post(&format!("/subjects/{subject}/versions"), body(v))
                .await,
        );
    }
    out
}

/// The 7 compatibility levels × 11 usual Avro changes, over the REST API:
/// a change the level allows registers (200 with an id), one it refuses is 409
/// with Confluent's error code 409 and a reason; then 3-version chains that
/// only the transitive levels refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatibility_matrix_of_levels_and_changes() {
    let broker = common::broker().await;
    let cluster = cluster(broker.bootstrap());
    let registry = start(&cluster).await;
    let api = Api::new(&registry);
    let mut table = vec![format!("| change | {} |", LEVELS.join(" | "))];
    let mut checked = 0;
    for (i, (name, old, new, backward, forward)) in changes().into_iter().enumerate() {
        let mut row = format!("| {name} |");
        for (j, level) in LEVELS.iter().enumerate() {
            let subject = format!("matrix-{i}-{j}");
            let answers = register_chain(&api, &subject, level, &[old.clone(), new.clone()]).await;
            assert_eq!(
                answers[0].0, 200,
                "{name}: the first version registers: {}",
                answers[0].1
            );
            let want = allowed(level, backward, forward);
            let (status, body) = &answers[1];
            if want {
                assert_eq!(*status, 200, "{name} under {level} must register: {body}");
                assert!(body["id"].as_u64().is_some(), "{body}");
            } else {
                assert_eq!(*status, 409, "{name} under {level} must be refused: {body}");
                assert_eq!(body["error_code"], json!(409), "{body}");
                assert!(!body["message"].as_str().unwrap_or_default().is_empty());
            }
            row.push_str(if want { " ok |" } else { " 409 |" });
            checked += 1;
        }
        table.push(row);
    }
    // Chains where v3 fits v2 but not v1: only the transitive level refuses it.
    let int = |n: &str| json!({"name": n, "type": "int"});
    let chains = [
        (
            "BACKWARD",
            vec![
                record(json!([int("a")])),
                record(json!([int("a"), {"name": "b", "type": "string", "default": "x"}])),
                record(json!([{"name": "b", "type": "string"}])),
            ],
        ),
        (
            "FORWARD",
            vec![
                record(json!([{"name": "b", "type": "string"}])),
                record(json!([int("a"), {"name": "b", "type": "string", "default": "x"}])),
                record(json!([int("a")])),
            ],
        ),
        (
            "FULL",
            vec![
                record(json!([{"name": "a", "type": "int", "default": 0}])),
                record(json!([{"name": "b", "type": "string", "default": "x"}])),
                record(json!([{"name": "b", "type": "string"}])),
            ],
        ),
    ];
    for (base, versions) in chains {
        for level in [base.to_string(), format!("{base}_TRANSITIVE")] {
            let subject = format!("chain-{level}");
            let answers = register_chain(&api, &subject, &level, &versions).await;
            assert_eq!(answers[0].0, 200, "{level} v1: {}", answers[0].1);
            assert_eq!(answers[1].0, 200, "{level} v2: {}", answers[1].1);
            let transitive = level.ends_with("_TRANSITIVE");
            assert_eq!(
                answers[2].0,
                if transitive { 409 } else { 200 },
                "{level} v3: {}",
                answers[2].1
            );
            checked += 1;
        }
    }
    println!("{checked} cases\n{}", table.join("\n"));
}
