//! `[source.postgres_cdc]`: change data capture from PostgreSQL over logical
//! replication. A first start creates the replication slot with an exported
//! snapshot, reads the tables in that snapshot (`op = "r"`), then streams
//! every change committed after it, in commit order, as Debezium-style
//! envelopes keyed by primary key, with a tombstone after each delete.
//!
//! The position in a checkpoint is the end LSN of the last transaction handed
//! on; it is confirmed to the server (which may then recycle its WAL) only
//! once that checkpoint is durable. A restart streams from the slot's
//! confirmed position: the transactions after the last checkpoint come again
//! (at-least-once), nothing is lost.

mod config;
mod pgoutput;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::future::BoxFuture;
use pgwire_replication::client::{ReplicationClient, ReplicationEvent};
use pgwire_replication::config::{ReplicationConfig, TlsConfig};
use pgwire_replication::lsn::Lsn;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::{RecoverContext, Source, SourceError};
use crate::postgres::{PgError, PgUrl, SslMode, Table, error_text, quote_ident, types};
use crate::record::{Batch, now_ms};
use crate::state::SourcePosition;
use pgoutput::{Datum, Message, OldRow, Relation};

pub use config::PostgresCdcSourceConfig;

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// How long an empty batch waits for a change before the pipeline looks
/// around (checkpoints, triggers) and asks again.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// Failed connection attempts in a row after which the source gives up.
const MAX_FAILURES: u32 = 10;

/// The cursor the snapshot reads a table with.
const CURSOR: &str = "weir_snapshot";

/// Where the source is: after the snapshot, the end of the last transaction
/// handed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    lsn: u64,
    snapshot_done: bool,
}

/// One change, ready to become a record (and a tombstone after a delete).
struct Change {
    key: Vec<u8>,
    value: Vec<u8>,
    delete: bool,
    ts_ms: i64,
    /// Set on a transaction's last change: the position once it is handed on.
    ends: Option<Position>,
}

enum State {
    /// Opened; connects on the first batch (after a restore, from its position).
    Idle {
        resume: Option<Position>,
    },
    /// Reading the tables in the slot's exported snapshot; streaming starts after.
    Snapshot {
        sql: tokio_postgres::Client,
        stream: ReplicationClient,
        tables: VecDeque<Table>,
        consistent: u64,
    },
    Streaming {
        stream: ReplicationClient,
    },
}

/// A transaction being received: its changes wait for its commit.
struct OpenTx {
    xid: u32,
    final_lsn: u64,
    ts_ms: i64,
    changes: Vec<Change>,
}

pub struct PostgresCdcSource {
    url: PgUrl,
    tables: Vec<(String, String)>,
    slot: String,
    publication: String,
    batch_size: usize,
    connector: String,
    state: State,
    /// What a checkpoint taken now covers.
    taken: Position,
    /// The last durable checkpoint's LSN: what the server is told is
    /// flushed, also on a new connection (never `taken`, which may be lost).
    confirmed: u64,
    /// Each table's primary key columns, from the catalog: the record key
    /// (pgoutput flags every column as key under `REPLICA IDENTITY FULL`).
    keys: HashMap<(String, String), Vec<String>>,
    relations: HashMap<u32, Relation>,
    tx: Option<OpenTx>,
    /// Changes of committed transactions not handed on yet.
    ready: VecDeque<Change>,
    /// Types already warned about (their values go on as text).
    unknown_types: HashSet<u32>,
    /// Failures in a row, and when to connect again.
    failures: u32,
    retry_at: Option<tokio::time::Instant>,
}

impl PostgresCdcSource {
    fn new(
        url: PgUrl,
        tables: Vec<(String, String)>,
        slot: String,
        publication: String,
        batch_size: usize,
        connector: &str,
    ) -> Self {
        PostgresCdcSource {
            url,
            tables,
            slot,
            publication,
            batch_size,
            connector: connector.to_string(),
            state: State::Idle { resume: None },
            taken: Position::default(),
            confirmed: 0,
            keys: HashMap::new(),
            relations: HashMap::new(),
            tx: None,
            ready: VecDeque::new(),
            unknown_types: HashSet::new(),
            failures: 0,
            retry_at: None,
        }
    }

    fn err(&self, action: impl Into<String>, reason: impl std::fmt::Display) -> SourceError {
        pg_err(self.url.error(action, reason))
    }

