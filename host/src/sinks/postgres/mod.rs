//! `[sink.postgres]`: records upserted into (or deleted from) a PostgreSQL
//! table, exactly once.
//!
//! A record is a Debezium-style change envelope, a tombstone or a plain row
//! (see [`change`]). Each batch is one transaction: its net effect per key
//! (the last delete; the upserts after it merged into one row, a later field
//! winning) as one delete statement and one upsert statement per set of
//! columns, and the next offset of every source partition it covers in the
//! offsets table (see [`offsets`]). The pipeline replays from its own
//! checkpoint, which can lag the table after a crash; records below the
//! stored offsets were applied already and are skipped, so none is applied
//! twice. The batch is durable when `send` returns.
//!
//! A record that does not fit the table is refused before the transaction
//! (see [`fit`]) and goes to the DLQ. One the server refuses (a check
//! constraint, a timestamp it cannot read) fails the one-statement path; the
//! batch is then applied again record by record, each under a savepoint, and
//! only the refused records go to the DLQ.

mod change;
mod config;
mod fit;
mod offsets;
mod target;

use std::collections::BTreeMap;
use std::future::Future;

use std::time::Duration;

use futures::future::BoxFuture;
use tokio_postgres::types::Json;
use tokio_postgres::{Client, Transaction};
use weir_sdk::Rejection;

use super::{Rejected, SCHEMA_MISMATCH, Sink, SinkError};
use crate::kafka::produce::Pending;
use crate::postgres::{PgError, PgUrl, error_text};
use crate::record::Batch;
use change::{Change, Object};
use fit::{Action, Op, collapse};
use offsets::{OffsetsTable, Positions};
use target::{TableName, Target, create_sql};

pub use config::PostgresSinkConfig;

/// DLQ code of a record the server refused for a constraint (unique, check,
/// foreign key, not null) of the table.
pub const CONSTRAINT_VIOLATION: &str = "constraint_violation";

/// How often a batch is tried again when the server aborted its transaction
/// for a deadlock or a serialization failure (another writer on the same rows).
const CONFLICT_RETRIES: usize = 3;

/// Attempts at a batch while the server cannot be reached (about a minute
/// and a half of waiting in all) before the connector stops.
const CONNECTION_ATTEMPTS: u32 = 8;

/// Why the postgres sink cannot open or write: each names the server or the
/// table and what to do, and tells a lost connection (worth retrying) from a
/// table that does not suit.
#[derive(Debug, thiserror::Error)]
pub enum PgSinkError {
    #[error("postgres sink: {0}")]
    Pg(#[from] PgError),
    /// The connection broke during a batch: all of it was committed or none
    /// (the offsets table tells a retry which); the batch is written again on
    /// a new connection.
    #[error(
        "postgres sink: {0}; the connection was lost: check that the server is up and reachable"
    )]
    Lost(PgError),
    #[error(
        "postgres sink: table {table} does not exist in {at}; create it, or set `auto_create = true` to create it from the first record"
    )]
    Missing { table: String, at: String },
    #[error(
        "postgres sink: table {table} has no primary key; add one, or name the columns that identify a row with `key = [\"id\"]`"
    )]
    NoKey { table: String },
    #[error(
        "postgres sink: key column `{column}` is not a column of {table}; fix `key`, or leave it out to use the primary key"
    )]
    KeyColumn { table: String, column: String },
    #[error(
        "postgres sink: the key ({key}) of {table} is neither its primary key nor the columns of a unique index, and an upsert needs one to conflict on; create a unique index on exactly these columns, or leave `key` out to use the primary key"
    )]
    KeyNotUnique { table: String, key: String },
    #[error(
        "postgres sink: cannot create {table} from the record at {at}: {reason}; create the table yourself, or set `key = [\"…\"]` to fields the records have"
    )]
    AutoCreate {
        table: String,
        at: String,
        reason: String,
    },
    #[error(
        "postgres sink: {action} needs tokio's multi-threaded runtime (it waits for the server from a synchronous call)"
    )]
    Runtime { action: &'static str },
}

impl PgSinkError {
    /// The table is missing and `auto_create` is off.
    pub fn missing(url: &PgUrl, name: &TableName) -> PgSinkError {
        PgSinkError::Missing {
            table: name.to_string(),
            at: format!("{}:{}/{}", url.host, url.port, url.db),
        }
    }

    /// The server could not be reached or dropped the connection.
    pub fn is_connection(&self) -> bool {
        match self {
            PgSinkError::Lost(_) => true,
            PgSinkError::Pg(e) => e.is_connection(),
            _ => false,
        }
    }
}

