//! The Parquet sink: records' JSON values become rows of a declared Arrow
//! schema, written as Parquet files in Hive-style partition folders
//! (`network_id=3/minute_timestamp=2026-11-23T10:05/`).
//!
//! Effectively-once: rows are buffered and written only when a checkpoint is
//! taken, under names that carry the connector's run id and the checkpoint's
//! sequence number (`NAME-RUN-SEQ-K.parquet`), each file whole or not at all
//! (see [`output`]: a local folder or an object store's bucket). If the host
//! dies between the files and the checkpoint, the restart deletes the files of
//! sequences the checkpoint does not cover; the restored state emits those
//! rows again.

mod output;
mod rows;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use futures::future::BoxFuture;

use super::{Rejected, SCHEMA_MISMATCH, Sink, SinkError};
use crate::kafka::produce::Pending;
use crate::record::Batch;
use rows::{Cell, ColumnBuilder};
use weir_sdk::Rejection;

mod config;

pub use config::{
    ColumnType, ParquetColumn, ParquetCompression, ParquetSinkConfig, StorageOptions,
};
pub use output::Output;

/// The folder name Hive, Spark and pyarrow use for a null partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("parquet sink: {action} {}: {source}; check that the folder exists and is writable", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "parquet sink: {action} {url}: {reason}; check that the bucket exists, that the credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION; AWS_ENDPOINT_URL and AWS_ALLOW_HTTP for a local server) may write to it, and that the endpoint answers"
    )]
    Store {
        action: &'static str,
        url: String,
        /// The store's answer in one line (see [`output::store_reason`]).
        reason: String,
    },
    #[error(
        "parquet sink: `{url}` is not an object store URL this host can open: {reason}; write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX, or a local folder"
    )]
    Url { url: String, reason: String },
    #[error("parquet sink: cannot encode {file}: {reason}")]
    Encode { file: String, reason: String },
}

impl ParquetError {
    /// The output could not be reached or written (a full disk, a bucket that
    /// refuses writes): the pipeline pauses and retries instead of failing.
    pub fn is_io(&self) -> bool {
        matches!(self, ParquetError::Io { .. } | ParquetError::Store { .. })
    }
}

impl From<ParquetError> for SinkError {
    fn from(e: ParquetError) -> Self {
        SinkError::Connector {
            kind: "parquet",
            retryable: e.is_io(),
            source: Box::new(e),
        }
    }
}

/// What a restart cleaned up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Files of sequences past the checkpoint: their rows are emitted again.
    pub uncommitted: usize,
    /// Temporary files of an interrupted write.
    pub temporary: usize,
}

pub struct ParquetSink {
    output: Output,
    connector: String,
    /// Identifies this connector's dataset across restarts (kept in checkpoints).
    run: String,
    columns: Vec<ParquetColumn>,
    /// The columns that go into the files (partition columns are folders).
    schema: SchemaRef,
    compression: Compression,
    row_group_size: usize,
    max_buffered: usize,
    /// Indices into `columns` of the columns that go into the files.
    file_columns: Vec<usize>,
    /// Indices into `columns` of the partition columns, in `partition_by` order.
    partition_columns: Vec<usize>,
    /// Rows waiting for the next checkpoint, by partition folder.
    buffer: BTreeMap<String, FolderRows>,
    buffered: usize,
    /// Files written so far under the next checkpoint's sequence.
    written_in_sequence: (u64, usize),
}

