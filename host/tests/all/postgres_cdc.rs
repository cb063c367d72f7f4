//! `[source.postgres_cdc]` against a real PostgreSQL (started by the test):
//! a snapshot, then a workload of inserts, updates and deletes, as a change
//! log in Kafka that replays into the same table; and a SIGKILL mid-stream
//! that loses nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::pg_server::PgServer;

const TOPIC: &str = "pg.public.users";

const TABLE: &str = "CREATE TABLE users (
    id int PRIMARY KEY,
    name text NOT NULL,
    balance numeric(12,2),
    active bool,
    tags text[],
    meta jsonb,
    seen timestamptz,
    ref uuid
)";

fn cdc_toml(pg: &PgServer, name: &str) -> String {
    format!(
        "name = \"{name}\"\n[source.postgres_cdc]\nurl = \"{}\"\ntables = [\"public.users\"]\n[sink.kafka]\ntopic = \"{TOPIC}\"\n[checkpoint]\ninterval_ms = 200\n",
        pg.url("postgres")
    )
}

/// Rows `from..=to` inserted in one statement.
fn insert(pg: &PgServer, from: i32, to: i32) {
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO users SELECT i, 'user ' || i, i * 1.25, i % 2 = 0, ARRAY['t' || i, 'x y'], jsonb_build_object('n', i), '2026-12-06 10:00:00+00'::timestamptz + i * interval '1 minute', NULL FROM generate_series({from}, {to}) i"
        ),
    );
}

/// The workload after the snapshot: 200 inserts, an update of every third
/// row, a delete of every seventh.
fn workload(pg: &PgServer) {
    insert(pg, 101, 300);
    pg.psql(
        "postgres",
        "UPDATE users SET balance = balance + 100, name = name || ' (updated)' WHERE id % 3 = 0",
    );
    pg.psql("postgres", "DELETE FROM users WHERE id % 7 = 0");
}

/// `id → (name, balance)` of the table, as psql prints it.
fn table_rows(pg: &PgServer) -> BTreeMap<i64, (String, String)> {
    pg.psql(
        "postgres",
        "SELECT id, name, balance::text FROM users ORDER BY id",
    )
    .lines()
    .map(|l| {
        let mut f = l.split('|');
        let id = f.next().and_then(|s| s.parse().ok()).expect("id");
        let name = f.next().expect("name").to_string();
        let balance = f.next().expect("balance").to_string();
        (id, (name, balance))
    })
    .collect()
}

