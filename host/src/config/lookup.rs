//! CSV lookup tables (`[lookup.NAME]`): read and checked when the connector is
//! loaded, then handed to the stages that name them inside their `init` config,
//! so a plugin joins against them without any I/O of its own.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::LookupConfig;

/// One loaded table: its rows in file order, each a map from header to cell.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupTable {
    pub rows: Vec<Map<String, Value>>,
}

/// Reads `cfg.path` (relative to `base`) and checks that it has a header with the
/// key column and that every row has a key, seen once. Errors name the CSV
/// file and line.
pub fn load(base: &Path, cfg: &LookupConfig) -> Result<LookupTable, String> {
    let path = base.join(&cfg.path);
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{shown}: {e}"))?
        .clone();
    let key_col = headers.iter().position(|h| h == cfg.key).ok_or_else(|| {
        format!(
            "{shown}: no column `{}` in the header ({})",
            cfg.key,
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })?;
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| format!("{shown}: {e}"))?;
        let line = row.position().map_or(0, |p| p.line());
        let key = row.get(key_col).unwrap_or_default();
        if key.is_empty() {
            return Err(format!("{shown}:{line}: the key `{}` is empty", cfg.key));
        }
        if let Some(first) = seen.insert(key.to_string(), line) {
            return Err(format!(
                "{shown}:{line}: key `{}` = `{key}` repeats (first on line {first})",
                cfg.key
            ));
        }
        let map = headers
            .iter()
            .zip(row.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(map);
    }
    Ok(LookupTable { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str) -> Result<LookupTable, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        load(
            dir.path(),
            &LookupConfig {
                path: "t.csv".into(),
                key: "id".into(),
            },
        )
    }

    #[test]
    fn rows_keep_file_order_and_every_cell() {
        let t = table("id,network_id,name\n2,10,A\n1, 11 ,\"B, C\"\n").unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0]["id"], "2");
        assert_eq!(t.rows[1]["network_id"], "11");
        assert_eq!(t.rows[1]["name"], "B, C");
    }

    #[test]
    fn repeated_or_missing_keys_name_the_line() {
        let e = table("id,n\n1,a\n2,b\n1,c\n").unwrap_err();
        assert!(
            e.ends_with("t.csv:4: key `id` = `1` repeats (first on line 2)"),
            "{e}"
        );
        let e = table("id,n\n,a\n").unwrap_err();
        assert!(e.contains("t.csv:2: the key `id` is empty"), "{e}");
        let e = table("campaign,n\n1,a\n").unwrap_err();
        assert!(
            e.contains("no column `id` in the header (campaign, n)"),
            "{e}"
        );
        let e = table("id,n\n1,a,extra\n").unwrap_err();
        assert!(e.contains("t.csv"), "{e}");
    }
}
