//! The per-event rules. Each broken rule is a code (counted by the host's DLQ) and
//! a sentence; a rule whose inputs are missing or mistyped is skipped, so one
//! defect is reported once.

use purchases_model::codes::{
    CURRENCY_ALLOWED, DISCOUNT_RANGE, MALFORMED_JSON, MISSING_FIELD, QUANTITY_POSITIVE,
    TIMESTAMP_RANGE, TOTAL_MISMATCH, UNIT_PRICE_POSITIVE, WRONG_TYPE,
};
use purchases_model::fields::REQUIRED;
use purchases_model::money::{fmt_cents, to_cents};
use purchases_model::time::parse_rfc3339;
use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use weir_sdk::scan::{Scanned, scan_into};
use weir_sdk::{Rejection, Strict, Text};

use crate::config::Config;
use crate::money::{div_round, fmt_percent, to_basis_points};

/// Longest piece of input quoted in a message.
const QUOTE_MAX: usize = 40;

/// The rules an event broke, each with a sentence an operator can act on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(&'static str, String)>);

impl Violations {
    pub fn add(&mut self, code: &'static str, message: impl Into<String>) {
        self.0.push((code, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The distinct codes, sorted.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.0.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// The distinct codes with every message, in the order of their codes.
    pub fn rejection(&self) -> Rejection {
        let mut items = self.0.clone();
        items.sort_by_key(|(c, _)| *c);
        let messages: Vec<_> = items.into_iter().map(|(_, m)| m).collect();
        Rejection {
            codes: self.codes(),
            reason: messages.join("; "),
        }
    }

    /// `code[,code…]: message; message`, as the DLQ shows it.
    pub fn reason(&self) -> String {
        self.rejection().to_string()
    }
}

/// What the rules made of one record's value.
#[derive(Debug, Default)]
pub struct Verdict {
    pub violations: Violations,
    /// The event id when it is a string, for duplicate detection.
    pub event_id: Option<String>,
}

/// Checks one record value (`None` for a tombstone) whose record time is
/// `record_ms`; every rule but `duplicate_event_id`, which needs memory.
pub fn check(value: Option<&[u8]>, record_ms: i64, config: &Config) -> Verdict {
    let mut verdict = Verdict::default();
    let Some(bytes) = value else {
        verdict
            .violations
            .add(MALFORMED_JSON, "record has no value (a tombstone)");
        return verdict;
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(event)) => {
            verdict.event_id = check_event(&event, record_ms, config, &mut verdict.violations);
        }
        Ok(other) => verdict.violations.add(
            MALFORMED_JSON,
            format!("value is {}, not a JSON object", kind(&other)),
        ),
        Err(e) => verdict
            .violations
            .add(MALFORMED_JSON, format!("value is not valid JSON: {e}")),
    }
    verdict
}

/// The fields the rules read, decoded straight from the bytes: strings
/// borrowed unless escaped, no tree. A field missing or `null` is `None`, one
/// of another type fails the decode; every other field is still parsed in full
/// ([`Strict`]), so the decode fails on whatever the `Value` path refuses. A
/// repeated key keeps its last value, as a `Value` map does.
#[derive(Debug, Default, PartialEq)]
struct Typed<'a> {
    event_id: Option<Cow<'a, str>>,
    timestamp: Option<Cow<'a, str>>,
    customer_id: Option<Cow<'a, str>>,
    product_category: Option<Cow<'a, str>>,
    quantity: Option<i64>,
    unit_price: Option<f64>,
    total_amount: Option<f64>,
    currency: Option<Cow<'a, str>>,
    discount_percentage: Option<f64>,
}

/// The keys of [`Typed`]'s fields, `is_new_customer` (checked, not kept) and
/// the rest.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    EventId,
    Timestamp,
    CustomerId,
    ProductCategory,
    Quantity,
    UnitPrice,
    TotalAmount,
    Currency,
    DiscountPercentage,
    IsNewCustomer,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Typed<'de> {
    /// A JSON object only: `#[derive(Deserialize)]` would also read an array
    /// positionally, and would skip other fields without checking them.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TypedVisitor)
    }
}