/// The change log replayed into a table. With `strict`, a create of a key
/// that exists, or an update or delete of one that does not, fails the test.
fn replay(log: &[Seen], strict: bool) -> BTreeMap<i64, (String, String)> {
    let mut table = BTreeMap::new();
    for s in log {
        let key: Value = serde_json::from_slice(s.key.as_deref().expect("key")).expect("key JSON");
        let id = key["id"].as_i64().expect("key id");
        let Some(value) = &s.value else { continue };
        let v: Value = serde_json::from_slice(value).expect("envelope JSON");
        let row = |r: &Value| {
            (
                r["name"].as_str().expect("name").to_string(),
                r["balance"]
                    .as_str()
                    .expect("numeric as a string")
                    .to_string(),
            )
        };
        match v["op"].as_str().expect("op") {
            "r" | "c" => {
                let had = table.insert(id, row(&v["after"]));
                assert!(!strict || had.is_none(), "create of existing key {id}");
            }
            "u" => {
                let had = table.insert(id, row(&v["after"]));
                assert!(!strict || had.is_some(), "update of unknown key {id}");
            }
            "d" => {
                let had = table.remove(&id);
                assert!(!strict || had.is_some(), "delete of unknown key {id}");
            }
            op => panic!("unknown op {op}"),
        }
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_changes_replay_into_the_same_table() {
    let pg = PgServer::start();
    pg.psql("postgres", TABLE);
    insert(&pg, 1, 100);
    pg.psql(
        "postgres",
        "UPDATE users SET ref = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', tags = '{}' WHERE id = 1",
    );
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    // Created first, so the test's consumer never races the host for it.
    create_topic(&bootstrap, TOPIC, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("pgcdc.toml");
    std::fs::write(&toml, cdc_toml(&pg, "pgcdc")).expect("write");
    let state = dir.path().join("state");
    let run = weir_run(&toml, &bootstrap, &state, &[]);

    // The snapshot: 100 rows as `r`, typed.
    let snapshot = consume(&bootstrap, TOPIC, 100, Duration::from_secs(30)).await;
    assert_eq!(snapshot.len(), 100, "snapshot rows");
    let first = snapshot
        .iter()
        .map(|s| serde_json::from_slice::<Value>(s.value.as_deref().expect("value")).expect("json"))
        .find(|v| v["after"]["id"] == 1)
        .expect("row 1");
    assert_eq!(first["op"], "r");
    assert_eq!(first["source"]["snapshot"], true);
    assert_eq!(
        first["after"],
        serde_json::json!({
            "id": 1, "name": "user 1", "balance": "1.25", "active": false,
            "tags": [], "meta": {"n": 1}, "seen": "2026-12-06T10:01:00Z",
            "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        })
    );

    workload(&pg);
    // 100 + 200 creates + 100 updates + 42 deletes with their tombstones.
    let want = 100 + 200 + 100 + 42 * 2;
    let log = consume(&bootstrap, TOPIC, want, Duration::from_secs(30)).await;
    assert_eq!(log.len(), want, "change log length");
    assert_eq!(replay(&log, true), table_rows(&pg));
    let update = log
        .iter()
        .filter_map(|s| s.value.as_deref())
        .map(|v| serde_json::from_slice::<Value>(v).expect("json"))
        .find(|v| v["op"] == "u")
        .expect("an update");
    // Without REPLICA IDENTITY FULL, `before` holds the key only.
    assert_eq!(update["before"].as_object().map(|o| o.len()), Some(1));
    assert_eq!(update["source"]["snapshot"], false);
    assert!(update["source"]["txId"].as_u64().is_some());

    // The checkpoint's position reaches the server once it is durable.
    let confirmed = || {
        pg.psql(
            "postgres",
            "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = 'weir_pgcdc'",
        )
        .parse::<i64>()
        .unwrap_or(0)
    };
    let after_snapshot = confirmed();
    // With REPLICA IDENTITY FULL, `before` is the whole old row.
    pg.psql("postgres", "ALTER TABLE users REPLICA IDENTITY FULL");
    pg.psql(
        "postgres",
        "UPDATE users SET active = NOT active WHERE id = 1",
    );
    let log = consume(&bootstrap, TOPIC, want + 1, Duration::from_secs(30)).await;
    let (key, last) = log
        .iter()
        .filter_map(|s| Some((s.key.as_deref()?, s.value.as_deref()?)))
        .map(|(k, v)| (k, serde_json::from_slice::<Value>(v).expect("json")))
        .find(|(_, v)| v["op"] == "u" && v["after"]["id"] == 1 && v["after"]["active"] == true)
        .expect("the update of row 1");
    // The key stays the primary key (pgoutput marks every column under FULL).
    assert_eq!(key, br#"{"id":1}"#);
    assert_eq!(last["before"]["active"], false);
    assert_eq!(last["after"]["active"], true);
    assert_eq!(last["before"]["name"], "user 1");
    assert!(
        eventually(|| confirmed() > after_snapshot).await,
        "the slot's confirmed LSN moves on"
    );
    kill(run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_stream_loses_nothing() {
    let pg = PgServer::start();
    pg.psql("postgres", TABLE);
    insert(&pg, 1, 100);
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    // Created first, so the test's consumer never races the host for it.
    create_topic(&bootstrap, TOPIC, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("pgkill.toml");
    std::fs::write(&toml, cdc_toml(&pg, "pgkill")).expect("write");
    let state = dir.path().join("state");
    let first = weir_run(&toml, &bootstrap, &state, &[]);
    let snapshot = consume(&bootstrap, TOPIC, 100, Duration::from_secs(30)).await;
    assert_eq!(snapshot.len(), 100);
    // Changes while the host runs, then a kill while more arrive.
    insert(&pg, 101, 200);
    let store = weir::state::CheckpointStore::new(&state, "pgkill");
    let done = |c: &weir::state::Checkpoint| {
        c.position.as_ref().is_some_and(|p| {
            serde_json::from_slice::<Value>(&p.bytes).is_ok_and(|v| v["snapshot_done"] == true)
        })
    };
    assert!(
        eventually(|| store.load().ok().flatten().is_some_and(|c| done(&c))).await,
        "a checkpoint after the snapshot"
    );
    pg.psql("postgres", "UPDATE users SET balance = 0 WHERE id % 3 = 0");
    kill(first);
    pg.psql("postgres", "DELETE FROM users WHERE id % 7 = 0");
    insert(&pg, 201, 300);

    // The restart streams from the checkpoint: everything arrives, some of
    // it twice (the transactions after the last checkpoint). The server is
    // down when it starts: it waits for it, and keeps its position (no
    // second snapshot).
    pg.stop();
    let second = weir_run(&toml, &bootstrap, &state, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.start_again();
    // 100 rows, 100 inserts, 66 updates, 28 deletes with tombstones, 100 inserts.
    let want = 100 + 100 + 66 + 28 * 2 + 100;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let log = loop {
        let log = consume(&bootstrap, TOPIC, usize::MAX, Duration::from_secs(3)).await;
        if log.len() >= want && replay(&log, false) == table_rows(&pg) {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change log ({} records) does not replay into the table",
            log.len()
        );
    };
    assert!(log.len() >= want);
    let snapshot_rows = log
        .iter()
        .filter_map(|s| s.value.as_deref())
        .filter(|v| serde_json::from_slice::<Value>(v).is_ok_and(|v| v["op"] == "r"))
        .count();
    assert_eq!(snapshot_rows, 100, "one snapshot, whatever the restarts");
    kill(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_stream_is_ridden_out() {
    let pg = PgServer::start();
    pg.psql("postgres", TABLE);
    insert(&pg, 1, 10);
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("pgbounce.toml");
    std::fs::write(&toml, cdc_toml(&pg, "pgbounce")).expect("write");
    let run = weir_run(&toml, &bootstrap, &dir.path().join("state"), &[]);
    assert_eq!(
        consume(&bootstrap, TOPIC, 10, Duration::from_secs(30))
            .await
            .len(),
        10
    );
    insert(&pg, 11, 20);
    pg.restart();
    insert(&pg, 21, 30);
    // Read until the log replays into the table (a reconnect may repeat a
    // transaction: at-least-once).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let log = consume(&bootstrap, TOPIC, usize::MAX, Duration::from_secs(3)).await;
        if log.len() >= 30 && replay(&log, false) == table_rows(&pg) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the same host does not go on after the restart ({} records)",
            log.len()
        );
    }
    kill(run);
}

/// Every row of `users` in `db`, as PostgreSQL prints it.
fn full_rows(pg: &PgServer, db: &str) -> String {
    pg.psql(db, "SELECT u::text FROM users u ORDER BY id")
}

fn replica_toml(pg: &PgServer) -> String {
    format!(
        "name = \"replica\"\n[source.kafka]\ntopic = \"{TOPIC}\"\nbatch_size = 40\nbatch_timeout_ms = 50\n[sink.postgres]\nurl = \"{}\"\ntable = \"public.users\"\n[checkpoint]\ninterval_ms = 200\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n",
        pg.url("replica")
    )
}

/// Waits until the replica holds the source's rows, row for row.
async fn converged(pg: &PgServer) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if full_rows(pg, "replica") == full_rows(pg, "postgres") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

/// The whole path: PostgreSQL → CDC → Kafka → upsert sink → another
/// database, with the sink's host and then the source's host SIGKILLed
/// while changes flow; the replica still equals the source row for row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_converges_row_for_row_through_sigkills() {
    let pg = PgServer::start();
    pg.psql("postgres", TABLE);
    insert(&pg, 1, 100);
    pg.psql("postgres", "CREATE DATABASE replica");
    pg.psql("replica", TABLE);
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cdc, replica) = (dir.path().join("cdc.toml"), dir.path().join("replica.toml"));
    std::fs::write(&cdc, cdc_toml(&pg, "pgrep")).expect("write");
    std::fs::write(&replica, replica_toml(&pg)).expect("write");
    let state = dir.path().join("state");
    let source = weir_run(&cdc, &bootstrap, &state, &[]);
    let sink = weir_run(&replica, &bootstrap, &state, &[]);
    assert!(converged(&pg).await, "the snapshot reaches the replica");

    // The sink's host dies while a batch of changes is on its way.
    insert(&pg, 101, 200);
    tokio::time::sleep(Duration::from_millis(150)).await;
    kill(sink);
    pg.psql(
        "postgres",
        "UPDATE users SET balance = balance * 2, active = NOT active WHERE id % 3 = 0",
    );
    let sink = weir_run(&replica, &bootstrap, &state, &[]);
    // Then the source's host, mid-stream.
    pg.psql("postgres", "DELETE FROM users WHERE id % 7 = 0");
    kill(source);
    insert(&pg, 201, 300);
    pg.psql(
        "postgres",
        "UPDATE users SET meta = meta || '{\"late\": true}', tags = NULL WHERE id % 5 = 0",
    );
    // A new primary key: the old row must leave the replica.
    pg.psql(
        "postgres",
        "UPDATE users SET id = id + 1000 WHERE id IN (2, 4)",
    );
    let source = weir_run(&cdc, &bootstrap, &state, &[]);
    if !converged(&pg).await {
        let mut sink = sink;
        let _ = sink.kill();
        let out = sink.wait_with_output().expect("sink log");
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        let (a, b) = (full_rows(&pg, "postgres"), full_rows(&pg, "replica"));
        let a: std::collections::BTreeSet<&str> = a.lines().collect();
        let b: std::collections::BTreeSet<&str> = b.lines().collect();
        let dlq = consume(
            &bootstrap,
            "replica.dlq",
            usize::MAX,
            Duration::from_secs(2),
        )
        .await;
        panic!(
            "the replica differs from the source after the kills:\nonly in source: {:?}\nonly in replica: {:?}\nDLQ: {:?}",
            a.difference(&b).take(5).collect::<Vec<_>>(),
            b.difference(&a).take(5).collect::<Vec<_>>(),
            dlq.iter().take(3).map(|s| &s.headers).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        pg.psql("replica", "SELECT count(*) FROM users"),
        pg.psql("postgres", "SELECT count(*) FROM users")
    );
    // The change log itself replays into the same table.
    let log = consume(&bootstrap, TOPIC, usize::MAX, Duration::from_secs(3)).await;
    assert_eq!(replay(&log, false), table_rows(&pg));
    kill(source);
    kill(sink);
}

/// A column's type changed mid-stream: the changes after it carry values of
/// the new type. A dropped table: nothing more arrives for it, and the next
/// start stops at once, saying which table is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_column_type_and_a_dropped_table_are_reported() {
    let pg = PgServer::start();
    pg.psql("postgres", TABLE);
    insert(&pg, 1, 5);
    let broker = broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("pgddl.toml");
    std::fs::write(&toml, cdc_toml(&pg, "pgddl")).expect("write");
    let state = dir.path().join("state");
    let mut run = weir_run(&toml, &bootstrap, &state, &[]);
    assert_eq!(
        consume(&bootstrap, TOPIC, 5, Duration::from_secs(30))
            .await
            .len(),
        5
    );

    pg.psql(
        "postgres",
        "ALTER TABLE users ALTER COLUMN active TYPE text USING active::text",
    );
    pg.psql(
        "postgres",
        "INSERT INTO users (id, name, active) VALUES (6, 'user 6', 'maybe')",
    );
    let log = consume(&bootstrap, TOPIC, 6, Duration::from_secs(30)).await;
    let six = log
        .iter()
        .filter_map(|s| s.value.as_deref())
        .map(|v| serde_json::from_slice::<Value>(v).expect("json"))
        .find(|v| v["after"]["id"] == 6)
        .expect("row 6");
    assert_eq!(six["after"]["active"], "maybe");

    pg.psql("postgres", "DROP TABLE users");
    // Let a checkpoint cover row 6, then stop the host.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        run.try_wait().expect("wait").is_none(),
        "the drop does not stop a running host"
    );
    signal(&run, "TERM");
    let _ = tokio::task::spawn_blocking(move || run.wait()).await;
    let again = weir_run(&toml, &bootstrap, &state, &[]);
    let out = tokio::task::spawn_blocking(move || again.wait_with_output())
        .await
        .expect("join")
        .expect("exit");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("public.users") && log.contains("does not exist"),
        "{log}"
    );
}
