//! What a case produced, as the text files it is compared by: one JSON line per
//! output record and per DLQ entry, plus the final snapshot's bytes.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::record::Record;

/// Everything one run of a case produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// `expected/output.jsonl`
    pub output: String,
    /// `expected/dlq.jsonl`
    pub dlq: String,
    /// `expected/snapshot.bin` (absent when empty)
    pub snapshot: Vec<u8>,
}

impl Produced {
    /// An output record of step `step`, made from input `origin` (if it was).
    pub fn output(&mut self, step: usize, origin: Option<usize>, r: &Record) {
        let mut line = Map::new();
        line.insert("step".into(), step.into());
        if let Some(o) = origin {
            line.insert("origin".into(), o.into());
        }
        line.insert(
            "key".into(),
            r.key
                .as_deref()
                .map_or(Value::Null, |k| String::from_utf8_lossy(k).into()),
        );
        match r.value.as_deref() {
            None => {
                line.insert("tombstone".into(), true.into());
            }
            Some(v) => {
                let (field, value) = value_field(v);
                line.insert(field.into(), value);
            }
        }
        if !r.headers.is_empty() {
            let headers: Map<String, Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into()))
                .collect();
            line.insert("headers".into(), headers.into());
        }
        line.insert("timestamp_ms".into(), r.timestamp_ms.into());
        push_line(&mut self.output, Value::Object(line));
    }

    /// Input `index` rejected at step `step`.
    pub fn failure(&mut self, step: usize, index: usize, reason: &str) {
        push_line(
            &mut self.dlq,
            json!({"step": step, "index": index, "reason": reason}),
        );
    }

    /// A whole call failed at step `step` (`init` failures are step 0).
    pub fn error(&mut self, step: usize, call: &str, error: &str) {
        push_line(
            &mut self.dlq,
            json!({"step": step, "call": call, "error": error}),
        );
    }
}

/// A value as JSON when that reproduces its exact bytes, else as text, else base64.
pub(super) fn value_field(v: &[u8]) -> (&'static str, Value) {
    if let Ok(parsed) = serde_json::from_slice::<Value>(v)
        && serde_json::to_vec(&parsed).is_ok_and(|again| again == v)
    {
        return ("value", parsed);
    }
    match std::str::from_utf8(v) {
        Ok(text) => ("value_text", text.into()),
        Err(_) => (
            "value_b64",
            base64::engine::general_purpose::STANDARD.encode(v).into(),
        ),
    }
}

fn push_line(out: &mut String, v: Value) {
    out.push_str(&v.to_string());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_exact_bytes() {
        assert_eq!(value_field(br#"{"a":1}"#).0, "value");
        // `1.50` would come back as `1.5`: kept as text.
        assert_eq!(value_field(br#"{"a":1.50}"#).0, "value_text");
        assert_eq!(value_field(b"not json").0, "value_text");
        assert_eq!(value_field(&[0xff, 0x00]).0, "value_b64");
    }
}