struct TypedVisitor;

impl<'de> Visitor<'de> for TypedVisitor {
    type Value = Typed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a purchase event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Typed<'de>, A::Error> {
        let mut t = Typed::default();
        while let Some(key) = map.next_key()? {
            match key {
                Key::EventId => t.event_id = text(&mut map)?,
                Key::Timestamp => t.timestamp = text(&mut map)?,
                Key::CustomerId => t.customer_id = text(&mut map)?,
                Key::ProductCategory => t.product_category = text(&mut map)?,
                Key::Quantity => t.quantity = map.next_value()?,
                Key::UnitPrice => t.unit_price = map.next_value()?,
                Key::TotalAmount => t.total_amount = map.next_value()?,
                Key::Currency => t.currency = text(&mut map)?,
                Key::DiscountPercentage => t.discount_percentage = map.next_value()?,
                Key::IsNewCustomer => {
                    map.next_value::<Option<bool>>()?;
                }
                Key::Other => {
                    map.next_value::<Strict>()?;
                }
            }
        }
        Ok(t)
    }
}

/// The next value as a borrowed string, `None` for `null`.
fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_value::<Option<Text<'de>>>()?.map(|t| t.0))
}

/// The fast path for an event that breaks no rule: its event id when `value`
/// is a JSON object with every required field well typed and every rule but
/// `duplicate_event_id` holds; `None` for anything else (then [`check`]
/// describes it). Allocates nothing for a valid event without escapes.
pub fn valid_event_id<'a>(
    value: Option<&'a [u8]>,
    record_ms: i64,
    config: &Config,
) -> Option<Cow<'a, str>> {
    let value = value?;
    let t = match scanned(value) {
        Scanned::Read(t) => t,
        // A field of a type the rules refuse: `check` says which.
        Scanned::Mistyped => return None,
        Scanned::Unread => typed(value)?,
    };
    let required = [
        &t.event_id,
        &t.timestamp,
        &t.customer_id,
        &t.product_category,
        &t.currency,
    ];
    if required.iter().any(|f| f.is_none()) {
        return None;
    }
    let timestamp = t.timestamp.as_deref()?;
    let f = Fields {
        event_id: t.event_id.as_deref(),
        currency: t.currency.as_deref(),
        timestamp: Some((timestamp, parse_rfc3339(timestamp).ok()?)),
        quantity: Some(t.quantity?),
        unit_cents: Some(to_cents(t.unit_price?)?),
        total_cents: Some(to_cents(t.total_amount?)?),
        discount: Some(t.discount_percentage.unwrap_or(0.0)),
    };
    let mut v = Violations::default();
    check_fields(&f, record_ms, config, &mut v);
    if !v.is_empty() {
        return None;
    }
    t.event_id
}

/// The fields of a value the scanner reads whole (plain strings, numbers,
/// one nested level: what generators and most producers write), in about
/// 60 % of serde's instructions. It reads only what serde reads the same way,
/// so both paths agree (`the_scan_agrees_with_the_typed_decode`).
fn scanned(bytes: &[u8]) -> Scanned<Typed<'_>> {
    scan_into(bytes, Typed::default(), |t, key, value| match key {
        "event_id" => value.set_str(&mut t.event_id),
        "timestamp" => value.set_str(&mut t.timestamp),
        "customer_id" => value.set_str(&mut t.customer_id),
        "product_category" => value.set_str(&mut t.product_category),
        "currency" => value.set_str(&mut t.currency),
        "quantity" => value.optional_i64().map(|n| t.quantity = n),
        "unit_price" => value.optional_f64().map(|f| t.unit_price = f),
        "total_amount" => value.optional_f64().map(|f| t.total_amount = f),
        "discount_percentage" => value.optional_f64().map(|f| t.discount_percentage = f),
        "is_new_customer" => value.optional_bool().map(drop),
        _ => Some(()),
    })
}

