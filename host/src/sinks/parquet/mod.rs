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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};

use futures::future::BoxFuture;

use super::{Rejected, SCHEMA_MISMATCH, Sink, SinkError};
use crate::kafka::produce::Pending;
use crate::record::Batch;
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
    partition_by: Vec<String>,
    /// The columns that go into the files (partition columns are folders).
    schema: SchemaRef,
    compression: Compression,
    row_group_size: usize,
    max_buffered: usize,
    /// Rows waiting for the next checkpoint, by partition folder.
    buffer: BTreeMap<String, Vec<Map<String, Value>>>,
    buffered: usize,
    /// Files written so far under the next checkpoint's sequence.
    written_in_sequence: (u64, usize),
}

impl ParquetSink {
    pub fn new(cfg: &ParquetSinkConfig, connector: &str) -> Result<Self, ParquetError> {
        let fields: Vec<Field> = cfg
            .columns
            .iter()
            .filter(|c| !cfg.partition_by.contains(&c.name))
            .map(|c| Field::new(&c.name, arrow_type(c.kind), c.nullable))
            .collect();
        let compression = match cfg.compression {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        Ok(ParquetSink {
            output: cfg.open_output()?,
            connector: connector.to_string(),
            run: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
            columns: cfg.columns.clone(),
            partition_by: cfg.partition_by.clone(),
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

    /// Buffers every record that fits the schema; returns the others with the
    /// reason (which column, what was wrong), for the DLQ.
    pub fn write(&mut self, batch: &Batch) -> Rejected {
        let mut rejected = Vec::new();
        for (i, r) in batch.iter().enumerate() {
            match self.row(r.value()) {
                Ok((folder, row)) => {
                    self.buffer.entry(folder).or_default().push(row);
                    self.buffered += 1;
                }
                Err(reason) => rejected.push((i, Rejection::new(SCHEMA_MISMATCH, reason))),
            }
        }
        rejected
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
        for folder in &folders {
            let name = format!(
                "{}-{}-{sequence:010}-{k:04}.parquet",
                self.connector, self.run
            );
            let rows = self.buffer.get(folder).map_or(&[][..], Vec::as_slice);
            let bytes = self
                .encode(rows, sequence)
                .map_err(|reason| ParquetError::Encode {
                    file: format!("{}/{folder}/{name}", self.output.describe()),
                    reason,
                })?;
            written.push(self.output.put(folder, &name, bytes)?);
            // Only rows that are in a file put whole leave the buffer: a
            // failed attempt keeps the rest for the next one.
            if let Some(rows) = self.buffer.remove(folder) {
                self.buffered = self.buffered.saturating_sub(rows.len());
            }
        }
        self.output.sync(&folders)?;
        Ok(written)
    }

    /// One Parquet file of `rows`, in memory.
    fn encode(&self, rows: &[Map<String, Value>], sequence: u64) -> Result<Vec<u8>, String> {
        let arrays = self
            .schema
            .fields()
            .iter()
            .map(|f| column_array(f, rows))
            .collect::<Vec<_>>();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())?;
        // The footer names the run and checkpoint whose source positions cover the rows.
        let props = WriterProperties::builder()
            .set_compression(self.compression)
            .set_max_row_group_row_count(Some(self.row_group_size))
            .set_created_by(format!("weir {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                KeyValue::new("weir.connector".into(), self.connector.clone()),
                KeyValue::new("weir.run".into(), self.run.clone()),
                KeyValue::new("weir.checkpoint".into(), sequence.to_string()),
            ]))
            .build();
        let mut writer = ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(props))
            .map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
        writer.into_inner().map_err(|e| e.to_string())
    }

    /// Checks a record against the schema: the partition folder and the row.
    fn row(&self, value: Option<&[u8]>) -> Result<(String, Map<String, Value>), String> {
        let value = value.ok_or("the record has no value (tombstone)")?;
        let mut row = match serde_json::from_slice::<Value>(value) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err("the value is not a JSON object".into()),
            Err(e) => return Err(format!("the value is not JSON: {e}")),
        };
        for c in &self.columns {
            let v = row.get(&c.name).unwrap_or(&Value::Null);
            check_cell(c, v).map_err(|m| format!("column `{}`: {m}", c.name))?;
        }
        let mut folder = String::new();
        for p in &self.partition_by {
            let v = row.remove(p).unwrap_or(Value::Null);
            let text = match v {
                Value::Null => NULL_PARTITION.to_string(),
                Value::String(s) if s.is_empty() => NULL_PARTITION.to_string(),
                Value::String(s) => escape(&s),
                other => escape(&other.to_string()),
            };
            if !folder.is_empty() {
                folder.push('/');
            }
            folder.push_str(&format!("{p}={text}"));
        }
        Ok((folder, row))
    }
}

fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::String => DataType::Utf8,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::TimestampMs => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
    }
}

/// Whether a JSON value fits a column, in words when it does not.
fn check_cell(c: &ParquetColumn, v: &Value) -> Result<(), String> {
    let fits = match (c.kind, v) {
        (_, Value::Null) => {
            return if c.nullable {
                Ok(())
            } else {
                Err("missing or null, but the column is not nullable".into())
            };
        }
        (ColumnType::String, Value::String(_)) => true,
        (ColumnType::Int32, Value::Number(n)) => {
            n.as_i64().is_some_and(|i| i32::try_from(i).is_ok())
        }
        (ColumnType::Int64 | ColumnType::TimestampMs, Value::Number(n)) => n.as_i64().is_some(),
        (ColumnType::Float64, Value::Number(n)) => n.as_f64().is_some(),
        (ColumnType::Boolean, Value::Bool(_)) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        let shown: String = v.to_string().chars().take(60).collect();
        Err(format!("expected {:?}, got {shown}", c.kind).to_lowercase())
    }
}

/// One column of the rows, all of which passed `check_cell`.
fn column_array(field: &Field, rows: &[Map<String, Value>]) -> ArrayRef {
    let cells = rows.iter().map(|r| r.get(field.name()));
    match field.data_type() {
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            cells.for_each(|v| b.append_option(v.and_then(Value::as_str)));
            Arc::new(b.finish())
        }
        DataType::Int32 => {
            let mut b = Int32Builder::new();
            cells.for_each(|v| {
                b.append_option(
                    v.and_then(Value::as_i64)
                        .and_then(|i| i32::try_from(i).ok()),
                )
            });
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            cells.for_each(|v| b.append_option(v.and_then(Value::as_i64)));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            cells.for_each(|v| b.append_option(v.and_then(Value::as_f64)));
            Arc::new(b.finish())
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            cells.for_each(|v| b.append_option(v.and_then(Value::as_bool)));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = TimestampMillisecondBuilder::new().with_timezone("UTC");
            cells.for_each(|v| b.append_option(v.and_then(Value::as_i64)));
            Arc::new(b.finish())
        }
    }
}

/// A partition value as a folder name: letters, digits and `-_.:` stay, the
/// rest is percent-encoded (pyarrow and Spark decode it).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

    #[test]
    fn partition_values_are_escaped() {
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
