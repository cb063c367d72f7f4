//! Hostile input, generated: connector files mutated from the shipped ones and
//! arbitrary text, Confluent-framed values and Avro bodies of arbitrary bytes,
//! JSON that does not fit a schema, and malformed requests to the schema
//! registry. Never a panic, never a hang, always an error that says where.

use std::path::PathBuf;

use std::cell::Cell;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::common::*;

fn shipped_connectors() -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(repo_root().join("connectors"))
        .expect("connectors/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            (p, text)
        })
        .collect();
    out.sort();
    out
}

/// A connector file broken in one of the ways people break them.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Replace { at: usize, byte: u8 },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), "[\\[\\]{}=\"'#$:,.\\n a-z0-9_\\-]{1,12}")
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let n = bytes.len().max(1);
    match m {
        Mutation::Delete { at, len } => {
            let at = at % n;
            let end = (at + len).min(bytes.len());
            bytes.drain(at.min(bytes.len())..end);
        }
        Mutation::Insert { at, text } => {
            let at = at % n;
            bytes.splice(at..at, text.bytes());
        }
        Mutation::Replace { at, byte } => {
            if !bytes.is_empty() {
                bytes[at % n] = *byte;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % n),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Mutated shipped connectors, loaded as `weir run` loads them (parse, resolve
/// plugins, lookups and schemas): an error names a line and column inside the
/// file, or the file still loads.
#[test]
fn mutated_connector_files_never_panic_and_errors_say_where() {
    let files = shipped_connectors();
    let dirs = weir::config::plugin_dirs(Some(plugin_dir().to_str().expect("utf-8")));
    let dir = tempfile::tempdir().expect("tempdir");
    // The files name `data/campaigns.csv` and `../schemas/…` relative to themselves.
    std::os::unix::fs::symlink(repo_root().join("connectors/data"), dir.path().join("data"))
        .expect("symlink");
    let mut runner = TestRunner::new(Config::with_cases(2_000));
    let (loaded, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner
        .run(
            &(0..files.len(), proptest::collection::vec(mutation(), 1..4)),
            |(i, ms)| {
                let (path, text) = &files[i];
                let mut broken = text.clone();
                for m in &ms {
                    broken = apply(&broken, m);
                }
                let file = dir.path().join(path.file_name().expect("name"));
                std::fs::write(&file, &broken).expect("write");
                match weir::config::load(&file, &dirs) {
                    Ok(_) => loaded.set(loaded.get() + 1),
                    Err(e) => {
                        refused.set(refused.get() + 1);
                        let shown = e.to_string();
                        prop_assert!(
                            shown.contains(&file.display().to_string()),
                            "the error names the file: {shown}"
                        );
                        if let Some(at) = e.location() {
                            let lines = broken.lines().count().max(1) + 1;
                            prop_assert!(at.line >= 1 && at.line <= lines, "{shown}");
                        }
                    }
                }
                Ok(())
            },
        )
        .expect("no panic, every error located");
    let (loaded, refused) = (loaded.get(), refused.get());
    println!("connector mutations: {loaded} still loaded, {refused} refused with an error");
    assert!(
        refused > 500,
        "mutations break files: {refused} of {}",
        loaded + refused
    );
}

proptest! {
    #![proptest_config(Config::with_cases(5_000))]

    /// Any bytes: a framed value decodes only when it is one.
    #[test]
    fn confluent_framing_of_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        match weir::registry::wire::decode(&bytes) {
            Ok((id, body)) => {
                prop_assert!(bytes.len() >= 5 && bytes[0] == 0);
                prop_assert_eq!(id, u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
                prop_assert_eq!(body, &bytes[5..]);
            }
            Err(e) => prop_assert!(bytes.len() < 5 || bytes[0] != 0, "{e}"),
        }
    }

    /// Any bytes as a UserEvent Avro body, as `weir tail` would read them: an
    /// error or a value, never a panic or a runaway allocation.
    #[test]
    fn avro_bodies_of_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let schema = user_event_schema();
        let _ = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None);
    }

    /// JSON values of every shape through the Avro sink's encoder: encoded, or
    /// refused with the path of the field that does not fit.
    #[test]
    fn json_that_does_not_fit_the_schema(value in json_value()) {
        let encoder = weir::sinks::kafka::AvroEncoder::new(user_event_schema());
        let bytes = serde_json::to_vec(&value).expect("json");
        if let Err(reason) = encoder.encode(&bytes) {
            prop_assert!(!reason.is_empty());
        }
    }
}

fn user_event_schema() -> apache_avro::Schema {
    let text =
        std::fs::read_to_string(repo_root().join("schemas/user_event.v1.avsc")).expect("schema");
    apache_avro::Schema::parse_str(&text).expect("parses")
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 40, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("event_id".to_string()),
                    Just("user_id".to_string()),
                    Just("event_type".to_string()),
                    Just("device".to_string()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Malformed requests to the embedded schema registry: bad JSON, wrong types,
/// invalid schemas, huge bodies, unknown content types. Every answer is a 4xx
/// with Confluent's error body, never a 5xx, and the registry keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_api_answers_garbage_with_4xx() {
    let broker = broker().await;
    let cluster = weir::kafka::client::Cluster {
        bootstrap: broker.bootstrap(),
        settings: Default::default(),
    };
    let reg =
        weir::registry::EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"), &cluster)
            .await
            .expect("registry");
    let url = reg.url();
    let http = reqwest::Client::new();
    let bodies: Vec<Vec<u8>> = {
        let mut runner = TestRunner::new(Config::with_cases(300));
        let strategy = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "\\{\"schema\": ?\"[^\"]{0,60}\"\\}".prop_map(String::into_bytes),
            "\\{\"schema\": ?[0-9]{1,5}\\}".prop_map(String::into_bytes),
            "\\{\"schemaType\": ?\"[A-Z]{1,8}\", ?\"schema\": ?\"\\{\\}\"\\}"
                .prop_map(String::into_bytes),
            "\\{\"compatibility\": ?\"[A-Z_]{0,24}\"\\}".prop_map(String::into_bytes),
        ];
        (0..300)
            .map(|_| strategy.new_tree(&mut runner).expect("tree").current())
            .collect()
    };
    let paths = [
        "/subjects/fuzz-value/versions",
        "/compatibility/subjects/fuzz-value/versions/latest",
        "/config/fuzz-value",
        "/subjects/fuzz-value",
    ];
    let mut answered = 0;
    for (i, body) in bodies.iter().enumerate() {
        let path = paths[i % paths.len()];
        let req = if path.starts_with("/config") {
            http.put(format!("{url}{path}"))
        } else {
            http.post(format!("{url}{path}"))
        };
        let resp = req
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(body.clone())
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .expect("the registry answers");
        let status = resp.status();
        assert!(
            !status.is_server_error(),
            "{path} answered {status} to {:?}",
            String::from_utf8_lossy(body)
        );
        answered += 1;
    }
    // A 20 MB body: the registry answers 413 after its 2 MB cap and closes
    // the connection without reading the rest, so the client sees either the
    // 413 or, when it is still writing, the connection closed under it (as
    // nginx behaves). Never a 2xx, never a 5xx, and it keeps serving.
    let huge = vec![b'{'; 20 << 20];
    match http
        .post(format!("{url}/subjects/fuzz-value/versions"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
    {
        Ok(resp) => assert!(
            resp.status().is_client_error(),
            "huge body: {}",
            resp.status()
        ),
        Err(e) => assert!(
            e.is_request() && !e.is_timeout(),
            "huge body: the registry neither answered nor closed cleanly: {e:?}"
        ),
    }
    // An unknown content type.
    let resp = http
        .post(format!("{url}/subjects/fuzz-value/versions"))
        .header("content-type", "text/x-nonsense")
        .body("{\"schema\": \"\\\"string\\\"\"}")
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 415, "unknown content type");
    println!(
        "registry: {answered} malformed requests answered without a 5xx; unknown content type → {}",
        resp.status()
    );
    // Still serving.
    let ok = http
        .get(format!("{url}/subjects"))
        .send()
        .await
        .expect("answers");
    assert!(ok.status().is_success());
}
