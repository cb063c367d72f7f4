//! The table the sink writes, as the sink needs to know it: its columns, the
//! key its upserts conflict on, which columns an insert may leave out; and
//! the SQL that writes it (built here once, from quoted names only).

use std::collections::HashSet;

use serde_json::{Map, Value};
use tokio_postgres::Client;

use super::PgSinkError;
use crate::postgres::{PgUrl, Table, error_text, quote_ident, split_table};

/// `schema.table` as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    /// `schema.table`, or `table` in schema `public`.
    pub fn parse(text: &str) -> TableName {
        let (schema, name) = split_table(text);
        TableName { schema, name }
    }

    /// Quoted, for SQL text.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A table the sink can upsert into.
#[derive(Debug, Clone)]
pub struct Target {
    pub table: Table,
    /// The columns an upsert conflicts on and a delete matches, in order.
    pub key: Vec<String>,
    /// Columns an insert may leave out: they have a default or are an identity.
    pub defaulted: HashSet<String>,
    /// Generated columns: the server computes them, a record may not set them.
    pub generated: HashSet<String>,
}

/// Per column: has a default (or is an identity), is generated.
const COLUMN_FLAGS: &str = "
SELECT a.attname::text,
       (a.atthasdef AND a.attgenerated = '') OR a.attidentity <> '',
       a.attgenerated <> ''
FROM pg_attribute a
WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped";

/// Whether a unique, non-partial index has exactly these key columns (sorted).
const UNIQUE_ON: &str = "
SELECT EXISTS (
  SELECT 1 FROM pg_index i
  WHERE i.indrelid = $1::text::regclass AND i.indisunique
    AND i.indpred IS NULL AND i.indexprs IS NULL
    AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
         FROM pg_attribute a
         WHERE a.attrelid = i.indrelid
           AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) = $2::text[])";

impl Target {
    /// The table `name` with its key (`key`, else the primary key) checked,
    /// or `None` when the table does not exist.
    pub async fn load(
        client: &Client,
        url: &PgUrl,
        name: &TableName,
        key: Option<&[String]>,
    ) -> Result<Option<Target>, PgSinkError> {
        let Some(table) = Table::load(client, url, &name.schema, &name.name).await? else {
            return Ok(None);
        };
        let key = choose_key(&table, key)?;
        if !same_columns(&key, &table.key) {
            check_unique(client, url, &table, &key).await?;
        }
        let rows = client
            .query(COLUMN_FLAGS, &[&table.sql_name()])
            .await
            .map_err(|e| url.error(format!("read the defaults of {name}"), error_text(&e)))?;
        let (mut defaulted, mut generated) = (HashSet::new(), HashSet::new());
        for row in &rows {
            let column: String = row.get(0);
            if row.get::<_, bool>(1) {
                defaulted.insert(column.clone());
            }
            if row.get::<_, bool>(2) {
                generated.insert(column);
            }
        }
        Ok(Some(Target {
            table,
            key,
            defaulted,
            generated,
        }))
    }

