//! One advertising view, the JSON value of a view-log record:
//! `{"view_id": "…", "start_timestamp": ms, "end_timestamp": ms, "banner_id": n, "campaign_id": n}`
//! (fields in this order), keyed by `view_id`, with `start_timestamp` as the
//! record's event time.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub view_id: String,
    /// When the banner was shown, in ms since the Unix epoch.
    pub start_timestamp: i64,
    /// When the view ended, in ms since the Unix epoch.
    pub end_timestamp: i64,
    pub banner_id: i64,
    pub campaign_id: i64,
}

/// Every field, in the order the value carries them.
pub const FIELDS: [&str; 5] = [
    "view_id",
    "start_timestamp",
    "end_timestamp",
    "banner_id",
    "campaign_id",
];

/// The view of a record value, or the failure reason `code: message`. Extra
/// fields are ignored; each of [`FIELDS`] must be present, not null, and of its
/// type (`view_id` a string, the others integers that fit 64 bits).
pub fn parse(value: Option<&[u8]>) -> Result<View, String> {
    let bytes =
        value.ok_or_else(|| format!("{MALFORMED_JSON}: record has no value (a tombstone)"))?;
    let view: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(view)) => view,
        Ok(_) => return Err(format!("{MALFORMED_JSON}: value is not a JSON object")),
        Err(e) => return Err(format!("{MALFORMED_JSON}: value is not valid JSON: {e}")),
    };
    let field = |name: &str| view.get(name).filter(|v| !v.is_null());
    let missing: Vec<&str> = FIELDS.into_iter().filter(|n| field(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{MISSING_FIELD}: {}",
            weir_sdk::codes::missing_fields(&missing)
        ));
    }
    let mut wrong = Vec::new();
    let view_id = match field("view_id") {
        Some(Value::String(s)) => s.clone(),
        other => {
            wrong.push(format!("view_id is not a string: {}", shown(other)));
            String::new()
        }
    };
    let mut int = |name: &str| {
        let v = field(name);
        v.and_then(Value::as_i64).unwrap_or_else(|| {
            wrong.push(format!("{name} is not a 64-bit integer: {}", shown(v)));
            0
        })
    };
    let view = View {
        view_id,
        start_timestamp: int("start_timestamp"),
        end_timestamp: int("end_timestamp"),
        banner_id: int("banner_id"),
        campaign_id: int("campaign_id"),
    };
    if wrong.is_empty() {
        Ok(view)
    } else {
        Err(format!("{WRONG_TYPE}: {}", wrong.join("; ")))
    }
}

/// A value as it appears in the JSON, cut to a readable length.
fn shown(value: Option<&Value>) -> String {
    let text = value.map(Value::to_string).unwrap_or_default();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View {
            view_id: "9b2f7a4e-3c1d-4e5f-8a6b-7c8d9e0f1a2b".into(),
            start_timestamp: 1_795_428_012_345,
            end_timestamp: 1_795_428_020_345,
            banner_id: 101_003,
            campaign_id: 101,
        }
    }

    #[test]
    fn serializes_in_field_order_and_parses_back() {
        let bytes = serde_json::to_vec(&view()).expect("json");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"view_id":"9b2f7a4e-3c1d-4e5f-8a6b-7c8d9e0f1a2b","start_timestamp":1795428012345,"end_timestamp":1795428020345,"banner_id":101003,"campaign_id":101}"#
        );
        assert_eq!(parse(Some(&bytes)), Ok(view()));
        let extra = br#"{"view_id":"a","start_timestamp":-5,"end_timestamp":0,"banner_id":1,"campaign_id":2,"extra":true}"#;
        assert_eq!(parse(Some(extra)).map(|v| v.start_timestamp), Ok(-5));
    }

    #[test]
    fn defects_have_codes() {
        let p = |s: &str| parse(Some(s.as_bytes())).expect_err("defect");
        assert_eq!(
            parse(None).expect_err("tombstone"),
            "malformed_json: record has no value (a tombstone)"
        );
        assert!(p("{\"view_id\":").starts_with("malformed_json: value is not valid JSON: EOF"));
        assert_eq!(p("[1]"), "malformed_json: value is not a JSON object");
        assert_eq!(
            p(r#"{"view_id":"a","start_timestamp":1,"end_timestamp":2,"banner_id":null}"#),
            "missing_field: required fields banner_id, campaign_id are missing"
        );
        assert_eq!(
            p(r#"{"view_id":"a","start_timestamp":1,"end_timestamp":2,"banner_id":3}"#),
            "missing_field: required field campaign_id is missing"
        );
        assert_eq!(
            p(
                r#"{"view_id":7,"start_timestamp":"2026-11-23T10:00:00Z","end_timestamp":2.5,"banner_id":3,"campaign_id":18446744073709551615}"#
            ),
            "wrong_type: view_id is not a string: 7; start_timestamp is not a 64-bit integer: \
             \"2026-11-23T10:00:00Z\"; end_timestamp is not a 64-bit integer: 2.5; \
             campaign_id is not a 64-bit integer: 18446744073709551615"
        );
        let long = format!(
            r#"{{"view_id":"a","start_timestamp":"{}","end_timestamp":2,"banner_id":3,"campaign_id":4}}"#,
            "x".repeat(100)
        );
        assert!(p(&long).ends_with("xxx…"), "{}", p(&long));
    }
}
