//! `[source.postgres_cdc]`: the table, its checks, its plan line (the
//! server's readiness for logical replication), and how it opens.

use serde::Deserialize;

use super::PostgresCdcSource;
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SourceConnector,
};
use crate::plan::Level;
use crate::postgres::{PgUrl, Table, error_text, split_table};
use crate::sources::{Source, SourceError};

/// Changes of PostgreSQL tables over logical replication (pgoutput): an
/// initial snapshot (`op = "r"`), then inserts, updates and deletes in
/// commit order, as Debezium-style envelopes keyed by primary key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresCdcSourceConfig {
    /// `url = "${PG_URL}"`: `postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    /// `?sslmode=require` (or `verify-full`, with `sslrootcert=PATH`) for TLS.
    /// The role needs `REPLICATION` (or superuser) and `SELECT` on the tables.
    pub url: String,
    /// `tables = ["public.users"]`: each needs a primary key. An entry may
    /// list several, comma-separated (`["${PG_TABLES}"]`).
    pub tables: Vec<String>,
    /// `slot = "weir_users"`: the logical replication slot; defaults to
    /// `weir_<connector>` (dashes as underscores).
    pub slot: Option<String>,
    /// `publication = "weir_users"`: created for `tables` when missing;
    /// defaults to the slot's name.
    pub publication: Option<String>,
    /// `batch_size = 500`: most changes handed on at once.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// The parsed `url`, once resolved.
    #[serde(skip)]
    pub(super) parsed: Option<PgUrl>,
    /// The slot and publication names, once resolved.
    #[serde(skip)]
    pub(super) names: Option<(String, String)>,
}

impl PostgresCdcSourceConfig {
    fn pg(&self) -> Result<PgUrl, SourceError> {
        match &self.parsed {
            Some(u) => Ok(u.clone()),
            None => PgUrl::parse(&self.url).map_err(into_source),
        }
    }

    /// The tables as (schema, name).
    pub(super) fn table_names(&self) -> Vec<(String, String)> {
        self.tables.iter().map(|t| split_table(t)).collect()
    }

    /// What `weir plan` checks on the server: it answers, `wal_level` is
    /// logical, the role may replicate, each table exists with a primary key.
    async fn check_server(&self) -> Result<String, String> {
        let url = self.pg().map_err(|e| e.to_string())?;
        let client = url.connect().await.map_err(|e| e.to_string())?;
        let (client, host) = (&client, url.host.as_str());
        let ask = |sql: &'static str| async move {
            client
                .query_one(sql, &[])
                .await
                .map_err(|e| format!("{host}: {}", error_text(&e)))
        };
        let wal: String = ask("SHOW wal_level").await?.get(0);
        if wal != "logical" {
            return Err(format!(
                "wal_level is `{wal}`; set `wal_level = logical` in postgresql.conf and restart the server"
            ));
        }
        let may: bool =
            ask("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
                .await?
                .get(0);
        if !may {
            return Err(format!(
                "role `{}` may not replicate; `ALTER ROLE {} REPLICATION`",
                url.user, url.user
            ));
        }
        for (schema, name) in self.table_names() {
            match Table::load(client, &url, &schema, &name).await {
                Ok(Some(t)) if t.key.is_empty() => {
                    return Err(format!(
                        "table {schema}.{name} has no primary key; add one (changes are keyed by it)"
                    ));
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("table {schema}.{name} does not exist")),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(format!(
            "wal_level logical, role `{}` may replicate",
            url.user
        ))
    }
}

fn into_source(e: crate::postgres::PgError) -> SourceError {
    SourceError::Connector {
        kind: "postgres_cdc",
        source: Box::new(e),
    }
}

/// Slot and publication names: `[a-z0-9_]`, as PostgreSQL takes them unquoted.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "`{name}` must be 1 to 63 characters of lower-case letters, digits and `_`"
        ));
    }
    Ok(())
}

impl SourceConnector for PostgresCdcSourceConfig {
    fn kind(&self) -> &'static str {
        "postgres_cdc"
    }

    fn resolve(&mut self, cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        let url = PgUrl::parse(&self.url).map_err(|e| Invalid::new("url", e.to_string()))?;
        // `tables = ["${PG_TABLES}"]` with `PG_TABLES=public.a,public.b`.
        self.tables = self
            .tables
            .iter()
            .flat_map(|t| t.split(','))
            .map(|t| t.trim().to_string())
            .collect();
        if self.tables.is_empty() {
            return Err(Invalid::new(
                "tables",
                "name at least one table, e.g. `tables = [\"public.users\"]`",
            ));
        }
        if let Some(t) = self
            .tables
            .iter()
            .find(|t| t.is_empty() || t.split('.').count() > 2)
        {
            return Err(Invalid::new(
                "tables",
                format!("`{t}` is not `schema.table` or `table`"),
            ));
        }
        if self.batch_size == 0 {
            return Err(Invalid::new("batch_size", "must be at least 1"));
        }
        let slot = self
            .slot
            .clone()
            .unwrap_or_else(|| format!("weir_{}", cx.name.replace(['-', '.'], "_")));
        check_name(&slot).map_err(|m| Invalid::new("slot", m))?;
        let publication = self.publication.clone().unwrap_or_else(|| slot.clone());
        check_name(&publication).map_err(|m| Invalid::new("publication", m))?;
        self.parsed = Some(url);
        self.names = Some((slot, publication));
        Ok(())
    }

    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        let checked = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(self.check_server())
        });
        let (slot, publication) = self.names.clone().unwrap_or_default();
        let what = format!(
            "source: postgres CDC of {} (slot `{slot}`, publication `{publication}`)",
            self.tables.join(", ")
        );
        match checked {
            Ok(verdict) => (Level::Ok, format!("{what}: {verdict}")),
            Err(reason) => (Level::Error, format!("{what}: {reason}")),
        }
    }

    fn summary(&self) -> Option<String> {
        Some(format!("postgres_cdc({})", self.tables.join(", ")))
    }

    fn open(&self, cx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, SourceError> {
        let (slot, publication) = self.names.clone().ok_or_else(|| SourceError::Connector {
            kind: "postgres_cdc",
            source: "the connector was not resolved".into(),
        })?;
        Ok(Box::new(PostgresCdcSource::new(
            self.pg()?,
            self.table_names(),
            slot,
            publication,
            self.batch_size as usize,
            cx.name,
        )))
    }
}
