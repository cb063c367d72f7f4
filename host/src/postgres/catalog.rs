//! What the catalog says about a table: its columns with their types, and
//! its primary key.

use tokio_postgres::Client;

use super::{PgError, PgUrl, error_text, quote_ident};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_oid: u32,
    /// `integer`, `numeric(12,2)`, `text[]`: as `format_type` writes it.
    pub type_name: String,
    pub not_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order (empty: no primary key).
    pub key: Vec<String>,
}

const COLUMNS: &str = "
SELECT a.attname::text, a.atttypid::int8, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       array_position(i.indkey::int2[], a.attnum)::int8
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

impl Table {
    /// `schema.name` as SQL writes it, quoted.
    pub fn sql_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// `schema.name` as a user writes it.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The table `schema.name`, or `None` when it does not exist.
    pub async fn load(
        client: &Client,
        url: &PgUrl,
        schema: &str,
        name: &str,
    ) -> Result<Option<Table>, PgError> {
        let rows = client
            .query(COLUMNS, &[&schema, &name])
            .await
            .map_err(|e| {
                url.error(
                    format!("read the columns of {schema}.{name}"),
                    error_text(&e),
                )
            })?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(rows.len());
        let mut key: Vec<(i64, String)> = Vec::new();
        for row in &rows {
            let name: String = row.get(0);
            let oid: i64 = row.get(1);
            if let Some(position) = row.get::<_, Option<i64>>(4) {
                key.push((position, name.clone()));
            }
            columns.push(Column {
                name,
                type_oid: oid as u32,
                type_name: row.get(2),
                not_null: row.get(3),
            });
        }
        key.sort();
        Ok(Some(Table {
            schema: schema.to_string(),
            name: name.to_string(),
            columns,
            key: key.into_iter().map(|(_, n)| n).collect(),
        }))
    }
}
