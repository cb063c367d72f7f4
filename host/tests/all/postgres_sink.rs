//! `[sink.postgres]` against a real PostgreSQL (started by the test) and the
//! embedded broker: change envelopes and tombstones leave the table in the
//! state they describe; a second run over the same topic (fresh checkpoint,
//! same connector) applies nothing twice; records that do not fit reach the
//! DLQ naming their column; `auto_create` makes the table from the first row.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use weir::connectors::SinkConnector;
use weir::plan::Level;

use crate::common::*;
use crate::pg_server::{self, PgServer};

const TOPIC: &str = "users.changes";
const DB: &str = "postgres";

/// Messages for a topic: a key and a value (`None`: a tombstone).
type Messages = Vec<(String, Option<String>)>;

/// The envelopes a CDC source would write for 300 changes to 40 users
/// (snapshot reads, creates, updates, deletes each followed by a tombstone,
/// users created again after their delete), one update in the middle whose
/// `age` is a string, and the rows the table should end with.
fn changes() -> (Messages, BTreeMap<i64, (String, i64)>) {
    let mut rows: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut seed: u64 = 7;
    for step in 0..300i64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = ((seed >> 33) % 40) as i64 + 1;
        let key = json!({ "id": id }).to_string();
        let before = rows
            .get(&id)
            .map(|(name, age)| json!({"id": id, "name": name, "age": age}));
        let after = (format!("user {id} at {step}"), step % 90);
        let envelope = |op: &str, before: &serde_json::Value, after: serde_json::Value| {
            json!({"before": before, "after": after, "op": op, "ts_ms": 1_700_000_000_000i64 + step, "source": {"table": "users"}})
                .to_string()
        };
        match before {
            None => {
                let op = if step < 20 { "r" } else { "c" };
                let value = envelope(
                    op,
                    &serde_json::Value::Null,
                    json!({"id": id, "name": after.0, "age": after.1}),
                );
                out.push((key, Some(value)));
                rows.insert(id, after);
            }
            Some(b) if (seed >> 20).is_multiple_of(4) => {
                out.push((
                    key.clone(),
                    Some(envelope("d", &b, serde_json::Value::Null)),
                ));
                out.push((key, None));
                rows.remove(&id);
            }
            Some(b) => {
                let value = envelope("u", &b, json!({"id": id, "name": after.0, "age": after.1}));
                out.push((key, Some(value)));
                rows.insert(id, after);
            }
        }
        if step == 150 {
            let (&id, (name, _)) = rows.iter().next().expect("a row");
            let bad = json!({"before": null, "after": {"id": id, "name": name, "age": "forty"}, "op": "u"});
            out.push((json!({ "id": id }).to_string(), Some(bad.to_string())));
        }
    }
    (out, rows)
}

/// Sends `messages` to `topic` in order; the next offset of each partition.
async fn produce(bootstrap: &str, topic: &str, messages: &Messages) -> BTreeMap<i32, i64> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let mut next = BTreeMap::new();
    for (key, value) in messages {
        let mut record = FutureRecord::<str, str>::to(topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        let d = producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .expect("acknowledged");
        let n = next.entry(d.partition).or_insert(0);
        *n = (*n).max(d.offset + 1);
    }
    next
}

fn sink_toml(pg: &PgServer, name: &str, group: &str, topic: &str, sink: &str) -> String {
    format!(
        "name = \"{name}\"\n[source.kafka]\ntopic = \"{topic}\"\ngroup_id = \"{group}\"\nbatch_size = 50\nbatch_timeout_ms = 100\n[sink.postgres]\nurl = \"{}\"\n{sink}\n",
        pg.url(DB)
    )
}

