//! `{{name}}`: a transform plugin. It upper-cases one string field of each JSON
//! record, passes records without that field on unchanged and rejects records
//! whose value is not a JSON object. Replace the logic in `process`; keep the shape.

use serde::Deserialize;
use serde_json::Value;
use weir_sdk::{Outcome, RecordRef, Transform};

/// The connector's `[transform.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `field = "name"`: the string field to upper-case.
    #[serde(default = "default_field")]
    field: String,
}

fn default_field() -> String {
    "name".into()
}

pub struct {{Type}} {
    field: String,
}

impl Transform for {{Type}} {
    fn init(config: &str) -> Result<Self, String> {
        let c: Config = weir_sdk::parse_config("{{name}}", config)?;
        Ok({{Type}} { field: c.field })
    }

    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            let parsed = r.value.map(serde_json::from_slice::<Value>);
            let Some(Ok(Value::Object(mut obj))) = parsed else {
                // The code travels beside the reason: the host counts DLQ records per code.
                out.fail(i, "not_json", "the value is not a JSON object");
                continue;
            };
            let Some(Value::String(s)) = obj.get_mut(&self.field) else {
                // Nothing to change: the host forwards the input without a copy.
                out.pass(i);
                continue;
            };
            *s = s.to_uppercase();
            let value = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
            out.emit(i, r.key, Some(&value), &r.headers, r.timestamp_ms);
        }
        Ok(())
    }
}

weir_sdk::export_transform!({{Type}});

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::FlatBatch;

    #[test]
    fn upper_cases_the_field_passes_the_rest_and_rejects_non_json() {
        let mut p = {{Type}}::init(r#"{"field":"name"}"#).unwrap();
        let mut batch = FlatBatch::default();
        batch.push(Some(b"1"), Some(br#"{"name":"ada"}"#), &[], 0);
        batch.push(Some(b"2"), Some(b"nope"), &[], 0);
        batch.push(Some(b"3"), Some(br#"{"id":3}"#), &[], 0);
        let mut out = Outcome::default();
        p.process(&batch.records().unwrap(), &mut out).unwrap();
        let emitted = out.output.records().unwrap();
        assert_eq!(emitted[0].value, Some(&br#"{"name":"ADA"}"#[..]));
        assert_eq!(out.origins, vec![0]);
        assert_eq!(out.failures[0].index, 1);
        assert_eq!(
            out.failures[0].text(),
            "not_json: the value is not a JSON object"
        );
        assert_eq!(out.passed, vec![2]);
    }
}