impl ParquetSink {
    pub fn new(cfg: &ParquetSinkConfig, connector: &str) -> Result<Self, ParquetError> {
        let file_columns: Vec<usize> = (0..cfg.columns.len())
            .filter(|&i| !cfg.partition_by.contains(&cfg.columns[i].name))
            .collect();
        let fields: Vec<Field> = file_columns
            .iter()
            .map(|&i| field(&cfg.columns[i]))
            .collect();
        let compression = match cfg.compression {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        let index = |name: &String| cfg.columns.iter().position(|c| &c.name == name);
        Ok(ParquetSink {
            output: cfg.open_output()?,
            connector: connector.to_string(),
            run: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
            file_columns,
            // `check` made every partition column a declared one.
            partition_columns: cfg.partition_by.iter().filter_map(index).collect(),
            columns: cfg.columns.clone(),
            schema: Arc::new(Schema::new(fields)),
            compression,
            row_group_size: cfg.row_group_size,
            max_buffered: cfg.max_buffered_rows,
            buffer: BTreeMap::new(),
            buffered: 0,
            written_in_sequence: (0, 0),
        })
    }

    /// Where the dataset goes, as the connector names it.
    pub fn root(&self) -> String {
        self.output.describe()
    }

    /// Appends every record that fits the schema to its partition's columns;
    /// returns the others with the reason (which column, what was wrong), for
    /// the DLQ.
    pub fn write(&mut self, batch: &Batch) -> Rejected {
        let mut rejected = Vec::new();
        let mut cells = Vec::with_capacity(self.columns.len());
        let mut folder = String::new();
        for (i, r) in batch.iter().enumerate() {
            let value = r.value();
            let fits = value.is_some_and(|v| rows::decode(v, &self.columns, &mut cells).is_ok())
                && cells
                    .iter()
                    .zip(&self.columns)
                    .all(|(cell, c)| cell.fits(c));
            if fits {
                self.append(&cells, &mut folder);
            } else {
                let reason = self.explain(value);
                rejected.push((i, Rejection::new(SCHEMA_MISMATCH, reason)));
            }
        }
        rejected
    }

    /// Appends a row whose cells all fit to its partition folder's builders.
    fn append(&mut self, cells: &[Cell<'_>], folder: &mut String) {
        folder.clear();
        for &p in &self.partition_columns {
            cells[p].push_partition(&self.columns[p].name, folder);
        }
        let rows = match self.buffer.get_mut(folder.as_str()) {
            Some(rows) => rows,
            None => {
                let rows = FolderRows::new(&self.columns, &self.file_columns);
                self.buffer.entry(folder.clone()).or_insert(rows)
            }
        };
        rows.append(cells, &self.columns, &self.file_columns);
        self.buffered += 1;
    }

    /// More rows are waiting than `max_buffered_rows`: time for a checkpoint.
    pub fn wants_flush(&self) -> bool {
        self.buffered >= self.max_buffered
    }

    /// The run id, saved in checkpoints so a restart knows its own files.
    pub fn state(&self) -> Vec<u8> {
        self.run.as_bytes().to_vec()
    }

    /// Takes the run id of the last checkpoint (sequence `sequence`) and removes
    /// what that checkpoint does not cover: this run's files of later sequences
    /// and every temporary file of this connector. Without a checkpoint only
    /// temporary files go; files of other runs are never touched.
    pub fn recover(
        &mut self,
        state: Option<&[u8]>,
        sequence: u64,
    ) -> Result<Recovered, ParquetError> {
        if let Some(run) = state.and_then(|s| std::str::from_utf8(s).ok()) {
            self.run = run.to_string();
        }
        let mut done = Recovered::default();
        let own = format!("{}-{}-", self.connector, self.run);
        let tmp = format!(".{}-", self.connector);
        for file in self.output.files()? {
            let name = file.name.as_str();
            let stale = if name.starts_with(&tmp) && name.ends_with(".tmp") {
                done.temporary += 1;
                true
            } else if state.is_some()
                && let Some(rest) = name.strip_prefix(&own)
                && let Some(seq) = rest.split('-').next().and_then(|s| s.parse::<u64>().ok())
                && seq > sequence
            {
                done.uncommitted += 1;
                true
            } else {
                false
            };
            if stale {
                self.output.remove(&file.location)?;
            }
        }
        Ok(done)
    }

    /// Writes the buffered rows, one file per partition folder, named for
    /// checkpoint `sequence`; every file is whole and durable before this
    /// returns. Returns where the files went.
    pub fn flush(&mut self, sequence: u64) -> Result<Vec<String>, ParquetError> {
        if self.written_in_sequence.0 != sequence {
            self.written_in_sequence = (sequence, 0);
        }
        // Every attempt gets its own file number: rows that arrive after a
        // failed attempt never overwrite a file an earlier attempt put.
        let k = self.written_in_sequence.1;
        self.written_in_sequence.1 += 1;
        let mut written = Vec::new();
        let folders: Vec<String> = self.buffer.keys().cloned().collect();
        let props = self.properties(sequence);
        for folder in &folders {
            let name = format!(
                "{}-{}-{sequence:010}-{k:04}.parquet",
                self.connector, self.run
            );
            let Some(rows) = self.buffer.get_mut(folder) else {
                continue;
            };
            let encoded = rows
                .seal(&self.schema, &self.columns, &self.file_columns)
                .and_then(|batches| encode(&self.schema, props.clone(), batches));
            let bytes = encoded.map_err(|reason| ParquetError::Encode {
                file: format!("{}/{folder}/{name}", self.output.describe()),
                reason,
            })?;
            written.push(self.output.put(folder, &name, bytes)?);
            // Only rows that are in a file put whole leave the buffer: a
            // failed attempt keeps the rest for the next one.
            if let Some(rows) = self.buffer.remove(folder) {
                self.buffered = self.buffered.saturating_sub(rows.rows);
            }
        }
        self.output.sync(&folders)?;
        Ok(written)
    }

    /// The writer's settings for files of checkpoint `sequence`: the footer
    /// names the run and checkpoint whose source positions cover the rows.
    fn properties(&self, sequence: u64) -> WriterProperties {
        WriterProperties::builder()
            .set_compression(self.compression)
            .set_max_row_group_row_count(Some(self.row_group_size))
            .set_created_by(format!("weir {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                KeyValue::new("weir.connector".into(), self.connector.clone()),
                KeyValue::new("weir.run".into(), self.run.clone()),
                KeyValue::new("weir.checkpoint".into(), sequence.to_string()),
            ]))
            .build()
    }

    /// Why a record does not fit the schema, in words: the first column that
    /// does not fit and what it holds. Reads the value as a `Value` tree; only
    /// rejected records come here.
    fn explain(&self, value: Option<&[u8]>) -> String {
        let Some(value) = value else {
            return "the record has no value (tombstone)".into();
        };
        let row = match serde_json::from_slice::<Value>(value) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return "the value is not a JSON object".into(),
            Err(e) => return format!("the value is not JSON: {e}"),
        };
        for c in &self.columns {
            let v = row.get(&c.name).unwrap_or(&Value::Null);
            let Some(misfit) = Cell::of_value(v, c).misfit(c) else {
                continue;
            };
            let shown: String = v.to_string().chars().take(60).collect();
            return format!(
                "column `{}`: {}",
                c.name,
                misfit.describe_shown(c, &shown, "the column is")
            );
        }
        "the value does not fit the declared columns".into()
    }
}