    /// The replication session's settings; `start` is where streaming begins
    /// (`Lsn::ZERO`: the slot's confirmed position).
    fn replication(&self, start: Lsn) -> ReplicationConfig {
        let u = &self.url;
        let tls = match u.ssl {
            SslMode::Disable => TlsConfig::disabled(),
            SslMode::Verify => TlsConfig::verify_full(u.root_cert.clone().map(Into::into)),
        };
        ReplicationConfig::new(
            u.host.clone(),
            u.user.clone(),
            u.password.clone(),
            u.db.clone(),
            self.slot.clone(),
            self.publication.clone(),
        )
        .with_port(u.port)
        .with_tls(tls)
        .with_start_lsn(start)
        .with_ack_lsn(Lsn(self.confirmed))
        .with_application_name(format!("weir {}", self.connector))
        .with_options("-c TimeZone=UTC -c DateStyle=ISO")
    }

    /// Connects: the publication made when missing, then either streaming
    /// from a restored position or a new slot and its snapshot.
    async fn start(&mut self, resume: Option<Position>) -> Result<(), SourceError> {
        let sql = self.url.connect().await.map_err(pg_err)?;
        self.ensure_publication(&sql).await?;
        let slot_exists = self
            .exists(&sql, "pg_replication_slots WHERE slot_name", &self.slot)
            .await?;
        for (schema, name) in self.tables.clone() {
            let key = self.table(&sql, &schema, &name).await?.key;
            self.keys.insert((schema, name), key);
        }
        if let Some(position) = resume {
            if !slot_exists {
                return Err(self.err(
                    format!("resume from slot `{}`", self.slot),
                    "the slot is gone, so the changes since the last checkpoint are too; remove this connector's checkpoint to take a new snapshot",
                ));
            }
            let mut stream = ReplicationClient::connect(self.replication(Lsn(position.lsn)))
                .await
                .map_err(|e| self.err("start replication", e))?;
            // The slot may be in use by another process, or refuse the position.
            stream
                .wait_started()
                .await
                .map_err(|e| self.err("start replication", e))?;
            tracing::info!(connector = %self.connector, slot = %self.slot, lsn = %Lsn(position.lsn).to_pg_string(), "Streaming changes from the checkpoint's position.");
            self.taken = position;
            self.state = State::Streaming { stream };
            return Ok(());
        }
        if slot_exists {
            tracing::info!(connector = %self.connector, slot = %self.slot, "No checkpoint: the old replication slot is dropped and a new snapshot taken.");
            sql.execute("SELECT pg_drop_replication_slot($1)", &[&self.slot])
                .await
                .map_err(|e| self.err("drop the old replication slot", error_text(&e)))?;
        }
        let mut stream = ReplicationClient::connect_gated(self.replication(Lsn::ZERO))
            .await
            .map_err(|e| self.err("open a replication session", e))?;
        let created = stream
            .simple_query(&format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT",
                self.slot
            ))
            .await
            .map_err(|e| self.err("create the replication slot", e))?;
        let text = |i: usize| {
            created
                .first()
                .and_then(|row| row.get(i).cloned().flatten())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let (Some(consistent), Some(snapshot)) = (text(1), text(2)) else {
            return Err(self.err("create the replication slot", "the server sent no snapshot"));
        };
        let consistent = Lsn::parse(&consistent)
            .map_err(|e| self.err("read the slot's consistent point", e.0))?
            .0;
        sql.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await
        .map_err(|e| self.err("open the snapshot", error_text(&e)))?;
        // The columns as the snapshot sees them.
        let mut tables = VecDeque::new();
        for (schema, name) in &self.tables {
            tables.push_back(self.table(&sql, schema, name).await?);
        }
        tracing::info!(connector = %self.connector, slot = %self.slot, tables = ?self.tables, "Replication slot created; reading the tables' snapshot.");
        self.state = State::Snapshot {
            sql,
            stream,
            tables,
            consistent,
        };
        Ok(())
    }

    /// Whether `SELECT 1 FROM {place} = name` finds a row (a slot, a
    /// publication).
    async fn exists(
        &self,
        sql: &tokio_postgres::Client,
        place: &str,
        name: &str,
    ) -> Result<bool, SourceError> {
        let rows = sql
            .query(&format!("SELECT 1 FROM {place} = $1"), &[&name])
            .await
            .map_err(|e| self.err(format!("look up `{name}`"), error_text(&e)))?;
        Ok(!rows.is_empty())
    }

