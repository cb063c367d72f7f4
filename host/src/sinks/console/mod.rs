//! `[sink.console]`: each batch as a table (nested JSON objects flattened to
//! dotted columns) or as JSON lines. Records with a `weir.section` header (an
//! aggregator's report) are printed as one titled table per section.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use futures::future::BoxFuture;

use super::{Rejected, Sink, SinkError};
use crate::kafka::produce::Pending;
use crate::record::{Batch, RecordView};

mod config;

pub use config::{ConsoleFormat, ConsoleSinkConfig};

/// The header naming the report section a record belongs to.
pub const SECTION_HEADER: &str = "weir.section";

fn section<'a>(r: &RecordView<'a>) -> Option<&'a str> {
    r.header(SECTION_HEADER)
        .and_then(|v| std::str::from_utf8(v).ok())
}

pub struct ConsoleSink {
    label: String,
    format: ConsoleFormat,
    max_rows: usize,
    batches: u64,
    records: u64,
}

impl ConsoleSink {
    pub fn new(label: String, format: ConsoleFormat, max_rows: usize) -> Self {
        ConsoleSink {
            label,
            format,
            max_rows,
            batches: 0,
            records: 0,
        }
    }

    pub fn write(&mut self, batch: &Batch) -> std::io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.batches += 1;
        self.records += batch.len() as u64;
        let text = match self.format {
            ConsoleFormat::Table if section(&batch.get(0)).is_some() => self.report(batch),
            ConsoleFormat::Table => self.table(batch),
            ConsoleFormat::Json => json_lines(batch),
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// A report: one titled table per run of records with the same section.
    fn report(&self, batch: &Batch) -> String {
        let mut out = format!("══ {} · report {} ══\n", self.label, self.batches);
        let views: Vec<RecordView<'_>> = batch.iter().collect();
        let mut rest = views.as_slice();
        while let Some(first) = rest.first() {
            let title = section(first).unwrap_or("RECORDS");
            let n = rest
                .iter()
                .position(|r| section(r) != Some(title))
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(n);
            out.push_str(&format!("{title}\n"));
            out.push_str(&render(run, self.max_rows, false).0);
            out.push('\n');
            rest = tail;
        }
        out
    }

    fn table(&self, batch: &Batch) -> String {
        let views: Vec<RecordView<'_>> = batch.iter().take(self.max_rows).collect();
        let (table, shown) = render(&views, self.max_rows, true);
        let more = if batch.len() > shown {
            format!(", showing {shown}")
        } else {
            String::new()
        };
        format!(
            "── {} · batch {} · {} records{more} · {} total ──\n{table}\n",
            self.label,
            self.batches,
            batch.len(),
            self.records
        )
    }
}

/// Up to `max_rows` records as an aligned table, and how many rows it shows.
fn render(batch: &[RecordView<'_>], max_rows: usize, with_key: bool) -> (String, usize) {
    let rows: Vec<(String, Vec<(String, String)>)> = batch
        .iter()
        .take(max_rows)
        .map(|r| {
            let key = r
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            let mut cells = Vec::new();
            match r.value().map(serde_json::from_slice::<Value>) {
                Some(Ok(v)) => flatten("", &v, &mut cells),
                Some(Err(_)) => cells.push((
                    "value".into(),
                    String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned(),
                )),
                None => cells.push(("value".into(), "∅ (tombstone)".into())),
            }
            (key, cells)
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for (_, cells) in &rows {
        for (c, _) in cells {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = Vec::new();
    if with_key {
        header.push("key".to_string());
    }
    header.extend(columns.iter().cloned());
    table.set_header(header);
    let shown = rows.len();
    for (key, cells) in rows {
        let mut row = Vec::new();
        if with_key {
            row.push(key);
        }
        for c in &columns {
            row.push(
                cells
                    .iter()
                    .find(|(n, _)| n == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            );
        }
        table.add_row(row);
    }
    (table.to_string(), shown)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::String(s) => out.push((prefix_or_value(prefix), s.clone())),
        other => out.push((prefix_or_value(prefix), other.to_string())),
    }
}

fn prefix_or_value(prefix: &str) -> String {
    if prefix.is_empty() {
        "value".into()
    } else {
        prefix.into()
    }
}

fn json_lines(batch: &Batch) -> String {
    let mut s = String::new();
    for r in batch.iter() {
        let value = match r.value() {
            None => Value::Null,
            Some(v) => serde_json::from_slice(v)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(v).into_owned())),
        };
        let mut line = serde_json::json!({
            "key": r.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            "value": value,
            "timestamp_ms": r.timestamp_ms(),
        });
        if let Some(o) = r.origin() {
            line["partition"] = o.partition.into();
            line["offset"] = o.offset.into();
        }
        if let Some(s) = section(&r) {
            line["section"] = s.into();
        }
        s.push_str(&line.to_string());
        s.push('\n');
    }
    s
}

impl Sink for ConsoleSink {
    fn kind(&self) -> &'static str {
        "console"
    }

    fn send<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<(Rejected, Option<Pending>), SinkError>> {
        let written = self.write(batch).map_err(|e| SinkError::Connector {
            kind: "console",
            retryable: false,
            source: format!("console: {e}").into(),
        });
        Box::pin(async move { written.map(|()| (Vec::new(), None)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn nested_objects_become_dotted_columns() {
        let sink = ConsoleSink::new("t".into(), ConsoleFormat::Table, 10);
        let batch = Batch::from_records(&[Record {
            key: Some(b"CUST-1".to_vec()),
            value: Some(br#"{"a":1,"location":{"city":"Paris"}}"#.to_vec()),
            headers: vec![],
            timestamp_ms: 0,
            origin: None,
        }]);
        let t = sink.table(&batch);
        assert!(t.contains("location.city"), "{t}");
        assert!(t.contains("Paris") && t.contains("CUST-1"), "{t}");
    }

    #[test]
    fn sections_become_titled_tables_in_order() {
        let sink = ConsoleSink::new("t".into(), ConsoleFormat::Table, 10);
        let row = |s: &str, v: &str| Record {
            key: None,
            value: Some(v.as_bytes().to_vec()),
            headers: vec![(SECTION_HEADER.into(), s.as_bytes().to_vec())],
            timestamp_ms: 0,
            origin: None,
        };
        let batch = Batch::from_records(&[
            row("SUMMARY", r#"{"date":"2026-11-23","total":"1,234.50"}"#),
            row("DETAILS", r#"{"event_id":"e1"}"#),
            row("DETAILS", r#"{"event_id":"e2"}"#),
        ]);
        let t = sink.report(&batch);
        let (s, d) = (t.find("SUMMARY").unwrap(), t.find("DETAILS").unwrap());
        assert!(s < d, "{t}");
        assert!(t.contains("1,234.50") && t.contains("e2"), "{t}");
        assert!(!t.contains("key"), "{t}");
        let j = json_lines(&batch);
        assert!(j.lines().all(|l| l.contains("\"section\"")), "{j}");
    }
}