/// The fields by serde, for what the scanner does not read.
fn typed(value: &[u8]) -> Option<Typed<'_>> {
    // One UTF-8 check of the whole value, then a parse that need not check
    // each string again (a third of the parse's time when read from bytes).
    let text = std::str::from_utf8(value).ok()?;
    serde_json::from_str(text).ok()
}

/// The fields the rules read, each `None` when missing or mistyped.
struct Fields<'a> {
    event_id: Option<&'a str>,
    currency: Option<&'a str>,
    timestamp: Option<(&'a str, i64)>,
    quantity: Option<i64>,
    unit_cents: Option<i64>,
    total_cents: Option<i64>,
    discount: Option<f64>,
}

fn check_event(
    event: &Map<String, Value>,
    record_ms: i64,
    config: &Config,
    v: &mut Violations,
) -> Option<String> {
    let f = read_fields(event, v);
    check_fields(&f, record_ms, config, v);
    f.event_id.map(str::to_string)
}

/// Every rule whose fields could be read.
fn check_fields(f: &Fields<'_>, record_ms: i64, config: &Config, v: &mut Violations) {
    if let Some(q) = f.quantity
        && q <= 0
    {
        v.add(
            QUANTITY_POSITIVE,
            format!("quantity is {q}, must be at least 1"),
        );
    }
    if let Some(p) = f.unit_cents
        && p <= 0
    {
        v.add(
            UNIT_PRICE_POSITIVE,
            format!("unit_price is {}, must be above 0", fmt_cents(p.into())),
        );
    }
    if let Some(d) = f.discount
        && !(0.0..100.0).contains(&d)
    {
        v.add(
            DISCOUNT_RANGE,
            format!("discount_percentage is {d}, must be at least 0 and below 100"),
        );
    }
    if let (Some(q), Some(p), Some(t), Some(d)) =
        (f.quantity, f.unit_cents, f.total_cents, f.discount)
    {
        check_total(q, p, t, to_basis_points(d), config.tolerance_cents, v);
    }
    if let Some(c) = f.currency
        && !config.allowed_currencies.iter().any(|a| a == c)
    {
        v.add(
            CURRENCY_ALLOWED,
            format!(
                "currency {:?} is not one of {}",
                quote(c),
                config.allowed_currencies.join(", ")
            ),
        );
    }
    // Kafka's "no timestamp" is -1: nothing to compare with.
    if let Some((text, event_ms)) = f.timestamp
        && record_ms >= 0
    {
        check_time(text, event_ms, record_ms, config, v);
    }
}

/// Reports missing and mistyped fields, returning the usable ones.
fn read_fields<'a>(event: &'a Map<String, Value>, v: &mut Violations) -> Fields<'a> {
    let field = |name: &str| event.get(name).filter(|x| !x.is_null());
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|n| field(n).is_none())
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] => v.add(MISSING_FIELD, format!("required field {one} is missing")),
        many => v.add(
            MISSING_FIELD,
            format!("required fields {} are missing", many.join(", ")),
        ),
    }
    let mut wrong = Vec::new();
    let mut text = |name: &str| match field(name) {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            wrong.push(format!("{name} is {}, expected a string", kind(other)));
            None
        }
        None => None,
    };
    let event_id = text("event_id");
    text("customer_id");
    text("product_category");
    let currency = text("currency");
    let timestamp = text("timestamp").and_then(|s| match parse_rfc3339(s) {
        Ok(ms) => Some((s, ms)),
        Err(e) => {
            wrong.push(format!(
                "timestamp {:?} is not an ISO-8601 date-time: {e}",
                quote(s)
            ));
            None
        }
    });
    let quantity = field("quantity").and_then(|x| match x.as_i64() {
        Some(q) => Some(q),
        None if x.is_u64() => {
            wrong.push(format!("quantity {x} is too large"));
            None
        }
        None => {
            wrong.push(format!("quantity is {}, expected an integer", kind(x)));
            None
        }
    });
    let mut money = |name: &str| {
        field(name).and_then(|x| match x.as_f64() {
            Some(amount) => to_cents(amount).or_else(|| {
                wrong.push(format!("{name} {x} is out of range for money"));
                None
            }),
            None => {
                wrong.push(format!("{name} is {}, expected a number", kind(x)));
                None
            }
        })
    };
    let unit_cents = money("unit_price");
    let total_cents = money("total_amount");
    let discount = match field("discount_percentage") {
        None => Some(0.0),
        Some(x) => x.as_f64().or_else(|| {
            wrong.push(format!(
                "discount_percentage is {}, expected a number",
                kind(x)
            ));
            None
        }),
    };
    if let Some(x) = field("is_new_customer")
        && !x.is_boolean()
    {
        wrong.push(format!(
            "is_new_customer is {}, expected a boolean",
            kind(x)
        ));
    }
    if !wrong.is_empty() {
        v.add(WRONG_TYPE, wrong.join("; "));
    }
    Fields {
        event_id,
        currency,
        timestamp,
        quantity,
        unit_cents,
        total_cents,
        discount,
    }
}

