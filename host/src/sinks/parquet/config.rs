//! `[sink.parquet]`: the table, its checks, its plan line, and how it opens.

use serde::Deserialize;

use super::{Output, ParquetError, ParquetSink};
use crate::config::defaults;
use crate::connectors::{
    DescribeContext, Invalid, OpenContext, PlanLine, ResolveContext, SinkConnector,
};
use crate::plan::{Level, folder_verdict};
use crate::sinks::{Sink, SinkError};

/// Parquet files in Hive-style partition folders (`network_id=3/minute_timestamp=…/`).
/// Rows are buffered and written at each checkpoint, under names the checkpoint
/// covers, so a restart neither loses nor duplicates rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// `path = "out/campaign-minute"`: the dataset's root folder (relative to the
    /// working directory), or an object store: `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`.
    pub path: String,
    /// `[sink.parquet.storage]`: object store settings (`object_store`'s keys,
    /// e.g. `aws_endpoint_url`, `aws_region`, `aws_allow_http`), over the ones
    /// the standard environment gives (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    #[serde(default)]
    pub storage: StorageOptions,
    /// `partition_by = ["network_id", "minute_timestamp"]`: columns that become
    /// folders, in this order, and are left out of the files.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// `columns = [{ name = "campaign_id", type = "int64", nullable = false }, …]`:
    /// the Arrow schema; each record's JSON value must fit it.
    pub columns: Vec<ParquetColumn>,
    /// `compression = "zstd"`: none, snappy or zstd.
    #[serde(default)]
    pub compression: ParquetCompression,
    /// `row_group_size = 65536`: most rows per row group.
    #[serde(default = "defaults::row_group_size")]
    pub row_group_size: usize,
    /// `max_buffered_rows = 100000`: rows held before an early checkpoint writes them.
    #[serde(default = "defaults::max_buffered_rows")]
    pub max_buffered_rows: usize,
    /// Where `path` leads, opened once when the connector is resolved.
    #[serde(skip)]
    pub output: Option<Output>,
}

/// Object store settings. They may hold credentials, so `Debug` shows the
/// keys only.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct StorageOptions(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One column of the files: `{ name = "amount", type = "decimal128", precision = 12, scale = 2 }`.
/// A struct's fields and a list's items are columns too.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetColumn {
    /// Required, except for a list's `items`, which have none.
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// `nullable = true`: a missing field or `null` is allowed.
    #[serde(default = "defaults::yes")]
    pub nullable: bool,
    /// `precision = 12`: decimal128 only, the most digits a value has (1 to 38).
    pub precision: Option<u8>,
    /// `scale = 2`: decimal128 only, the digits after the point (0 to `precision`).
    pub scale: Option<i8>,
    /// `timezone = "+01:00"`: timestamp_ms only, the zone readers show the
    /// instants in: "UTC" (the default) or a fixed offset.
    pub timezone: Option<String>,
    /// `fields = [{ name = "city", type = "string" }, …]`: struct only, its fields.
    pub fields: Option<Vec<ParquetColumn>>,
    /// `items = { type = "string", nullable = false }`: list only, the items' type.
    pub items: Option<Box<ParquetColumn>>,
}

/// The column types a JSON value maps onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Int32,
    Int64,
    Float64,
    Boolean,
    /// An instant, stored as milliseconds since the epoch: a JSON integer
    /// (milliseconds) or an RFC 3339 string (`2026-12-07T10:00:00.250+01:00`).
    TimestampMs,
    /// A calendar day: a `YYYY-MM-DD` string or an integer of days since 1970-01-01.
    Date32,
    /// An exact decimal of `precision` digits, `scale` of them after the
    /// point: a JSON number or a string (`"1234.50"`); a value with more
    /// decimal places than `scale` is refused, never rounded.
    Decimal128,
    /// A JSON object with the declared `fields` (others are ignored).
    Struct,
    /// A JSON array whose items all fit `items`.
    List,
}

impl ParquetColumn {
    /// The decimal's precision and scale, as `check` accepted them.
    pub fn decimal(&self) -> (u8, i8) {
        (self.precision.unwrap_or(38), self.scale.unwrap_or(0))
    }

    /// The timestamp's zone, "UTC" unless the column names one.
    pub fn zone(&self) -> &str {
        self.timezone.as_deref().unwrap_or("UTC")
    }

    /// A struct's fields (none for other types).
    pub fn fields(&self) -> &[ParquetColumn] {
        self.fields.as_deref().unwrap_or_default()
    }

    /// A list's items (`check` made sure a list has them).
    pub fn item(&self) -> &ParquetColumn {
        self.items.as_deref().unwrap_or(self)
    }

