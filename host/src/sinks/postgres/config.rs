//! `[sink.postgres]`: the table, its checks, its plan line, and how it opens.

use serde::Deserialize;

use super::target::{TableName, Target};
use super::{PgSinkError, PostgresSink, block_on};
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SinkConnector,
};
use crate::plan::Level;
use crate::postgres::{PgUrl, redact};
use crate::sinks::{Sink, SinkError};

/// Rows upserted into a PostgreSQL table, each batch in one transaction
/// together with the source offsets it covers, so a replay after a crash
/// never applies a record twice.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSinkConfig {
    /// `url = "${PG_URL}"`: `postgres://USER:PASSWORD@HOST:PORT/DATABASE`
    /// (`?sslmode=require` for TLS).
    pub url: String,
    /// `table = "public.users"`: `schema.table`; the schema defaults to `public`.
    pub table: String,
    /// `key = ["id"]`: the columns that identify a row; default: the table's
    /// primary key (with `auto_create`, the fields of the first record's
    /// Kafka key, a JSON object). Other than the primary key, a unique index
    /// on exactly these columns must exist.
    pub key: Option<Vec<String>>,
    /// `auto_create = false`: create the table from the first upserted record
    /// when it does not exist (integer → bigint, float → double precision,
    /// bool → boolean, string → text, object, array or null → jsonb).
    #[serde(default)]
    pub auto_create: bool,
    /// `offsets_table = "weir_sink_offsets"`: where the sink keeps the next
    /// offset of every source partition it applied (`schema.table`; created
    /// when missing).
    #[serde(default = "defaults::offsets_table")]
    pub offsets_table: String,
    /// `url`, parsed when the connector is resolved.
    #[serde(skip)]
    pub resolved: Option<PgUrl>,
}

/// The URL may hold a password: `Debug` shows it redacted.
impl std::fmt::Debug for PostgresSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSinkConfig")
            .field("url", &redact(&self.url))
            .field("table", &self.table)
            .field("key", &self.key)
            .field("auto_create", &self.auto_create)
            .field("offsets_table", &self.offsets_table)
            .finish()
    }
}

impl PostgresSinkConfig {
    /// The parsed URL: the one kept at resolve time, or parsed now for a
    /// config built in code.
    pub fn pg_url(&self) -> Result<PgUrl, PgSinkError> {
        match &self.resolved {
            Some(u) => Ok(u.clone()),
            None => Ok(PgUrl::parse(&self.url)?),
        }
    }

    /// The target table's schema and name.
    pub fn table_name(&self) -> TableName {
        TableName::parse(&self.table)
    }

    /// The offsets table's schema and name.
    pub fn offsets_name(&self) -> TableName {
        TableName::parse(&self.offsets_table)
    }