    async fn ensure_publication(&self, sql: &tokio_postgres::Client) -> Result<(), SourceError> {
        if self
            .exists(sql, "pg_publication WHERE pubname", &self.publication)
            .await?
        {
            return Ok(());
        }
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(s, t)| format!("{}.{}", quote_ident(s), quote_ident(t)))
            .collect();
        sql.batch_execute(&format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            self.publication,
            tables.join(", ")
        ))
        .await
        .map_err(|e| self.err("create the publication", error_text(&e)))?;
        tracing::info!(connector = %self.connector, publication = %self.publication, "Publication created.");
        Ok(())
    }

    async fn table(
        &self,
        sql: &tokio_postgres::Client,
        schema: &str,
        name: &str,
    ) -> Result<Table, SourceError> {
        match Table::load(sql, &self.url, schema, name)
            .await
            .map_err(pg_err)?
        {
            Some(t) if !t.key.is_empty() => Ok(t),
            Some(_) => Err(self.err(
                format!("read {schema}.{name}"),
                "the table has no primary key; add one (changes are keyed by it)",
            )),
            None => Err(self.err(format!("read {schema}.{name}"), "the table does not exist")),
        }
    }

    /// The next rows of the snapshot as `r` changes; streaming starts once
    /// every table is read.
    async fn snapshot_step(&mut self) -> Result<(), SourceError> {
        let State::Snapshot { sql, tables, .. } = &mut self.state else {
            return Ok(());
        };
        let Some(table) = tables.front().cloned() else {
            return self.begin_streaming().await;
        };
        let fetched = async {
            if !table_open(sql).await? {
                sql.batch_execute(&format!(
                    "DECLARE {CURSOR} CURSOR FOR SELECT * FROM {}",
                    table.sql_name()
                ))
                .await?;
            }
            sql.simple_query(&format!("FETCH {} FROM {CURSOR}", self.batch_size))
                .await
        }
        .await
        .map_err(|e| {
            self.url
                .error(format!("read {}", table.display_name()), error_text(&e))
        });
        let rows: Vec<tokio_postgres::SimpleQueryRow> = fetched
            .map_err(pg_err)?
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .collect();
        let now = now_ms();
        for row in &rows {
            if row.len() != table.columns.len() {
                return Err(self.err(
                    format!("read {}", table.display_name()),
                    "its columns changed while the snapshot was read; start the connector again",
                ));
            }
            let values: Vec<Datum> = (0..table.columns.len())
                .map(|i| match row.get(i) {
                    Some(t) => Datum::Text(t.to_string()),
                    None => Datum::Null,
                })
                .collect();
            let columns: Vec<(&str, u32, bool)> = table
                .columns
                .iter()
                .map(|c| (c.name.as_str(), c.type_oid, table.key.contains(&c.name)))
                .collect();
            let after = self.row(&columns, &values);
            let key = key_of(&columns, &values, self);
            let value = json!({
                "before": null,
                "after": after,
                "op": "r",
                "ts_ms": now,
                "source": {
                    "connector": "postgresql", "db": self.url.db, "schema": table.schema,
                    "table": table.name, "lsn": null, "txId": null, "snapshot": true,
                },
            });
            self.ready.push_back(Change {
                key,
                value: value.to_string().into_bytes(),
                delete: false,
                ts_ms: now,
                ends: None,
            });
        }
        if rows.len() < self.batch_size
            && let State::Snapshot { sql, tables, .. } = &mut self.state
        {
            sql.batch_execute(&format!("CLOSE {CURSOR}"))
                .await
                .map_err(|e| pg_err(self.url.error("close the snapshot cursor", error_text(&e))))?;
            tables.pop_front();
            tracing::info!(connector = %self.connector, table = %table.display_name(), "Table snapshot read.");
            if tables.is_empty() {
                // The last row read carries the position that says the
                // snapshot is done.
                return self.begin_streaming().await;
            }
        }
        Ok(())
    }

    /// The snapshot is read: its transaction ends and the stream starts at
    /// the slot's consistent point, right after it.
    async fn begin_streaming(&mut self) -> Result<(), SourceError> {
        let State::Snapshot {
            sql,
            mut stream,
            consistent,
            ..
        } = std::mem::replace(&mut self.state, State::Idle { resume: None })
        else {
            return Ok(());
        };
        sql.batch_execute("COMMIT")
            .await
            .map_err(|e| self.err("end the snapshot", error_text(&e)))?;
        stream
            .start()
            .await
            .map_err(|e| self.err("start replication", e))?;
        stream
            .wait_started()
            .await
            .map_err(|e| self.err("start replication", e))?;
        let done = Position {
            lsn: consistent,
            snapshot_done: true,
        };
        // The snapshot's last row carries the position that says it is done.
        match self.ready.back_mut() {
            Some(last) => last.ends = Some(done),
            None => self.taken = done,
        }
        self.state = State::Streaming { stream };
        tracing::info!(connector = %self.connector, lsn = %Lsn(consistent).to_pg_string(), "Snapshot done; streaming changes.");
        Ok(())
    }

    /// Waits up to [`IDLE_WAIT`] for replication events and takes them in.
    async fn stream_step(&mut self, stop: &CancellationToken) -> Result<(), SourceError> {
        let deadline = tokio::time::Instant::now() + IDLE_WAIT;
        loop {
            let State::Streaming { stream } = &mut self.state else {
                return Ok(());
            };
            let event = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(deadline) => return Ok(()),
                e = stream.recv() => e,
            };
            let event = event.map_err(|e| self.err("receive changes", e))?;
            let Some(event) = event else {
                return Err(self.err("receive changes", "the server ended replication"));
            };
            self.take_event(event)?;
            if self.ready.len() >= self.batch_size {
                return Ok(());
            }
        }
    }

    fn take_event(&mut self, event: ReplicationEvent) -> Result<(), SourceError> {
        match event {
            ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            } => {
                self.tx = Some(OpenTx {
                    xid,
                    final_lsn: final_lsn.0,
                    ts_ms: PG_EPOCH_MS + commit_time_micros / 1000,
                    changes: Vec::new(),
                });
            }
            ReplicationEvent::XLogData { data, .. } => {
                let message =
                    pgoutput::decode(&data).map_err(|e| self.err("decode a change", e))?;
                self.take_message(message);
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                if let Some(mut tx) = self.tx.take() {
                    let end = Position {
                        lsn: end_lsn.0,
                        snapshot_done: true,
                    };
                    match tx.changes.last_mut() {
                        Some(last) => last.ends = Some(end),
                        // A transaction with no change of ours moves the
                        // position when nothing is waiting.
                        None if self.ready.is_empty() => self.taken = end,
                        None => {}
                    }
                    self.ready.extend(tx.changes);
                }
            }
            // Nothing of ours is pending: the position follows the server,
            // so a quiet table does not hold the server's WAL back.
            ReplicationEvent::KeepAlive { wal_end, .. }
                if self.tx.is_none() && self.ready.is_empty() && self.taken.snapshot_done =>
            {
                self.taken.lsn = self.taken.lsn.max(wal_end.0);
            }
            _ => {}
        }
        Ok(())
    }

    fn take_message(&mut self, message: Message) {
        match message {
            Message::Relation(r) => {
                for c in &r.columns {
                    if !types::is_known(c.type_oid) && self.unknown_types.insert(c.type_oid) {
                        tracing::warn!(connector = %self.connector, table = %r.table, column = %c.name, type_oid = c.type_oid, "A column of a type weir does not map: its values go on as text.");
                    }
                }
                self.relations.insert(r.id, r);
            }
            Message::Insert { relation, new } => self.change(relation, "c", None, Some(&new)),
            Message::Update { relation, old, new } => {
                self.change(relation, "u", old.as_ref(), Some(&new))
            }
            Message::Delete { relation, old } => self.change(relation, "d", Some(&old), None),
            Message::Truncate => {
                tracing::warn!(connector = %self.connector, "A table was truncated: the change log has no event for it; its rows stay in downstream replicas.");
            }
            Message::Other(_) => {}
        }
    }

    /// One change of the open transaction as envelopes. An update that
    /// changes the primary key becomes a delete of the old key (with its
    /// tombstone) and a create of the new one, as Debezium does, so a
    /// compacted topic and a replica forget the old key.
    fn change(&mut self, relation: u32, op: &str, old: Option<&OldRow>, new: Option<&Vec<Datum>>) {
        let Some(rel) = self.relations.get(&relation) else {
            return;
        };
        let pk = self.keys.get(&(rel.schema.clone(), rel.table.clone()));
        let columns: Vec<(&str, u32, bool)> = rel
            .columns
            .iter()
            .map(|c| {
                let key = pk.map_or(c.key, |k| k.iter().any(|n| n == &c.name));
                (c.name.as_str(), c.type_oid, key)
            })
            .collect();
        let old_image = old.map(|o| match o.full {
            true => self.row(&columns, &o.values),
            false => self.key_row(&columns, &o.values),
        });
        let mut changes = Vec::new();
        match (op, old, new) {
            ("u", Some(o), Some(n))
                if self.key_row(&columns, &o.values) != self.key_row(&columns, n) =>
            {
                let old_key = self.key_row(&columns, &o.values);
                changes.push(self.envelope(rel, &old_key, old_image, None, "d"));
                changes.push(self.envelope(
                    rel,
                    &self.key_row(&columns, n),
                    None,
                    Some(self.row(&columns, n)),
                    "c",
                ));
            }
            _ => {
                let before = match (old_image, new) {
                    (Some(image), _) => Some(image),
                    // An update without an old row: its key did not change.
                    (None, Some(values)) if op == "u" => Some(self.key_row(&columns, values)),
                    (None, _) => None,
                };
                let key_values = new.or(old.map(|o| &o.values)).map_or(&[][..], |v| &v[..]);
                let after = new.map(|values| self.row(&columns, values));
                changes.push(self.envelope(
                    rel,
                    &self.key_row(&columns, key_values),
                    before,
                    after,
                    op,
                ));
            }
        }
        if let Some(tx) = &mut self.tx {
            tx.changes.extend(changes.into_iter().flatten());
        }
    }

    /// A change of the open transaction: key, envelope, and whether a
    /// tombstone follows; `None` outside a transaction.
    fn envelope(
        &self,
        rel: &Relation,
        key: &Value,
        before: Option<Value>,
        after: Option<Value>,
        op: &str,
    ) -> Option<Change> {
        let tx = self.tx.as_ref()?;
        let value = json!({
            "before": before,
            "after": after,
            "op": op,
            "ts_ms": tx.ts_ms,
            "source": {
                "connector": "postgresql", "db": self.url.db, "schema": rel.schema,
                "table": rel.table, "lsn": tx.final_lsn, "txId": tx.xid, "snapshot": false,
            },
        });
        Some(Change {
            key: key.to_string().into_bytes(),
            value: value.to_string().into_bytes(),
            delete: op == "d",
            ts_ms: tx.ts_ms,
            ends: None,
        })
    }

    /// A row as a JSON object; unchanged TOASTed values are left out.
    fn row(&self, columns: &[(&str, u32, bool)], values: &[Datum]) -> Value {
        let mut out = Map::new();
        for ((name, oid, _), datum) in columns.iter().zip(values) {
            match datum {
                Datum::Null => {
                    out.insert((*name).to_string(), Value::Null);
                }
                Datum::Text(t) => {
                    out.insert((*name).to_string(), types::to_json(*oid, t));
                }
                Datum::Unchanged => {}
            }
        }
        Value::Object(out)
    }

    /// The key columns of a row as a JSON object.
    fn key_row(&self, columns: &[(&str, u32, bool)], values: &[Datum]) -> Value {
        let mut out = Map::new();
        for ((name, oid, key), datum) in columns.iter().zip(values) {
            if let (true, Datum::Text(t)) = (key, datum) {
                out.insert((*name).to_string(), types::to_json(*oid, t));
            }
        }
        Value::Object(out)
    }

    /// Hands on up to `max` ready changes (each delete followed by its
    /// tombstone); the position moves with each whole transaction.
    fn drain(&mut self, max: usize) -> Batch {
        let mut batch = Batch::default();
        while batch.len() < max {
            let Some(c) = self.ready.pop_front() else {
                break;
            };
            batch.push(
                Some(&c.key),
                Some(&c.value),
                crate::record::NO_HEADERS,
                c.ts_ms,
                None,
            );
            if c.delete {
                batch.push(Some(&c.key), None, crate::record::NO_HEADERS, c.ts_ms, None);
            }
            if let Some(end) = c.ends {
                self.taken = end;
            }
        }
        batch
    }
}