    /// Type options that belong to the column's type, in range; a struct's
    /// fields and a list's items checked the same way. The caller names the
    /// column (or field) in front of the message.
    fn check(&self) -> Result<(), String> {
        let only = |what: &str, kind: &str| format!("`{what}` applies to {kind} columns only");
        match (self.kind, &self.fields) {
            (ColumnType::Struct, None) => {
                return Err(
                    "a struct column needs `fields = [{ name = \"…\", type = \"…\" }, …]`".into(),
                );
            }
            (ColumnType::Struct, Some(fields)) => check_names(fields, "field")?,
            (_, Some(_)) => return Err(only("fields", "struct")),
            _ => {}
        }
        match (self.kind, &self.items) {
            (ColumnType::List, None) => {
                return Err("a list column needs `items = { type = \"…\" }`".into());
            }
            (ColumnType::List, Some(items)) if !items.name.is_empty() => {
                return Err("a list's `items` take no name".into());
            }
            (ColumnType::List, Some(items)) => items.check().map_err(|e| format!("items: {e}"))?,
            (_, Some(_)) => return Err(only("items", "list")),
            _ => {}
        }
        if self.kind != ColumnType::Decimal128 {
            if self.precision.is_some() {
                return Err(only("precision", "decimal128"));
            }
            if self.scale.is_some() {
                return Err(only("scale", "decimal128"));
            }
        }
        if self.kind != ColumnType::TimestampMs && self.timezone.is_some() {
            return Err(only("timezone", "timestamp_ms"));
        }
        if self.kind == ColumnType::Decimal128 {
            let (Some(p), Some(s)) = (self.precision, self.scale) else {
                return Err("a decimal128 column needs `precision` (1 to 38) and `scale` (0 to precision), e.g. precision = 12, scale = 2".into());
            };
            if !(1..=38).contains(&p) || s < 0 || s as u8 > p {
                return Err(format!(
                    "precision {p} and scale {s} are out of range; precision is 1 to 38, scale 0 to precision"
                ));
            }
        }
        if let Some(zone) = &self.timezone
            && zone != "UTC"
            && zone.parse::<arrow_array::timezone::Tz>().is_err()
        {
            return Err(format!(
                "timezone `{zone}` is not one this host knows; write \"UTC\" or a fixed offset such as \"+01:00\""
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParquetCompression {
    None,
    Snappy,
    #[default]
    Zstd,
}

impl ParquetSinkConfig {
    /// The dataset's root: the one opened at resolve time, or opened now for
    /// a config built in code.
    pub fn open_output(&self) -> Result<Output, ParquetError> {
        match &self.output {
            Some(o) => Ok(o.clone()),
            None => Output::open(&self.path, &self.storage),
        }
    }

    /// Columns named once, partition columns among them, sizes above zero.
    fn check(&self) -> Result<(), Invalid> {
        if self.path.trim().is_empty() {
            return Err(Invalid::new(
                "path",
                "must name a folder or an object store URL",
            ));
        }
        if self.columns.is_empty() {
            return Err(Invalid::new("columns", "declare at least one column"));
        }
        check_names(&self.columns, "column").map_err(|m| Invalid::new("columns", m))?;
        for part in &self.partition_by {
            let Some(c) = self.columns.iter().find(|c| &c.name == part) else {
                return Err(Invalid::new(
                    "partition_by",
                    format!("`{part}` is not one of the declared columns"),
                ));
            };
            if matches!(c.kind, ColumnType::Struct | ColumnType::List) {
                return Err(Invalid::new(
                    "partition_by",
                    format!(
                        "`{part}` is a {} column; a folder needs a single value",
                        if c.kind == ColumnType::Struct {
                            "struct"
                        } else {
                            "list"
                        }
                    ),
                ));
            }
        }
        if self.partition_by.len() >= self.columns.len() {
            return Err(Invalid::new(
                "partition_by",
                "every column is a partition column; the files would have no columns",
            ));
        }
        if self.row_group_size == 0 || self.max_buffered_rows == 0 {
            return Err(Invalid::new(
                "row_group_size",
                "row_group_size and max_buffered_rows must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Columns (or a struct's fields) named once, each checked.
fn check_names(columns: &[ParquetColumn], what: &str) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for c in columns {
        if c.name.is_empty() || !seen.insert(c.name.as_str()) {
            return Err(format!("{what} `{}` is empty or named twice", c.name));
        }
        c.check().map_err(|e| format!("{what} `{}`: {e}", c.name))?;
    }
    Ok(())
}

impl SinkConnector for ParquetSinkConfig {
    fn kind(&self) -> &'static str {
        "parquet"
    }

    fn resolve(&mut self, _cx: &ResolveContext<'_>) -> Result<(), Invalid> {
        self.check()?;
        let output = Output::open(&self.path, &self.storage)
            .map_err(|e| Invalid::new("path", e.to_string()))?;
        self.output = Some(output);
        Ok(())
    }

    /// A local folder as [`folder_verdict`] sees it, or a bucket that must
    /// answer and take a write now.
    fn describe(&self, _cx: &DescribeContext<'_>) -> PlanLine {
        let (level, verdict) = match self.open_output() {
            Err(e) => (Level::Error, e.to_string()),
            Ok(Output::Folder(dir)) => folder_verdict(&dir),
            Ok(bucket) => match bucket.probe_bucket() {
                Some(Err(e)) => (Level::Error, e.to_string()),
                _ => (Level::Ok, "bucket answers and takes writes".into()),
            },
        };
        (
            level,
            format!(
                "sink: parquet {} partitioned by {} ({} columns): {verdict}",
                self.path,
                self.partition_by.join("/"),
                self.columns.len()
            ),
        )
    }

    fn summary(&self) -> String {
        format!("parquet({}, by {})", self.path, self.partition_by.join("/"))
    }

    fn open(&self, cx: &OpenContext<'_>) -> Result<Box<dyn Sink>, SinkError> {
        Ok(Box::new(ParquetSink::new(self, cx.name)?))
    }
}