fn table(pg: &PgServer, sql: &str) -> String {
    pg.psql(DB, sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_envelopes_land_exactly_once_and_a_misfit_reaches_the_dlq() {
    let pg = PgServer::start();
    table(
        &pg,
        "CREATE TABLE public.users (id bigint PRIMARY KEY, name text NOT NULL, age integer)",
    );
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 3).await;
    let (messages, rows) = changes();
    let next = produce(&bootstrap, TOPIC, &messages).await;
    let tombstones = messages.iter().filter(|(_, v)| v.is_none()).count();
    assert!(
        tombstones > 20 && rows.len() > 10,
        "{tombstones} deletes, {} rows",
        rows.len()
    );

    let sink = "table = \"public.users\"";
    let (_first_dir, first) = connector(&sink_toml(&pg, "users-sink", "users-sink", TOPIC, sink));
    let stats = run_to_the_end(&first, &bootstrap, Duration::from_secs(120)).await;
    assert_eq!(stats.read, messages.len() as u64);
    assert_eq!(stats.dead_lettered, 1, "{:?}", stats.dlq_reasons);

    let expected: Vec<String> = rows
        .iter()
        .map(|(id, (name, age))| format!("{id}|{name}|{age}"))
        .collect();
    let state = "SELECT id, name, age FROM users ORDER BY id";
    assert_eq!(table(&pg, state), expected.join("\n"));
    let offsets_sql = "SELECT topic, kafka_partition, next_offset FROM weir_sink_offsets WHERE connector = 'users-sink' ORDER BY kafka_partition";
    let stored: Vec<String> = next
        .iter()
        .map(|(p, n)| format!("{TOPIC}|{p}|{n}"))
        .collect();
    assert_eq!(table(&pg, offsets_sql), stored.join("\n"));

    let dead = consume(&bootstrap, "users-sink.dlq", 10, Duration::from_secs(3)).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].header("weir.dlq.reason").expect("a reason");
    assert!(
        reason.contains("column `age` (integer)") && reason.contains("\"forty\""),
        "{reason}"
    );
    assert_eq!(dead[0].header("weir.dlq.codes"), Some("schema_mismatch"));
    assert_eq!(dead[0].header("weir.dlq.stage"), Some("sink.postgres"));

    // The same connector again from the start of the topic (a new group, a
    // new checkpoint folder): the offsets table says every record was
    // applied. Rows changed meanwhile by hand show that none is written
    // again: a replayed upsert would overwrite the name, a replayed delete
    // would remove the ghost.
    let ghost = (1..=40)
        .find(|id| !rows.contains_key(id))
        .expect("a deleted id");
    table(&pg, "UPDATE users SET name = 'edited by hand'");
    table(
        &pg,
        &format!("INSERT INTO users VALUES ({ghost}, 'ghost', 1)"),
    );
    let before = table(&pg, state);
    let (_second_dir, second) = connector(&sink_toml(
        &pg,
        "users-sink",
        "users-sink-again",
        TOPIC,
        sink,
    ));
    let again = run_to_the_end(&second, &bootstrap, Duration::from_secs(120)).await;
    assert_eq!(
        again.read,
        messages.len() as u64,
        "the second run read the topic again"
    );
    assert_eq!(table(&pg, state), before, "nothing was applied twice");
    assert_eq!(table(&pg, offsets_sql), stored.join("\n"));
    // The misfit is refused again: a dead letter may repeat, never go missing.
    assert_eq!(again.dead_lettered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_server_refuses_reach_the_dlq_and_the_rest_of_the_batch_lands() {
    let pg = PgServer::start();
    table(
        &pg,
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int CHECK (qty >= 0), seen timestamptz, note text)",
    );
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "items", 1).await;
    let row = |v: serde_json::Value| ("k".to_string(), Some(v.to_string()));
    let mut messages: Messages = (1..=10)
        .map(|id| row(json!({"id": id, "name": format!("item {id}"), "qty": id})))
        .collect();
    messages.push(row(json!({"id": 5, "qty": -1})));
    messages.push(row(json!({"id": 7, "seen": "not a time"})));
    // Without `name` (NOT NULL): an existing row keeps its own, a new one is refused.
    messages.push(row(json!({"id": 6, "note": "later"})));
    messages.push(row(json!({"id": 8, "seen": "2026-12-06T19:10:13Z"})));
    messages.push(row(json!({"id": 11, "qty": 1})));
    produce(&bootstrap, "items", &messages).await;

    let (_dir, loaded) = connector(&sink_toml(
        &pg,
        "items-sink",
        "items-sink",
        "items",
        "table = \"items\"",
    ));
    let stats = run_to_the_end(&loaded, &bootstrap, Duration::from_secs(120)).await;
    assert_eq!(stats.read, 15);
    assert_eq!(stats.dead_lettered, 3, "{:?}", stats.dlq_reasons);
    assert_eq!(
        table(
            &pg,
            "SELECT id, name, qty, seen, coalesce(note, '-') FROM items WHERE id >= 4 ORDER BY id"
        ),
        "4|item 4|4||-\n5|item 5|5||-\n6|item 6|6||later\n7|item 7|7||-\n8|item 8|8|2026-12-06 19:10:13+00|-\n9|item 9|9||-\n10|item 10|10||-"
    );
    let dead = consume(&bootstrap, "items-sink.dlq", 10, Duration::from_secs(3)).await;
    let reasons: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| {
            (
                d.header("weir.dlq.codes").unwrap_or_default(),
                d.header("weir.dlq.reason").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].0 == "constraint_violation" && reasons[0].1.contains("items_qty_check"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == "schema_mismatch" && reasons[1].1.contains("not a time"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].0 == "constraint_violation" && reasons[2].1.contains("\"name\""),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_create_makes_the_table_from_the_first_row_keyed_by_the_kafka_key() {
    let pg = PgServer::start();
    let broker = broker().await;
    let bootstrap = broker.bootstrap();

    create_topic(&bootstrap, "products", 1).await;
    let key = |sku: &str| json!({ "sku": sku }).to_string();
    let messages: Messages = vec![
        (
            key("A-1"),
            Some(
                json!({"sku": "A-1", "price": 9.5, "qty": 3, "tags": ["x"], "active": true})
                    .to_string(),
            ),
        ),
        (
            key("B-2"),
            Some(
                json!({"sku": "B-2", "price": 1.25, "qty": 1, "tags": [], "active": false})
                    .to_string(),
            ),
        ),
        (
            key("A-1"),
            Some(json!({"sku": "A-1", "qty": 4}).to_string()),
        ),
        (key("B-2"), None),
    ];
    produce(&bootstrap, "products", &messages).await;
    let (_dir, loaded) = connector(&sink_toml(
        &pg,
        "products-sink",
        "products-sink",
        "products",
        "table = \"products\"\nauto_create = true",
    ));
    let stats = run_to_the_end(&loaded, &bootstrap, Duration::from_secs(120)).await;
    assert_eq!(
        (stats.read, stats.dead_lettered),
        (4, 0),
        "{:?}",
        stats.dlq_reasons
    );
    assert_eq!(
        table(
            &pg,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'products' ORDER BY ordinal_position"
        ),
        "sku|text\nprice|double precision\nqty|bigint\ntags|jsonb\nactive|boolean"
    );
    assert_eq!(
        table(
            &pg,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'products'::regclass AND contype = 'p'"
        ),
        "PRIMARY KEY (sku)"
    );
    assert_eq!(
        table(&pg, "SELECT sku, price, qty, tags, active FROM products"),
        "A-1|9.5|4|[\"x\"]|t"
    );
}

/// Two hosts of one connector, the second with an out-of-date view of the
/// offsets (it opened before the first applied): the offsets read and locked
/// inside each batch's transaction decide, so the second skips what the
/// first applied and applies only what is new; records without an origin
/// are always applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offsets_locked_in_the_transaction_decide_what_is_applied() {
    use weir::record::{Batch, Origin, Record};
    use weir::sinks::Sink;
    use weir::sinks::postgres::{PostgresSink, PostgresSinkConfig};

    let pg = PgServer::start();
    table(&pg, "CREATE TABLE kv (id bigint PRIMARY KEY, v text)");
    let cfg = PostgresSinkConfig {
        url: pg.url(DB),
        table: "kv".into(),
        key: None,
        auto_create: false,
        offsets_table: "weir_sink_offsets".into(),
        resolved: None,
    };
    let record = |offset: Option<i64>, id: i64, v: &str| Record {
        value: Some(json!({"id": id, "v": v}).to_string().into_bytes()),
        origin: offset.map(|offset| Origin {
            topic: "t".into(),
            partition: 0,
            offset,
        }),
        ..Record::empty()
    };
    let mut stale = PostgresSink::open(&cfg, "shared").await.expect("opens");
    let mut current = PostgresSink::open(&cfg, "shared").await.expect("opens");
    let first = Batch::from_records(&[
        record(Some(0), 1, "a"),
        record(Some(1), 2, "b"),
        record(Some(2), 1, "c"),
    ]);
    let (rejected, _) = current.send(&first).await.expect("applies");
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(table(&pg, "SELECT id, v FROM kv ORDER BY id"), "1|c\n2|b");

    table(&pg, "UPDATE kv SET v = 'edited by hand'");
    stale.send(&first).await.expect("skips");
    assert_eq!(
        table(&pg, "SELECT id, v FROM kv ORDER BY id"),
        "1|edited by hand\n2|edited by hand"
    );
    let overlapping = Batch::from_records(&[record(Some(2), 1, "c"), record(Some(3), 3, "d")]);
    stale
        .send(&overlapping)
        .await
        .expect("applies the new record");
    assert_eq!(
        table(&pg, "SELECT id, v FROM kv ORDER BY id"),
        "1|edited by hand\n2|edited by hand\n3|d"
    );
    assert_eq!(
        table(
            &pg,
            "SELECT topic, kafka_partition, next_offset FROM weir_sink_offsets WHERE connector = 'shared'"
        ),
        "t|0|4"
    );
    let unplaced = Batch::from_records(&[record(None, 1, "x")]);
    stale.send(&unplaced).await.expect("applies");
    assert_eq!(table(&pg, "SELECT v FROM kv WHERE id = 1"), "x");
}

/// The `weir plan` line of `sink` (a `[sink.postgres]` table body).
fn plan_line(pg: &PgServer, sink: &str) -> (Level, String) {
    let (_dir, loaded) = connector(&sink_toml(pg, "plan", "plan", "t", sink));
    let cx = weir::connectors::DescribeContext {
        name: "plan",
        topics: None,
        kafka: &loaded.connector.kafka,
    };
    let postgres = loaded
        .connector
        .sink
        .postgres
        .as_ref()
        .expect("a postgres sink");
    postgres.describe(&cx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_says_what_the_table_offers_an_upsert() {
    let pg = PgServer::start();
    table(&pg, "CREATE TABLE users (id int PRIMARY KEY, email text)");
    table(&pg, "CREATE TABLE log (at timestamptz, line text)");

    let (level, line) = plan_line(&pg, "table = \"users\"");
    assert_eq!(level, Level::Ok, "{line}");
    assert!(
        line.contains("public.users") && line.contains("primary key (id)"),
        "{line}"
    );

    let (level, line) = plan_line(&pg, "table = \"products\"");
    assert_eq!(level, Level::Error, "{line}");
    assert!(
        line.contains("does not exist") && line.contains("auto_create"),
        "{line}"
    );
    let (level, _) = plan_line(&pg, "table = \"products\"\nauto_create = true");
    assert_eq!(level, Level::Ok);

    let (level, line) = plan_line(&pg, "table = \"log\"");
    assert_eq!(level, Level::Error, "{line}");
    assert!(line.contains("no primary key"), "{line}");

    let (level, line) = plan_line(&pg, "table = \"users\"\nkey = [\"email\"]");
    assert_eq!(level, Level::Error, "{line}");
    assert!(line.contains("unique index"), "{line}");
    table(&pg, "CREATE UNIQUE INDEX ON users (email)");
    let (level, line) = plan_line(&pg, "table = \"users\"\nkey = [\"email\"]");
    assert_eq!(level, Level::Ok, "{line}");
    assert!(line.contains("unique index over (email)"), "{line}");

    let url = pg.url(DB).replace(pg_server::PASSWORD, "wrong");
    let (_dir, loaded) = connector(&format!(
        "name = \"plan\"\n[source.kafka]\ntopic = \"t\"\n[sink.postgres]\nurl = \"{url}\"\ntable = \"users\"\n"
    ));
    let cx = weir::connectors::DescribeContext {
        name: "plan",
        topics: None,
        kafka: &loaded.connector.kafka,
    };
    let (level, line) = loaded
        .connector
        .sink
        .postgres
        .as_ref()
        .expect("sink")
        .describe(&cx);
    assert_eq!(level, Level::Error, "{line}");
    assert!(!line.contains("wrong"), "the password is not shown: {line}");
}
