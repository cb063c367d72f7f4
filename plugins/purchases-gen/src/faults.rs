//! Deliberate defects, so a validator downstream can be tested against a stream
//! whose expected verdicts are known: each defect breaks exactly one rule.

use purchases_model::codes;
use purchases_model::fields::REQUIRED;
use purchases_model::time::iso8601;
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::events::{Purchase, amount_to_cents, cents_to_amount, discounted_cents};

const DAY_MS: i64 = 86_400_000;

/// A defective event: its JSON bytes and the one rule it breaks.
pub struct Defect {
    pub value: Vec<u8>,
    pub code: &'static str,
}

/// Turns `p` (made at `now_ms`) into an event that breaks exactly one rule, chosen
/// uniformly among the rules a single event can break.
pub fn inject(p: &Purchase, now_ms: i64, r: &mut SmallRng) -> Result<Defect, serde_json::Error> {
    let kind = r.random_range(0..9);
    if kind == 0 {
        let full = serde_json::to_vec(p)?;
        // Any strict prefix of an object lacks its closing brace: never valid JSON.
        let cut = r.random_range(1..full.len().max(2));
        return Ok(Defect {
            value: full[..cut.min(full.len())].to_vec(),
            code: codes::MALFORMED_JSON,
        });
    }
    let mut value = serde_json::to_value(p)?;
    let code = match &mut value {
        Value::Object(event) => match kind {
            1 => missing_field(event, r),
            2 => wrong_type(event, p, r),
            3 => bad_quantity(event, p, r),
            4 => bad_unit_price(event, p, r),
            5 => bad_discount(event, p, r),
            6 => bad_total(event, p, r),
            7 => bad_currency(event, r),
            _ => bad_timestamp(event, now_ms, r),
        },
        _ => codes::MALFORMED_JSON,
    };
    Ok(Defect {
        value: serde_json::to_vec(&value)?,
        code,
    })
}

fn missing_field(event: &mut Map<String, Value>, r: &mut SmallRng) -> &'static str {
    let field = REQUIRED[r.random_range(0..REQUIRED.len())];
    if r.random_bool(0.5) {
        event.remove(field);
    } else {
        event.insert(field.to_string(), Value::Null);
    }
    codes::MISSING_FIELD
}

/// A value of the wrong JSON type for a field the validator type-checks; the rules
/// that need that field are then skipped, so only `wrong_type` fires.
fn wrong_type(event: &mut Map<String, Value>, p: &Purchase, r: &mut SmallRng) -> &'static str {
    let (field, value) = match r.random_range(0..10) {
        0 => ("quantity", json!(p.quantity.to_string())),
        1 => ("quantity", json!(f64::from(p.quantity) + 0.5)),
        2 => ("unit_price", json!(format!("{:.2}", p.unit_price))),
        3 => ("total_amount", json!(format!("{:.2}", p.total_amount))),
        4 => (
            "discount_percentage",
            json!(p.discount_percentage.to_string()),
        ),
        5 => (
            "is_new_customer",
            json!(if p.is_new_customer { "yes" } else { "no" }),
        ),
        6 => ("event_id", json!(r.random_range(1_000_000..10_000_000u32))),
        7 => ("customer_id", json!([p.customer_id])),
        8 => ("currency", json!(840)),
        _ => ("timestamp", json!(p.timestamp.replace('T', " at "))),
    };
    event.insert(field.to_string(), value);
    codes::WRONG_TYPE
}

/// Quantity 0 or negative, with a total consistent with it.
fn bad_quantity(event: &mut Map<String, Value>, p: &Purchase, r: &mut SmallRng) -> &'static str {
    let quantity = -r.random_range(0..=5i64);
    event.insert("quantity".into(), json!(quantity));
    let gross = quantity * amount_to_cents(p.unit_price);
    set_total(
        event,
        discounted_cents(gross, i64::from(p.discount_percentage)),
    );
    codes::QUANTITY_POSITIVE
}

/// Unit price 0 or negative, with a total consistent with it.
fn bad_unit_price(event: &mut Map<String, Value>, p: &Purchase, r: &mut SmallRng) -> &'static str {
    let unit = if r.random_bool(0.3) {
        0
    } else {
        -amount_to_cents(p.unit_price)
    };
    event.insert("unit_price".into(), json!(cents_to_amount(unit)));
    let gross = unit * i64::from(p.quantity);
    set_total(
        event,
        discounted_cents(gross, i64::from(p.discount_percentage)),
    );
    codes::UNIT_PRICE_POSITIVE
}

/// A discount of 100% or more, or below 0, with a total consistent with it.
fn bad_discount(event: &mut Map<String, Value>, p: &Purchase, r: &mut SmallRng) -> &'static str {
    let discount = [100i64, 120, 150, -5, -10][r.random_range(0..5)];
    event.insert("discount_percentage".into(), json!(discount));
    let gross = i64::from(p.quantity) * amount_to_cents(p.unit_price);
    set_total(event, discounted_cents(gross, discount));
    codes::DISCOUNT_RANGE
}

/// A total at least 1.00 off, so the label holds for any `tolerance_cents` below 100.
fn bad_total(event: &mut Map<String, Value>, p: &Purchase, r: &mut SmallRng) -> &'static str {
    let total = amount_to_cents(p.total_amount);
    let off = r.random_range(100..=5_000);
    let wrong = if r.random_bool(0.5) && total > off {
        total - off
    } else {
        total + off
    };
    set_total(event, wrong);
    codes::TOTAL_MISMATCH
}

fn bad_currency(event: &mut Map<String, Value>, r: &mut SmallRng) -> &'static str {
    let currency = ["XXX", "BTC", "usd", "DOGE", ""][r.random_range(0..5)];
    event.insert("currency".into(), json!(currency));
    codes::CURRENCY_ALLOWED
}

/// An event time 10 minutes to 30 days ahead of, or 8 to 60 days behind, the
/// record time (outside the validator's default 5-minute and 7-day limits).
fn bad_timestamp(event: &mut Map<String, Value>, now_ms: i64, r: &mut SmallRng) -> &'static str {
    let shifted = if r.random_bool(0.5) {
        now_ms + r.random_range(600_000..=30 * DAY_MS)
    } else {
        now_ms - r.random_range(8 * DAY_MS..=60 * DAY_MS)
    };
    event.insert("timestamp".into(), json!(iso8601(shifted)));
    codes::TIMESTAMP_RANGE
}

fn set_total(event: &mut Map<String, Value>, cents: i64) {
    event.insert("total_amount".into(), json!(cents_to_amount(cents)));
}