    /// One statement upserting rows that set exactly `columns` (in table
    /// order): the rows come as one JSON array in `$1`, each read into the
    /// table's row type, so every value goes through the column type's own
    /// input. A row already there gets the non-key columns it sets.
    ///
    /// PostgreSQL checks `NOT NULL` on the row an upsert proposes before it
    /// finds the conflict, so a partial row (an update whose unchanged large
    /// column a CDC source left out) would fail even for a row that exists.
    /// Such columns are proposed with the existing row's values (a join on
    /// the key); for a new row they stay null and the server refuses it.
    pub fn upsert_sql(&self, columns: &[&str]) -> String {
        let table = self.table.sql_name();
        let borrowed = self.required_besides(columns);
        let mut list: Vec<&str> = columns.to_vec();
        list.extend(borrowed.iter().copied());
        let mut values: Vec<String> = columns
            .iter()
            .map(|c| format!("d.{}", quote_ident(c)))
            .collect();
        values.extend(borrowed.iter().map(|c| format!("e.{}", quote_ident(c))));
        let from = if borrowed.is_empty() {
            format!("jsonb_populate_recordset(NULL::{table}, $1::jsonb) AS d")
        } else {
            format!(
                "jsonb_populate_recordset(NULL::{table}, $1::jsonb) AS d LEFT JOIN {table} AS e ON {}",
                self.key_match("e", "d")
            )
        };
        let keys = quoted(&self.key.iter().map(String::as_str).collect::<Vec<_>>());
        let set: Vec<String> = columns
            .iter()
            .filter(|c| !self.key.iter().any(|k| k == *c))
            .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c)))
            .collect();
        let action = if set.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", set.join(", "))
        };
        format!(
            "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {from} ON CONFLICT ({keys}) {action}",
            quoted(&list),
            values.join(", ")
        )
    }

    /// The `NOT NULL` columns without a default that `columns` leaves out.
    fn required_besides(&self, columns: &[&str]) -> Vec<&str> {
        self.table
            .columns
            .iter()
            .filter(|c| {
                c.not_null
                    && !columns.contains(&c.name.as_str())
                    && !self.defaulted.contains(&c.name)
                    && !self.generated.contains(&c.name)
            })
            .map(|c| c.name.as_str())
            .collect()
    }

    /// `a.k1 = b.k1 AND …` over the key columns.
    fn key_match(&self, a: &str, b: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{a}.{0} = {b}.{0}", quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// One statement deleting the rows whose keys `$1` lists (a JSON array
    /// of objects holding the key columns).
    pub fn delete_sql(&self) -> String {
        let table = self.table.sql_name();
        format!(
            "DELETE FROM {table} AS t USING jsonb_populate_recordset(NULL::{table}, $1::jsonb) AS d WHERE {}",
            self.key_match("t", "d")
        )
    }
}

/// The configured key, else the primary key; every column must exist.
fn choose_key(table: &Table, key: Option<&[String]>) -> Result<Vec<String>, PgSinkError> {
    let key = match key {
        Some(k) => k.to_vec(),
        None if table.key.is_empty() => {
            return Err(PgSinkError::NoKey {
                table: table.display_name(),
            });
        }
        None => table.key.clone(),
    };
    if let Some(missing) = key.iter().find(|k| table.column(k).is_none()) {
        return Err(PgSinkError::KeyColumn {
            table: table.display_name(),
            column: missing.clone(),
        });
    }
    Ok(key)
}