/// One Parquet file of `batches`, in memory.
fn encode(
    schema: &SchemaRef,
    props: WriterProperties,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, String> {
    let mut writer =
        ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).map_err(|e| e.to_string())?;
    for batch in batches {
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

/// One partition folder's rows waiting for a checkpoint: the columns being
/// built, and batches sealed by a flush that could not put them.
struct FolderRows {
    builders: Vec<ColumnBuilder>,
    building: usize,
    sealed: Vec<RecordBatch>,
    /// All rows held, built and sealed.
    rows: usize,
}

impl FolderRows {
    fn new(columns: &[ParquetColumn], file_columns: &[usize]) -> Self {
        FolderRows {
            builders: file_columns
                .iter()
                .map(|&i| ColumnBuilder::new(&columns[i]))
                .collect(),
            building: 0,
            sealed: Vec::new(),
            rows: 0,
        }
    }

    fn append(&mut self, cells: &[Cell<'_>], columns: &[ParquetColumn], file_columns: &[usize]) {
        for (b, &i) in self.builders.iter_mut().zip(file_columns) {
            b.append(&cells[i], &columns[i]);
        }
        self.building += 1;
        self.rows += 1;
    }

    /// Every row held, as record batches (the columns built so far are
    /// sealed into one, so a failed put keeps them).
    fn seal(
        &mut self,
        schema: &SchemaRef,
        columns: &[ParquetColumn],
        file_columns: &[usize],
    ) -> Result<&[RecordBatch], String> {
        if self.building > 0 {
            let arrays = self
                .builders
                .iter_mut()
                .zip(file_columns)
                .map(|(b, &i)| b.finish(&columns[i]))
                .collect::<Result<Vec<_>, _>>()?;
            let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
            self.sealed.push(batch);
            self.building = 0;
        }
        Ok(&self.sealed)
    }
}

/// The Arrow type a column is written as.
fn arrow_type(c: &ParquetColumn) -> DataType {
    match c.kind {
        ColumnType::String => DataType::Utf8,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::TimestampMs => {
            DataType::Timestamp(TimeUnit::Millisecond, Some(c.zone().into()))
        }
        ColumnType::Date32 => DataType::Date32,
        ColumnType::Decimal128 => {
            let (precision, scale) = c.decimal();
            DataType::Decimal128(precision, scale)
        }
        ColumnType::Struct => DataType::Struct(c.fields().iter().map(field).collect()),
        ColumnType::List => {
            let item = c.item();
            DataType::List(Arc::new(Field::new(
                "item",
                arrow_type(item),
                item.nullable,
            )))
        }
    }
}

fn field(c: &ParquetColumn) -> Field {
    Field::new(&c.name, arrow_type(c), c.nullable)
}

/// A partition value as a folder name: letters, digits and `-_.:` stay, the
/// rest is percent-encoded (pyarrow and Spark decode it).
fn escape_into(value: &str, out: &mut String) {
    use std::fmt::Write as _;
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':') {
            out.push(b as char);
        } else {
            _ = write!(out, "%{b:02X}");
        }
    }
}

impl Sink for ParquetSink {
    fn kind(&self) -> &'static str {
        "parquet"
    }

    /// Rows wait for the next checkpoint ([`Sink::flush`]).
    fn send<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<(Rejected, Option<Pending>), SinkError>> {
        let rejected = self.write(batch);
        Box::pin(async move { Ok((rejected, None)) })
    }

    fn flush(&mut self, sequence: u64) -> Result<Option<Vec<u8>>, SinkError> {
        let files = ParquetSink::flush(self, sequence)?;
        if !files.is_empty() {
            tracing::debug!(files = files.len(), sequence, "Parquet files written.");
        }
        Ok(Some(self.state()))
    }

    fn wants_flush(&self) -> bool {
        ParquetSink::wants_flush(self)
    }

    fn recover(&mut self, state: Option<&[u8]>, sequence: u64) -> Result<(), SinkError> {
        let done = ParquetSink::recover(self, state, sequence)?;
        if done.uncommitted + done.temporary > 0 {
            tracing::info!(
                connector = %self.connector,
                root = %self.root(),
                uncommitted = done.uncommitted,
                temporary = done.temporary,
                "Removed Parquet files the last checkpoint does not cover; their rows are written again."
            );
        }
        Ok(())
    }

    fn names_output_by_checkpoint(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use arrow_array::Array;
    use output::files_under;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::fs;
    use std::path::Path;

    fn config(root: &Path) -> ParquetSinkConfig {
        let text = format!(
            r#"
path = "{}"
partition_by = ["network_id", "minute"]
columns = [
    {{ name = "campaign_id", type = "int64", nullable = false }},
    {{ name = "network_id", type = "int64" }},
    {{ name = "minute", type = "string", nullable = false }},
    {{ name = "avg", type = "float64", nullable = false }},
    {{ name = "start", type = "timestamp_ms" }},
    {{ name = "name", type = "string" }},
]
"#,
            root.display()
        );
        toml::from_str(&text).unwrap()
    }

    fn rec(json: &str) -> Record {
        Record {
            key: None,
            value: Some(json.as_bytes().to_vec()),
            headers: vec![],
            timestamp_ms: 0,
            origin: None,
        }
    }

    fn parquet_files(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = files_under(root)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_flush_keeps_the_rows_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = ParquetSink::new(&config(dir.path()), "c").unwrap();
        sink.write(&Batch::from_records(&[
            rec(r#"{"campaign_id": 1, "network_id": 7, "minute": "m", "avg": 1}"#),
            rec(r#"{"campaign_id": 2, "network_id": 8, "minute": "m", "avg": 1}"#),
        ]));
        // A file where folder network_id=8 must go: that folder cannot be made.
        fs::write(dir.path().join("network_id=8"), b"in the way").unwrap();
        let err = sink.flush(1).unwrap_err();
        assert!(matches!(err, ParquetError::Io { .. }), "{err}");
        let run = String::from_utf8(sink.state()).unwrap();
        assert_eq!(
            parquet_files(dir.path()),
            vec![
                "network_id=7/minute=m/c-{run}-0000000001-0000.parquet".replace("{run}", &run),
                "network_id=8".to_string(),
            ],
            "the folder that could be written was, nothing else is visible"
        );
        fs::remove_file(dir.path().join("network_id=8")).unwrap();
        let written = sink.flush(2).unwrap();
        assert_eq!(written.len(), 1, "only the rows not written before");
        assert!(written[0].ends_with(&format!(
            "network_id=8/minute=m/c-{run}-0000000002-0000.parquet"
        )));
        assert!(sink.flush(3).unwrap().is_empty());
    }

    #[test]
    fn rows_land_in_partition_folders_and_misfits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = ParquetSink::new(&config(dir.path()), "c").unwrap();
        let batch = Batch::from_records(&[
            rec(
                r#"{"campaign_id": 1, "network_id": 7, "minute": "2026-11-23T10:05", "avg": 1.5, "start": 1000, "extra": true}"#,
            ),
            rec(
                r#"{"campaign_id": 2, "network_id": 7, "minute": "2026-11-23T10:05", "avg": 2, "name": "b/c"}"#,
            ),
            rec(
                r#"{"campaign_id": 3, "network_id": null, "minute": "2026-11-23T10:06", "avg": 0.25}"#,
            ),
            rec(r#"{"campaign_id": "4", "network_id": 7, "minute": "x", "avg": 1}"#),
            rec(r#"{"campaign_id": 5, "network_id": 7, "avg": 1}"#),
            rec(r#"[1, 2]"#),
        ]);
        let rejected = sink.write(&batch);
        let reasons: Vec<String> = rejected.iter().map(|(i, r)| format!("{i} {r}")).collect();
        assert_eq!(
            reasons,
            vec![
                "3 schema_mismatch: column `campaign_id`: expected int64, got \"4\"",
                "4 schema_mismatch: column `minute`: missing or null, but the column is not nullable",
                "5 schema_mismatch: the value is not a JSON object",
            ]
        );
        let written = sink.flush(4).unwrap();
        assert_eq!(written.len(), 2);
        let run = String::from_utf8(sink.state()).unwrap();
        assert_eq!(
            parquet_files(dir.path()),
            vec![
                format!("network_id=7/minute=2026-11-23T10:05/c-{run}-0000000004-0000.parquet"),
                format!(
                    "network_id=__HIVE_DEFAULT_PARTITION__/minute=2026-11-23T10:06/c-{run}-0000000004-0000.parquet"
                ),
            ]
        );
        let file = fs::File::open(&written[0]).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .clone();
        assert!(
            meta.iter()
                .any(|kv| kv.key == "weir.checkpoint" && kv.value.as_deref() == Some("4"))
        );
        let batch = reader.build().unwrap().next().unwrap().unwrap();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["campaign_id", "avg", "start", "name"]);
        assert_eq!(batch.num_rows(), 2);
        let avg = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap();
        assert_eq!(avg.values(), &[1.5, 2.0]);
        let name = batch
            .column(3)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert!(name.is_null(0));
        assert_eq!(name.value(1), "b/c");
    }

    /// The old way: a `Value` tree, `check_cell` per column, the folder from
    /// the tree. The typed path must take and place exactly the same rows.
    fn by_value(sink: &ParquetSink, value: &[u8]) -> Option<String> {
        let Ok(Value::Object(row)) = serde_json::from_slice::<Value>(value) else {
            return None;
        };
        let cell = |name: &str| row.get(name).unwrap_or(&Value::Null);
        if sink
            .columns
            .iter()
            .any(|c| !Cell::of_value(cell(&c.name), c).fits(c))
        {
            return None;
        }
        let mut folder = String::new();
        for &p in &sink.partition_columns {
            let name = &sink.columns[p].name;
            let text = match cell(name) {
                Value::Null => NULL_PARTITION.to_string(),
                Value::String(s) if s.is_empty() => NULL_PARTITION.to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !folder.is_empty() {
                folder.push('/');
            }
            folder.push_str(name);
            folder.push('=');
            escape_into(&text, &mut folder);
        }
        Some(folder)
    }

    #[test]
    fn the_typed_path_takes_and_places_the_rows_the_value_path_does() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"
path = "{}"
partition_by = ["f", "b", "i"]
columns = [
    {{ name = "s", type = "string", nullable = false }},
    {{ name = "i32", type = "int32" }},
    {{ name = "i", type = "int64" }},
    {{ name = "f", type = "float64" }},
    {{ name = "b", type = "boolean" }},
    {{ name = "t", type = "timestamp_ms", nullable = false }},
    {{ name = "d", type = "date32" }},
    {{ name = "m", type = "decimal128", precision = 6, scale = 2 }},
    {{ name = "loc", type = "struct", fields = [
        {{ name = "city", type = "string", nullable = false }},
        {{ name = "n", type = "int32" }},
    ] }},
    {{ name = "tags", type = "list", items = {{ type = "int64", nullable = false }} }},
]
"#,
            dir.path().display()
        );
        let sink = ParquetSink::new(&toml::from_str(&text).unwrap(), "c").unwrap();
        let literals = [
            "null",
            "0",
            "1",
            "-1",
            "2147483647",
            "2147483648",
            "-2147483649",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "18446744073709551616",
            "1.0",
            "-0.0",
            "1.5e300",
            "0.1",
            "true",
            "false",
            r#""s""#,
            r#""2026-12-07""#,
            r#""2026-02-30""#,
            r#""12.345""#,
            "12.34",
            "1e3",
            r#""1970-01-01T00:00:01.5Z""#,
            r#""1970-01-01T00:00:01.5001Z""#,
            r#"{"city": "x"}"#,
            r#"{"city": 5}"#,
            r#"{"n": 1, "city": "a", "n": 3000000000}"#,
            r#"{"n": 7}"#,
            "[1, 2]",
            "[1, null]",
            "[]",
            r#"["a"]"#,
            "[[1]]",
            r#"[{"a": 1}]"#,
            r#""a\"b/c""#,
            r#""é ü=%""#,
            r#""""#,
            "[1, [2]]",
            r#"{"a": {"b": 1}}"#,
        ];
        let names = [
            "s", "i32", "i", "f", "b", "t", "d", "m", "loc", "tags", "other",
        ];
        let mut state = 7u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut values: Vec<String> = (0..4000)
            .map(|_| {
                // Each field present or not, some twice (the last one counts).
                let base = ["\"s\": \"x\"".to_string(), "\"t\": 5".to_string()];
                let fields: Vec<String> = (0..next(9))
                    .map(|_| {
                        let name = names[next(names.len())];
                        format!("\"{name}\": {}", literals[next(literals.len())])
                    })
                    .collect();
                let fields = if next(4) > 0 {
                    [&base[..], &fields].concat()
                } else {
                    fields
                };
                format!("{{{}}}", fields.join(", "))
            })
            .collect();
        values.extend(
            [
                "[1]",
                "\"x\"",
                "1",
                "{",
                r#"{"s": "a"} x"#,
                r#"{"s": "a", }"#,
                "{\"s\": \"\\ud800\"}",
            ]
            .map(String::from),
        );
        let mut cells = Vec::new();
        let mut taken = 0;
        for value in &values {
            let fast = rows::decode(value.as_bytes(), &sink.columns, &mut cells).is_ok()
                && cells
                    .iter()
                    .zip(&sink.columns)
                    .all(|(cell, c)| cell.fits(c));
            let expected = by_value(&sink, value.as_bytes());
            assert_eq!(fast, expected.is_some(), "{value}");
            if let Some(folder) = expected {
                let mut placed = String::new();
                for &p in &sink.partition_columns {
                    cells[p].push_partition(&sink.columns[p].name, &mut placed);
                }
                assert_eq!(placed, folder, "{value}");
                taken += 1;
            } else {
                assert_ne!(
                    sink.explain(Some(value.as_bytes())),
                    "the value does not fit the declared columns",
                    "{value}"
                );
            }
        }
        assert!(
            taken > 100,
            "only {taken} rows fit: the cases test too little"
        );
    }

    #[test]
    fn partition_values_are_escaped() {
        let escape = |v: &str| {
            let mut out = String::new();
            escape_into(v, &mut out);
            out
        };
        assert_eq!(escape("2026-11-23T10:05"), "2026-11-23T10:05");
        assert_eq!(escape("a/b c=d%"), "a%2Fb%20c%3Dd%25");
    }

    #[test]
    fn recovery_removes_what_the_checkpoint_does_not_cover() {
        let dir = tempfile::tempdir().unwrap();
        let row = r#"{"campaign_id": 1, "network_id": 7, "minute": "m", "avg": 1}"#;
        let mut sink = ParquetSink::new(&config(dir.path()), "c").unwrap();
        for seq in [1, 2, 3] {
            sink.write(&Batch::from_records(&[rec(row)]));
            sink.flush(seq).unwrap();
        }
        let state = sink.state();
        let folder = dir.path().join("network_id=7/minute=m");
        fs::write(folder.join(".c-x-0000000004-0000.parquet.tmp"), b"partial").unwrap();
        fs::write(
            folder.join("other-run-0000000009-0000.parquet"),
            b"not ours",
        )
        .unwrap();

        // A run without a checkpoint only clears temporary files.
        let mut fresh = ParquetSink::new(&config(dir.path()), "c").unwrap();
        assert_eq!(
            fresh.recover(None, 0).unwrap(),
            Recovered {
                uncommitted: 0,
                temporary: 1
            }
        );
        assert_eq!(parquet_files(dir.path()).len(), 4);

        let mut restarted = ParquetSink::new(&config(dir.path()), "c").unwrap();
        let done = restarted.recover(Some(&state), 1).unwrap();
        assert_eq!(
            done,
            Recovered {
                uncommitted: 2,
                temporary: 0
            }
        );
        let run = String::from_utf8(state).unwrap();
        assert_eq!(
            parquet_files(dir.path()),
            vec![
                format!("network_id=7/minute=m/c-{run}-0000000001-0000.parquet"),
                "network_id=7/minute=m/other-run-0000000009-0000.parquet".to_string(),
            ]
        );
        // The restarted sink writes the next sequence under the same run.
        restarted.write(&Batch::from_records(&[rec(row)]));
        let again = restarted.flush(2).unwrap();
        assert!(again[0].ends_with(&format!("c-{run}-0000000002-0000.parquet")));
    }
}