/// `total == quantity × unit × (1 − bp/10000)` within `tolerance` cents, compared in
/// ten-thousandths of a cent so no rounding happens before the comparison.
fn check_total(quantity: i64, unit: i64, total: i64, bp: i64, tolerance: u32, v: &mut Violations) {
    let exact = i128::from(quantity)
        .checked_mul(unit.into())
        .and_then(|x| x.checked_mul(10_000 - i128::from(bp)));
    let message = match exact {
        Some(exact) => {
            let diff = (i128::from(total) * 10_000 - exact).abs();
            if diff <= i128::from(tolerance) * 10_000 {
                return;
            }
            format!(
                "total_amount {} does not equal {} = {}",
                fmt_cents(total.into()),
                formula(quantity, unit, bp),
                fmt_cents(div_round(exact, 10_000))
            )
        }
        None => format!(
            "total_amount {} does not equal {}, which is out of range",
            fmt_cents(total.into()),
            formula(quantity, unit, bp)
        ),
    };
    v.add(TOTAL_MISMATCH, message);
}

/// `quantity × unit × (1 − discount)` as a message shows it; built only for a
/// total that does not match (a valid event allocates nothing here).
fn formula(quantity: i64, unit: i64, bp: i64) -> String {
    match bp {
        0 => format!("{quantity} × {}", fmt_cents(unit.into())),
        // Negative discounts (surcharges) read as `1 + 5%`; no negation, so
        // i64::MIN from a hostile event cannot overflow.
        bp if bp < 0 => format!(
            "{quantity} × {} × (1 + {})",
            fmt_cents(unit.into()),
            fmt_percent(bp).trim_start_matches('-')
        ),
        bp => format!(
            "{quantity} × {} × (1 − {})",
            fmt_cents(unit.into()),
            fmt_percent(bp)
        ),
    }
}

fn check_time(text: &str, event_ms: i64, record_ms: i64, config: &Config, v: &mut Violations) {
    let ahead = i128::from(event_ms) - i128::from(record_ms);
    let message = if ahead > i128::from(config.max_future_ms) {
        format!(
            "timestamp {text} is {} ahead of the record time (at most {} allowed)",
            fmt_duration(ahead),
            fmt_duration(config.max_future_ms.into())
        )
    } else if -ahead > i128::from(config.max_past_ms) {
        format!(
            "timestamp {text} is {} behind the record time (at most {} allowed)",
            fmt_duration(-ahead),
            fmt_duration(config.max_past_ms.into())
        )
    } else {
        return;
    };
    v.add(TIMESTAMP_RANGE, message);
}

/// `30d 4h`, `2h 5m`, `5m 0s`, `1.500s`.
fn fmt_duration(ms: i128) -> String {
    let (d, h, m, s) = (
        ms / 86_400_000,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}.{:03}s", ms % 1000)
    }
}

/// How a JSON value reads in a message: `a string ("3")`, `an array`.
fn kind(x: &Value) -> String {
    match x {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({:?})", quote(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Input text cut to [`QUOTE_MAX`] characters, so messages stay short.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