impl PostgresCdcSource {
    /// Connects if need be, then reads what is there: snapshot rows, or
    /// changes from the stream.
    async fn step(&mut self, stop: &CancellationToken) -> Result<(), SourceError> {
        if let State::Idle { resume } = &self.state {
            let resume = *resume;
            self.start(resume).await?;
        }
        if self.ready.is_empty() {
            match &self.state {
                State::Snapshot { .. } => self.snapshot_step().await?,
                State::Streaming { .. } => self.stream_step(stop).await?,
                State::Idle { .. } => {}
            }
        }
        Ok(())
    }

    /// A lost connection (a server restart, a network outage) is retried
    /// with a growing wait, from the last transaction handed on (a snapshot
    /// cut short starts over); after [`MAX_FAILURES`] in a row the error
    /// stops the connector, whose checkpoint still holds its position.
    fn fail(&mut self, e: SourceError) -> Result<(), SourceError> {
        self.failures += 1;
        if self.failures >= MAX_FAILURES || !is_connection(&e) {
            return Err(e);
        }
        let wait = Duration::from_millis(500 << self.failures.min(6)).min(Duration::from_secs(30));
        tracing::warn!(connector = %self.connector, error = %e, failures = self.failures, retry_in_ms = wait.as_millis() as u64, "PostgreSQL replication failed; reconnecting.");
        if let State::Streaming { stream } | State::Snapshot { stream, .. } = &self.state {
            stream.stop();
        }
        // What was received but not handed on comes again after the reconnect.
        self.ready.clear();
        self.tx = None;
        self.state = State::Idle {
            resume: self.taken.snapshot_done.then_some(self.taken),
        };
        self.retry_at = Some(tokio::time::Instant::now() + wait);
        Ok(())
    }
}

