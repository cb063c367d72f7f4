//! The few fields of a purchase event the aggregator reads. Events arrive
//! validated, but are checked again: a failure here goes to the DLQ with the same
//! rule codes `purchases-validate` uses ([`purchases_model::codes`]).

use purchases_model::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};
use purchases_model::money::to_cents;
use purchases_model::time::parse_rfc3339;
use serde_json::{Map, Value};

/// One purchase, reduced to what the totals and the details need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub customer_id: String,
    pub category: String,
    pub cents: i64,
    pub event_ms: i64,
}

const TEXT_FIELDS: [&str; 3] = ["event_id", "customer_id", "product_category"];

/// The event of a record value, or the failure reason `code: message`.
pub fn parse(value: Option<&[u8]>) -> Result<Event, String> {
    let bytes =
        value.ok_or_else(|| format!("{MALFORMED_JSON}: record has no value (a tombstone)"))?;
    let event: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(event)) => event,
        Ok(_) => return Err(format!("{MALFORMED_JSON}: value is not a JSON object")),
        Err(e) => return Err(format!("{MALFORMED_JSON}: value is not valid JSON: {e}")),
    };
    let field = |name: &str| event.get(name).filter(|x| !x.is_null());
    let missing: Vec<&str> = TEXT_FIELDS
        .into_iter()
        .chain(["total_amount", "timestamp"])
        .filter(|n| field(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{MISSING_FIELD}: {}",
            weir_sdk::codes::missing_fields(&missing)
        ));
    }
    let mut wrong = Vec::new();
    let mut texts = TEXT_FIELDS.map(|name| match field(name) {
        Some(Value::String(s)) => s.clone(),
        _ => {
            wrong.push(format!("{name} is not a string"));
            String::new()
        }
    });
    let cents = field("total_amount")
        .and_then(Value::as_f64)
        .and_then(to_cents);
    if cents.is_none() {
        wrong.push("total_amount is not a money amount".into());
    }
    let event_ms = match field("timestamp").and_then(Value::as_str) {
        Some(s) => parse_rfc3339(s)
            .map_err(|e| wrong.push(format!("timestamp is not an ISO-8601 date-time: {e}")))
            .ok(),
        None => {
            wrong.push("timestamp is not a string".into());
            None
        }
    };
    match (cents, event_ms) {
        (Some(cents), Some(event_ms)) if wrong.is_empty() => Ok(Event {
            event_id: std::mem::take(&mut texts[0]),
            customer_id: std::mem::take(&mut texts[1]),
            category: std::mem::take(&mut texts[2]),
            cents,
            event_ms,
        }),
        _ => Err(format!("{WRONG_TYPE}: {}", wrong.join("; "))),
    }
}
