//! `[sink.console]`: each batch as a table (nested JSON objects flattened to
//! dotted columns) or as JSON lines.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use crate::config::ConsoleFormat;
use crate::record::Batch;

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
            ConsoleFormat::Table => self.table(batch),
            ConsoleFormat::Json => json_lines(batch),
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    fn table(&self, batch: &Batch) -> String {
        let rows: Vec<(String, Vec<(String, String)>)> = batch
            .iter()
            .take(self.max_rows)
            .map(|r| {
                let key = r
                    .key
                    .as_deref()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                let mut cells = Vec::new();
                match r.value.as_deref().map(serde_json::from_slice::<Value>) {
                    Some(Ok(v)) => flatten("", &v, &mut cells),
                    Some(Err(_)) => cells.push((
                        "value".into(),
                        String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                            .into_owned(),
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
        let mut header = vec!["key".to_string()];
        header.extend(columns.iter().cloned());
        table.set_header(header);
        for (key, cells) in rows {
            let mut row = vec![key];
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
        let shown = batch.len().min(self.max_rows);
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
    for r in batch {
        let value = match r.value.as_deref() {
            None => Value::Null,
            Some(v) => serde_json::from_slice(v)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(v).into_owned())),
        };
        let mut line = serde_json::json!({
            "key": r.key.as_deref().map(|k| String::from_utf8_lossy(k).into_owned()),
            "value": value,
            "timestamp_ms": r.timestamp_ms,
        });
        if let Some(o) = &r.origin {
            line["partition"] = o.partition.into();
            line["offset"] = o.offset.into();
        }
        s.push_str(&line.to_string());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn nested_objects_become_dotted_columns() {
        let sink = ConsoleSink::new("t".into(), ConsoleFormat::Table, 10);
        let batch = vec![Record {
            key: Some(b"CUST-1".to_vec()),
            value: Some(br#"{"a":1,"location":{"city":"Paris"}}"#.to_vec()),
            headers: vec![],
            timestamp_ms: 0,
            origin: None,
        }];
        let t = sink.table(&batch);
        assert!(t.contains("location.city"), "{t}");
        assert!(t.contains("Paris") && t.contains("CUST-1"), "{t}");
    }
}