/// The key of a change: `{"<pk>": …}` of its row.
fn key_of(columns: &[(&str, u32, bool)], values: &[Datum], source: &PostgresCdcSource) -> Vec<u8> {
    source.key_row(columns, values).to_string().into_bytes()
}

/// Whether the snapshot cursor is open in this session.
async fn table_open(sql: &tokio_postgres::Client) -> Result<bool, tokio_postgres::Error> {
    let row = sql
        .query_one(
            "SELECT count(*) > 0 FROM pg_cursors WHERE name = $1",
            &[&CURSOR],
        )
        .await?;
    Ok(row.get(0))
}

/// The server could not be reached or dropped the connection (not: a table
/// that is gone, a slot in use).
fn is_connection(e: &SourceError) -> bool {
    match e {
        SourceError::Connector { source, .. } => source
            .downcast_ref::<PgError>()
            .is_some_and(PgError::is_connection),
        _ => false,
    }
}

fn pg_err(e: PgError) -> SourceError {
    SourceError::Connector {
        kind: "postgres_cdc",
        source: Box::new(e),
    }
}

impl Source for PostgresCdcSource {
    fn kind(&self) -> &'static str {
        "postgres_cdc"
    }

    fn next_batch<'a>(
        &'a mut self,
        max: usize,
        stop: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Option<Batch>, SourceError>> {
        Box::pin(async move {
            let max = max.min(self.batch_size).max(1);
            if let Some(at) = self.retry_at {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(Some(Batch::default())),
                    _ = tokio::time::sleep_until(at) => self.retry_at = None,
                }
            }
            match self.step(stop).await {
                Ok(()) => self.failures = 0,
                Err(e) => self.fail(e)?,
            }
            Ok(Some(self.drain(max)))
        })
    }

    fn can_replay(&self) -> bool {
        true
    }

    fn position(&self) -> Option<SourcePosition> {
        Some(SourcePosition {
            kind: "postgres_cdc".into(),
            // Two plain fields always serialize.
            bytes: serde_json::to_vec(&self.taken).unwrap_or_default(),
        })
    }

    fn recover<'a>(
        &'a mut self,
        position: &'a SourcePosition,
        _cx: &'a RecoverContext<'a>,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            if position.kind != "postgres_cdc" {
                return Ok(());
            }
            let p: Position =
                serde_json::from_slice(&position.bytes).map_err(|e| SourceError::Position {
                    kind: "postgres_cdc",
                    reason: e.to_string(),
                })?;
            // A snapshot cut short is taken again from the start.
            self.state = State::Idle {
                resume: p.snapshot_done.then_some(p),
            };
            if p.snapshot_done {
                self.taken = p;
                self.confirmed = p.lsn;
            }
            Ok(())
        })
    }

    /// The server may recycle WAL up to a durable checkpoint's position.
    fn commit(&mut self, position: &SourcePosition) -> Result<(), SourceError> {
        let Ok(p) = serde_json::from_slice::<Position>(&position.bytes) else {
            return Ok(());
        };
        if p.snapshot_done {
            self.confirmed = self.confirmed.max(p.lsn);
            if let State::Streaming { stream } = &self.state {
                stream.update_applied_lsn(Lsn(p.lsn));
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SourceError> {
        if let State::Streaming { stream } | State::Snapshot { stream, .. } = &self.state {
            stream.stop();
        }
        Ok(())
    }
}