impl From<PgSinkError> for SinkError {
    fn from(e: PgSinkError) -> Self {
        SinkError::Connector {
            kind: "postgres",
            retryable: e.is_connection(),
            source: Box::new(e),
        }
    }
}

/// Runs `f` to completion from a synchronous trait method (`describe`,
/// `open`) on the pipeline's runtime, leaving the async worker first: the
/// connection's I/O task it spawns keeps running there afterwards.
fn block_on<T>(
    action: &'static str,
    f: impl Future<Output = Result<T, PgSinkError>>,
) -> Result<T, PgSinkError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(f))
        }
        _ => Err(PgSinkError::Runtime { action }),
    }
}

/// A statement of a batch's transaction that failed, and what it was for.
struct Step {
    what: &'static str,
    error: tokio_postgres::Error,
}

fn step(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Step {
    move |error| Step { what, error }
}

/// How a batch's actions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The net effect per key: one delete, one upsert per column set.
    Together,
    /// Every action in record order, each under a savepoint: a refused one
    /// goes to the DLQ, the others stay.
    OneByOne,
}

/// A running `[sink.postgres]`: one connection, the table it writes, and
/// what it last saw of its stored offsets (so replays cost no transaction).
pub struct PostgresSink {
    client: Client,
    url: PgUrl,
    connector: String,
    name: TableName,
    /// `key` as configured.
    key: Option<Vec<String>>,
    auto_create: bool,
    /// `None` until `auto_create` made the table.
    target: Option<Target>,
    offsets: OffsetsTable,
    /// The stored next offsets as last seen: they only grow, so a record
    /// below them was applied and a batch entirely below them needs no
    /// transaction. The transaction reads (and locks) the current ones.
    stored: Positions,
}

impl PostgresSink {
    /// Connects, checks the table (it must exist unless `auto_create`),
    /// makes the offsets table when missing and reads what this connector
    /// applied before.
    pub async fn open(cfg: &PostgresSinkConfig, connector: &str) -> Result<Self, PgSinkError> {
        let url = cfg.pg_url()?;
        let client = url.connect().await?;
        let name = cfg.table_name();
        let target = Target::load(&client, &url, &name, cfg.key.as_deref()).await?;
        if target.is_none() && !cfg.auto_create {
            return Err(PgSinkError::missing(&url, &name));
        }
        let offsets = OffsetsTable {
            name: cfg.offsets_name(),
        };
        offsets.create(&client, &url).await?;
        let stored = offsets.load(&client, &url, connector).await?;
        tracing::info!(
            connector,
            table = %name,
            partitions = stored.len(),
            "The postgres sink is connected; records below the stored offsets of its partitions are skipped as applied."
        );
        Ok(PostgresSink {
            client,
            url,
            connector: connector.to_string(),
            name,
            key: cfg.key.clone(),
            auto_create: cfg.auto_create,
            target,
            offsets,
            stored,
        })
    }