fn same_columns(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// `ON CONFLICT (key)` needs a unique index on exactly the key's columns.
async fn check_unique(
    client: &Client,
    url: &PgUrl,
    table: &Table,
    key: &[String],
) -> Result<(), PgSinkError> {
    let mut sorted = key.to_vec();
    sorted.sort();
    let row = client
        .query_one(UNIQUE_ON, &[&table.sql_name(), &sorted])
        .await
        .map_err(|e| {
            url.error(
                format!("read the unique indexes of {}", table.display_name()),
                error_text(&e),
            )
        })?;
    if row.get::<_, bool>(0) {
        return Ok(());
    }
    Err(PgSinkError::KeyNotUnique {
        table: table.display_name(),
        key: key.join(", "),
    })
}

fn quoted(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE TABLE IF NOT EXISTS` for `row`'s fields, typed by their JSON
/// values, with `key` as the primary key. Errs (saying why) when a key
/// column is not among the fields or is null.
pub fn create_sql(
    name: &TableName,
    row: &Map<String, Value>,
    key: &[String],
) -> Result<String, String> {
    if key.is_empty() {
        return Err("no key columns".into());
    }
    for k in key {
        match row.get(k) {
            None => return Err(format!("key column `{k}` is not a field of the record")),
            Some(Value::Null) => return Err(format!("key column `{k}` is null in the record")),
            Some(_) => {}
        }
    }
    let columns: Vec<String> = row
        .iter()
        .map(|(field, value)| {
            let not_null = if key.contains(field) { " NOT NULL" } else { "" };
            format!("{} {}{not_null}", quote_ident(field), sql_type_of(value))
        })
        .collect();
    let keys = quoted(&key.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({keys}))",
        name.sql(),
        columns.join(", ")
    ))
}

/// The column type `auto_create` gives a JSON value. A null says nothing
/// about later values: `jsonb` takes every kind.
pub fn sql_type_of(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "bigint",
        // Beyond bigint: exact, not rounded.
        Value::Number(n) if n.is_u64() => "numeric",
        Value::Number(_) => "double precision",
        Value::String(_) => "text",
        Value::Null | Value::Array(_) | Value::Object(_) => "jsonb",
    }
}

/// `public.users (id bigint primary key, name text not null, age integer)`,
/// for the tests of this folder.
#[cfg(test)]
pub(crate) fn users() -> Target {
    let column = |name: &str, oid: u32, ty: &str, not_null: bool| crate::postgres::Column {
        name: name.into(),
        type_oid: oid,
        type_name: ty.into(),
        not_null,
    };
    Target {
        table: Table {
            schema: "public".into(),
            name: "users".into(),
            columns: vec![
                column("id", 20, "bigint", true),
                column("name", 25, "text", true),
                column("age", 23, "integer", false),
            ],
            key: vec!["id".into()],
        },
        key: vec!["id".into()],
        defaulted: HashSet::new(),
        generated: HashSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upserts_set_only_the_columns_given() {
        let t = users();
        let sql = t.upsert_sql(&["id", "name"]);
        assert!(
            sql.starts_with(r#"INSERT INTO "public"."users" ("id", "name") OVERRIDING SYSTEM VALUE SELECT d."id", d."name" FROM jsonb_populate_recordset(NULL::"public"."users", $1::jsonb) AS d ON"#),
            "{sql}"
        );
        assert!(
            sql.ends_with(r#"ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name""#),
            "{sql}"
        );
        // `name` is NOT NULL without a default: an existing row lends it.
        let partial = t.upsert_sql(&["id", "age"]);
        assert!(
            partial.contains(r#"("id", "age", "name") OVERRIDING SYSTEM VALUE SELECT d."id", d."age", e."name" FROM"#)
                && partial.contains(r#"LEFT JOIN "public"."users" AS e ON e."id" = d."id""#)
                && partial.ends_with(r#"DO UPDATE SET "age" = EXCLUDED."age""#),
            "{partial}"
        );
        assert!(
            t.upsert_sql(&["id", "name"])
                .ends_with(r#"SET "name" = EXCLUDED."name""#)
        );
        assert!(t.upsert_sql(&["id"]).ends_with("DO NOTHING"));
        let del = t.delete_sql();
        assert!(del.ends_with(r#"WHERE t."id" = d."id""#), "{del}");
    }

    #[test]
    fn keys_must_be_columns_and_exist() {
        let t = users();
        assert_eq!(choose_key(&t.table, None).unwrap(), vec!["id".to_string()]);
        let e = choose_key(&t.table, Some(&["email".into()])).unwrap_err();
        assert!(e.to_string().contains("`email`"), "{e}");
        let mut keyless = t.table.clone();
        keyless.key.clear();
        assert!(matches!(
            choose_key(&keyless, None),
            Err(PgSinkError::NoKey { .. })
        ));
    }

    #[test]
    fn auto_create_types_follow_json_kinds() {
        let row = json!({"id": 1, "score": 1.5, "ok": true, "name": "a", "tags": ["x"], "meta": {"a": 1}, "gone": null});
        let sql = create_sql(
            &TableName::parse("users"),
            row.as_object().unwrap(),
            &["id".into()],
        )
        .unwrap();
        assert_eq!(
            sql,
            r#"CREATE TABLE IF NOT EXISTS "public"."users" ("id" bigint NOT NULL, "score" double precision, "ok" boolean, "name" text, "tags" jsonb, "meta" jsonb, "gone" jsonb, PRIMARY KEY ("id"))"#
        );
        let e = create_sql(
            &TableName::parse("users"),
            row.as_object().unwrap(),
            &["nope".into()],
        )
        .unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
    }
}