    /// Table names with both parts, key columns named once.
    fn check(&self) -> Result<(), Invalid> {
        check_table_name("table", &self.table)?;
        check_table_name("offsets_table", &self.offsets_table)?;
        if let Some(key) = &self.key {
            if key.is_empty() {
                return Err(Invalid::new(
                    "key",
                    "name at least one column, e.g. `key = [\"id\"]`, or leave `key` out to use the primary key",
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(bad) = key
                .iter()
                .find(|c| c.is_empty() || !seen.insert(c.as_str()))
            {
                return Err(Invalid::new(
                    "key",
                    format!("column `{bad}` is empty or named twice"),
                ));
            }
        }
        Ok(())
    }

    /// The `weir plan` verdict: the table as the server describes it.
    async fn verdict(&self) -> Result<(Level, String), PgSinkError> {
        let url = self.pg_url()?;
        let client = url.connect().await?;
        let name = self.table_name();
        let target = Target::load(&client, &url, &name, self.key.as_deref()).await;
        Ok(match target {
            Ok(Some(t)) => (Level::Ok, key_verdict(&t)),
            Ok(None) if self.auto_create => (
                Level::Ok,
                "table does not exist yet; created from the first record (auto_create)".into(),
            ),
            Ok(None) => (Level::Error, plan_text(&PgSinkError::missing(&url, &name))),
            Err(e) => (Level::Error, plan_text(&e)),
        })
    }
}

/// An error as a plan line shows it: the line already names the sink.
fn plan_text(e: &PgSinkError) -> String {
    let text = e.to_string();
    text.strip_prefix("postgres sink: ")
        .map_or(text.clone(), str::to_string)
}

/// What a table that exists offers the upsert: its primary key, and the
/// unique index `key` names when that is another.
fn key_verdict(t: &Target) -> String {
    let key = t.key.join(", ");
    let primary = t.table.key.join(", ");
    match (primary.is_empty(), primary == key) {
        (false, true) => format!("table exists with primary key ({primary})"),
        (true, _) => format!(
            "table exists without a primary key; upserts conflict on the unique index over ({key})"
        ),
        (false, false) => format!(
            "table exists with primary key ({primary}); upserts conflict on the unique index over ({key})"
        ),
    }
}

/// `schema.table` or `table`, without empty parts.
fn check_table_name(key: &str, name: &str) -> Result<(), Invalid> {
    let t = TableName::parse(name);
    if t.schema.is_empty() || t.name.is_empty() || t.name.contains('.') {
        return Err(Invalid::new(
            key,
            format!(
                "`{name}` is not a table name: write `schema.table` or `table` (schema public)"
            ),
        ));
    }
    Ok(())
}

impl SinkConnector for PostgresSinkConfig {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        let url = PgUrl::parse(&self.url).map_err(|e| Invalid::new("url", e.to_string()))?;
        self.check()?;
        self.resolved = Some(url);
        Ok(())
    }

    /// Connects and looks at the table: it must exist (or `auto_create` be
    /// set) and have a key the upsert can use.
    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        let (level, verdict) =
            block_on("weir plan", self.verdict()).unwrap_or_else(|e| (Level::Error, plan_text(&e)));
        let at = self
            .pg_url()
            .map(|u| format!(" on {}:{}/{}", u.host, u.port, u.db))
            .unwrap_or_default();
        (
            level,
            format!(
                "sink: postgres {}{at}, offsets in {}: {verdict}",
                self.table_name(),
                self.offsets_name()
            ),
        )
    }

    fn summary(&self) -> String {
        format!("postgres({})", self.table_name())
    }

    fn open(&self, cx: &OpenContext<'_>) -> Result<Box<dyn Sink>, SinkError> {
        let sink = block_on("opening the sink", PostgresSink::open(self, cx.name))?;
        Ok(Box::new(sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<PostgresSinkConfig, Invalid> {
        let mut c: PostgresSinkConfig = toml::from_str(text).expect("parses");
        let cx = ResolveContext {
            name: "t",
            base: std::path::Path::new("."),
        };
        c.resolve(&cx).map(|()| c)
    }

    #[test]
    fn defaults_and_summary() {
        let c = parsed("url = \"postgres://u:secret@h/db\"\ntable = \"users\"").unwrap();
        assert_eq!(c.offsets_table, "weir_sink_offsets");
        assert!(!c.auto_create && c.key.is_none());
        assert_eq!(c.summary(), "postgres(public.users)");
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = parsed("url = \"mysql://u@h/db\"\ntable = \"users\"").unwrap_err();
        assert_eq!(e.key, "url");
        let e = parsed("url = \"postgres://u@h/db\"\ntable = \"a.b.c\"").unwrap_err();
        assert_eq!(e.key, "table");
        let e = parsed("url = \"postgres://u@h/db\"\ntable = \"t\"\nkey = []").unwrap_err();
        assert_eq!(e.key, "key");
        let e =
            parsed("url = \"postgres://u@h/db\"\ntable = \"t\"\nkey = [\"a\", \"a\"]").unwrap_err();
        assert!(e.message.contains("`a`"), "{}", e.message);
        assert!(
            toml::from_str::<PostgresSinkConfig>("url = \"x\"\ntable = \"t\"\nkeys = []").is_err()
        );
    }
}