    /// [`PostgresSink::write`], again after a lost connection (a server
    /// restart, a network outage) with a growing wait, up to
    /// [`CONNECTION_ATTEMPTS`] times: a batch is one transaction, committed
    /// whole or not at all, and the offsets table tells a retry which.
    async fn write_retrying(&mut self, batch: &Batch) -> Result<Rejected, PgSinkError> {
        let mut attempt = 1;
        loop {
            match self.write(batch).await {
                Err(e) if e.is_connection() && attempt < CONNECTION_ATTEMPTS => {
                    let wait = Duration::from_millis(500 << attempt.min(6));
                    tracing::warn!(connector = %self.connector, error = %e, attempt, retry_in_ms = wait.as_millis() as u64, "The postgres sink lost its connection; the batch is written again.");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Applies `batch` in one transaction; the records it refuses.
    async fn write(&mut self, batch: &Batch) -> Result<Rejected, PgSinkError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if self.client.is_closed() {
            self.client = self.url.connect().await?;
        }
        let changes: Vec<Result<Change, Rejection>> = batch
            .iter()
            .map(|r| Change::decode(r.key(), r.value()))
            .collect();
        if self.target.is_none() && self.auto_create {
            self.create_table(batch, &changes).await?;
        }
        let (todo, mut rejected) = self.fit(batch, changes);
        let reached = offsets::reached(batch);
        if todo.is_empty() && !offsets::advances(&self.stored, &reached) {
            return Ok(rejected);
        }
        rejected.extend(self.apply_with_fallback(batch, &todo, &reached).await?);
        offsets::merge(&mut self.stored, &reached);
        rejected.sort_by_key(|(i, _)| *i);
        Ok(rejected)
    }

    /// The batch's actions on the table (leaving out records known to be
    /// applied), and the records that do not fit. Records below the stored
    /// offsets are still checked: one refused before a crash goes to the DLQ
    /// again rather than not at all.
    fn fit(
        &self,
        batch: &Batch,
        changes: Vec<Result<Change, Rejection>>,
    ) -> (Vec<(usize, Action)>, Rejected) {
        let mut todo = Vec::new();
        let mut rejected = Vec::new();
        for (i, change) in changes.into_iter().enumerate() {
            let fitted = change.and_then(|c| match &self.target {
                Some(t) => t.fit(c).map(Some),
                // No table, and no upsert made one: a delete has nothing to do.
                None => Ok(None),
            });
            match fitted {
                Err(why) => rejected.push((i, why)),
                Ok(Some(action)) if !offsets::applied(&self.stored, batch.get(i).origin()) => {
                    todo.push((i, action));
                }
                Ok(_) => {}
            }
        }
        (todo, rejected)
    }

    /// `auto_create`: the table made from the batch's first upserted row,
    /// keyed by `key` or by the fields of that record's Kafka key.
    async fn create_table(
        &mut self,
        batch: &Batch,
        changes: &[Result<Change, Rejection>],
    ) -> Result<(), PgSinkError> {
        let Some((i, row, record_key)) = changes.iter().enumerate().find_map(|(i, c)| match c {
            Ok(Change::Upsert { row, key }) => Some((i, row, key)),
            _ => None,
        }) else {
            return Ok(());
        };
        let at = batch
            .get(i)
            .origin()
            .map(|o| format!("{}/{}@{}", o.topic, o.partition, o.offset))
            .unwrap_or_else(|| format!("batch index {i}"));
        let failed = |reason: String| PgSinkError::AutoCreate {
            table: self.name.to_string(),
            at: at.clone(),
            reason,
        };
        let key: Vec<String> = match (&self.key, record_key) {
            (Some(k), _) => k.clone(),
            (None, Some(k)) => k.keys().cloned().collect(),
            (None, None) => {
                return Err(failed(
                    "without `key`, the key columns are the fields of the record's Kafka key, which is not a JSON object".into(),
                ));
            }
        };
        let sql = create_sql(&self.name, row, &key).map_err(failed)?;
        self.client
            .batch_execute(&sql)
            .await
            .map_err(|e| failed(error_text(&e)))?;
        let target = Target::load(&self.client, &self.url, &self.name, Some(&key)).await?;
        tracing::info!(
            connector = %self.connector,
            table = %self.name,
            key = %key.join(", "),
            "The postgres sink created its table from the first record (auto_create)."
        );
        self.target = target;
        Ok(())
    }

    /// The batch in one transaction, all actions together; when the server
    /// refuses one, again one by one so that only the refused go to the DLQ.
    /// A deadlock or serialization failure (another writer) is tried again.
    async fn apply_with_fallback(
        &mut self,
        batch: &Batch,
        todo: &[(usize, Action)],
        reached: &Positions,
    ) -> Result<Rejected, PgSinkError> {
        let mut mode = Mode::Together;
        let mut conflicts = 0;
        loop {
            match self.apply(batch, todo, reached, mode).await {
                Ok(rejected) => return Ok(rejected),
                Err(s) if mode == Mode::Together && refusal(&s.error).is_some() => {
                    tracing::warn!(
                        connector = %self.connector,
                        table = %self.name,
                        error = %error_text(&s.error),
                        "The server refused a record of the batch; applying it record by record so that only the refused ones go to the DLQ."
                    );
                    mode = Mode::OneByOne;
                }
                Err(s) if is_conflict(&s.error) && conflicts < CONFLICT_RETRIES => conflicts += 1,
                Err(s) => return Err(self.failed(s)),
            }
        }
    }

    /// One transaction: lock the offsets of the batch's partitions, write
    /// the actions above them, store the new offsets, commit.
    async fn apply(
        &mut self,
        batch: &Batch,
        todo: &[(usize, Action)],
        reached: &Positions,
        mode: Mode,
    ) -> Result<Rejected, Step> {
        let PostgresSink {
            client,
            connector,
            target,
            offsets,
            ..
        } = self;
        let mut tx = client
            .transaction()
            .await
            .map_err(step("begin a transaction"))?;
        let stored = offsets
            .lock(&tx, connector, reached)
            .await
            .map_err(step("lock the stored offsets"))?;
        let fresh: Vec<(usize, &Action)> = todo
            .iter()
            .filter(|(i, _)| !offsets::applied(&stored, batch.get(*i).origin()))
            .map(|(i, a)| (*i, a))
            .collect();
        let rejected = match (target.as_ref(), mode) {
            (None, _) => Vec::new(),
            (Some(t), Mode::Together) => {
                write_together(&tx, t, fresh).await?;
                Vec::new()
            }
            (Some(t), Mode::OneByOne) => write_one_by_one(&mut tx, t, fresh).await?,
        };
        offsets
            .advance(&tx, connector, reached)
            .await
            .map_err(step("store the offsets"))?;
        tx.commit().await.map_err(step("commit"))?;
        Ok(rejected)
    }

    fn failed(&self, s: Step) -> PgSinkError {
        let error = self.url.error(
            format!("{} (table {})", s.what, self.name),
            error_text(&s.error),
        );
        if is_lost(&s.error) {
            PgSinkError::Lost(error)
        } else {
            PgSinkError::Pg(error)
        }
    }
}

/// The batch's net effect (see [`collapse`]): one delete, then one upsert
/// per set of columns the rows set.
async fn write_together(
    tx: &Transaction<'_>,
    target: &Target,
    actions: Vec<(usize, &Action)>,
) -> Result<(), Step> {
    let net = collapse(actions.iter().map(|(_, a)| *a));
    if !net.deletes.is_empty() {
        tx.execute(&target.delete_sql(), &[&Json(&net.deletes)])
            .await
            .map_err(step("delete rows"))?;
    }
    let mut upserts: BTreeMap<Vec<&str>, Vec<&Object>> = BTreeMap::new();
    for row in &net.upserts {
        upserts
            .entry(columns_of(target, row))
            .or_default()
            .push(row);
    }
    for (columns, rows) in &upserts {
        tx.execute(&target.upsert_sql(columns), &[&Json(rows)])
            .await
            .map_err(step("upsert rows"))?;
    }
    Ok(())
}

/// Every action in record order, each under a savepoint; the ones the server
/// refuses are rolled back and returned.
async fn write_one_by_one(
    tx: &mut Transaction<'_>,
    target: &Target,
    actions: Vec<(usize, &Action)>,
) -> Result<Rejected, Step> {
    let mut rejected = Vec::new();
    for (i, action) in actions {
        let sp = tx
            .savepoint("weir_record")
            .await
            .map_err(step("set a savepoint"))?;
        let written = match &action.op {
            Op::Upsert(row) => {
                let sql = target.upsert_sql(&columns_of(target, row));
                sp.execute(&sql, &[&Json([row])]).await
            }
            Op::Delete(key) => sp.execute(&target.delete_sql(), &[&Json([key])]).await,
        };
        match written {
            Ok(_) => sp.commit().await.map_err(step("release a savepoint"))?,
            Err(e) => match refusal(&e) {
                Some(code) => {
                    sp.rollback()
                        .await
                        .map_err(step("roll back to a savepoint"))?;
                    rejected.push((i, refused(code, &e)));
                }
                None => return Err(step("write a record")(e)),
            },
        }
    }
    Ok(rejected)
}

/// The columns `row` sets, in table order: rows setting the same ones share
/// a statement.
fn columns_of<'t>(target: &'t Target, row: &Object) -> Vec<&'t str> {
    target
        .table
        .columns
        .iter()
        .filter(|c| row.contains_key(&c.name))
        .map(|c| c.name.as_str())
        .collect()
}

/// The DLQ code of an error by which the server refuses a record's data
/// (rather than failing): a value it cannot read, a violated constraint.
fn refusal(e: &tokio_postgres::Error) -> Option<&'static str> {
    let code = e.code()?.code();
    match code.get(..2)? {
        "22" => Some(SCHEMA_MISMATCH),
        "23" | "21" => Some(CONSTRAINT_VIOLATION),
        _ if code == "42804" => Some(SCHEMA_MISMATCH),
        _ => None,
    }
}

/// The connection broke (closed, reset, timed out) or the server is shutting
/// down: nothing is wrong with the batch.
fn is_lost(e: &tokio_postgres::Error) -> bool {
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    let code = e.code().map(|c| c.code()).unwrap_or_default();
    e.is_closed() || io || code.starts_with("08") || code.starts_with("57P")
}

/// A deadlock or serialization failure: the transaction is worth trying again.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code().starts_with("40"))
}

fn refused(code: &'static str, e: &tokio_postgres::Error) -> Rejection {
    Rejection::new(
        code,
        format!("the table refused the record: {}", error_text(e)),
    )
}

impl Sink for PostgresSink {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn send<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<(Rejected, Option<Pending>), SinkError>> {
        Box::pin(async move {
            let rejected = self.write_retrying(batch).await?;
            Ok((rejected, None))
        })
    }
}
