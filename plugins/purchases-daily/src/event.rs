//! The few fields of a purchase event the aggregator reads. Events arrive
//! validated, but are checked again: a failure here goes to the DLQ with the same
//! rule codes `purchases-validate` uses ([`purchases_model::codes`]).

use std::borrow::Cow;
use std::fmt;

use purchases_model::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};
use purchases_model::money::to_cents;
use purchases_model::time::parse_rfc3339;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use weir_sdk::Rejection;

use weir_sdk::scan::{Scanned, scan_into};
use weir_sdk::{Strict, Text};

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

/// The event of a record value, or why it is refused.
pub fn parse(value: Option<&[u8]>) -> Result<Event, Rejection> {
    match value.and_then(fast) {
        Some(event) => Ok(event),
        None => slow(value),
    }
}

/// The event of a well-formed value, read without a `Value` tree; `None` sends
/// the value to [`slow`], which says what is wrong with it.
fn fast(bytes: &[u8]) -> Option<Event> {
    let t = match scanned(bytes) {
        Scanned::Read(t) => t,
        Scanned::Mistyped => return None,
        Scanned::Unread => serde_json::from_slice(bytes).ok()?,
    };
    let cents = to_cents(t.total_amount?)?;
    let event_ms = parse_rfc3339(&t.timestamp?).ok()?;
    Some(Event {
        event_id: t.event_id?.into_owned(),
        customer_id: t.customer_id?.into_owned(),
        category: t.product_category?.into_owned(),
        cents,
        event_ms,
    })
}

/// The fields of a value the scanner reads whole (what generators and most
/// producers write) in about 60 % of serde's instructions. It reads only what
/// serde reads the same way (checked in `fast_path_agrees_with_the_value_path`).
fn scanned(bytes: &[u8]) -> Scanned<Typed<'_>> {
    scan_into(bytes, Typed::default(), |t, key, value| match key {
        "event_id" => value.set_str(&mut t.event_id),
        "customer_id" => value.set_str(&mut t.customer_id),
        "product_category" => value.set_str(&mut t.product_category),
        "timestamp" => value.set_str(&mut t.timestamp),
        "total_amount" => value.optional_f64().map(|f| t.total_amount = f),
        _ => Some(()),
    })
}

/// The fields [`parse`] reads, decoded straight from the bytes: strings borrowed
/// unless escaped, no tree, so a valid event costs no allocation but its three
/// strings. A field missing or `null` is `None`, one of another type fails the
/// decode; every other field is still parsed in full ([`Strict`]), so the decode
/// fails on whatever the `Value` path refuses. A repeated key keeps its last
/// value, as a `Value` map does.
#[derive(Debug, Default, PartialEq)]
struct Typed<'a> {
    event_id: Option<Cow<'a, str>>,
    customer_id: Option<Cow<'a, str>>,
    product_category: Option<Cow<'a, str>>,
    total_amount: Option<f64>,
    timestamp: Option<Cow<'a, str>>,
}

/// The keys of [`Typed`]'s fields, and `Other`.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    EventId,
    CustomerId,
    ProductCategory,
    TotalAmount,
    Timestamp,
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
                Key::CustomerId => t.customer_id = text(&mut map)?,
                Key::ProductCategory => t.product_category = text(&mut map)?,
                Key::TotalAmount => t.total_amount = map.next_value()?,
                Key::Timestamp => t.timestamp = text(&mut map)?,
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

/// The event of a record value, or why it is refused: the `Value` path, which
/// names every problem.
fn slow(value: Option<&[u8]>) -> Result<Event, Rejection> {
    let event = object(value)?;
    let field = |name: &str| event.get(name).filter(|x| !x.is_null());
    let missing: Vec<&str> = TEXT_FIELDS
        .into_iter()
        .chain(["total_amount", "timestamp"])
        .filter(|n| field(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::new(
            MISSING_FIELD,
            weir_sdk::codes::missing_fields(&missing),
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
        _ => Err(Rejection::new(WRONG_TYPE, wrong.join("; "))),
    }
}

/// The JSON object a record value holds, or a `malformed_json` rejection.
fn object(value: Option<&[u8]>) -> Result<Map<String, Value>, Rejection> {
    let malformed = |reason: String| Rejection::new(MALFORMED_JSON, reason);
    let bytes = value.ok_or_else(|| malformed("record has no value (a tombstone)".into()))?;
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(event)) => Ok(event),
        Ok(_) => Err(malformed("value is not a JSON object".into())),
        Err(e) => Err(malformed(format!("value is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture event: every field the generator writes, nested `location` too.
    const EVENT: &str = r#"{"event_id":"27b0a990-ecb0-40da-8f1d-fc0b1959c869","timestamp":"2026-11-23T18:54:42.123Z","customer_id":"CUST-000004","customer_segment":"regular","product_id":"P01002","product_name":"Jacket","product_category":"Clothing","quantity":2,"unit_price":89.99,"total_amount":179.98,"currency":"USD","payment_method":"debit_card","order_source":"mobile_app","location":{"country":"US","city":"New York"},"discount_percentage":0,"is_new_customer":false,"device_type":"tablet"}"#;

    const FIELDS: [&str; 6] = [
        "event_id",
        "timestamp",
        "customer_id",
        "product_category",
        "total_amount",
        "location",
    ];

    /// Values put in place of a field, after it (a repeated key) or beside it.
    const VALUES: [&str; 24] = [
        "null",
        "0",
        "-0",
        "3",
        "-7",
        "3.0",
        "12.345",
        "1e2",
        "1e300",
        "1e400",
        "18446744073709551616",
        r#""x""#,
        r#""""#,
        r#""179.98""#,
        r#""2026-11-23T18:54:42+05:30""#,
        r#""2026-11-23T18:54:42""#,
        r#""E\u0031\"\\ \u00e9""#,
        r#""\ud800""#,
        "true",
        "[]",
        r#"["a",1]"#,
        "{}",
        r#"{"a":[1,{"b":null}]}"#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ];

    /// `EVENT` with `field`'s value replaced (`Some`) or the field dropped.
    fn with(field: &str, value: Option<&str>) -> String {
        let v: Value = serde_json::from_str(EVENT).expect("json");
        let Value::Object(map) = v else {
            unreachable!("an object")
        };
        let entries: Vec<String> = map
            .iter()
            .filter_map(|(k, v)| match (k == field, value) {
                (false, _) => Some(format!("{k:?}:{v}")),
                (true, Some(new)) => Some(format!("{k:?}:{new}")),
                (true, None) => None,
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }

    /// `EVENT` with `entry` added after its last field.
    fn append(entry: &str) -> String {
        format!("{},{entry}}}", &EVENT[..EVENT.len() - 1])
    }

    /// What the tests and fixtures use, and more: each field dropped, set to
    /// each of [`VALUES`], repeated with each, and an unknown field of each;
    /// arrays, scalars, broken JSON and invalid UTF-8; and every value of the
    /// conformance fixtures.
    fn spread() -> Vec<Vec<u8>> {
        let mut docs: Vec<String> = vec![
            EVENT.into(),
            format!("  \n{EVENT}\t "),
            format!("[{EVENT}]"),
            r#"["E1","2026-11-23T18:54:42.123Z","C","Books",1,1,1,"USD"]"#.into(),
            "{not json".into(),
            format!("{EVENT} x"),
            String::new(),
            "{}".into(),
            "[]".into(),
            "42".into(),
            r#""event""#.into(),
            "null".into(),
            EVENT.replace("\"event_id\"", "\"event\\u005fid\""),
        ];
        for field in FIELDS {
            docs.push(with(field, None));
            for value in VALUES {
                docs.push(with(field, Some(value)));
                docs.push(EVENT.replacen('{', &format!("{{\"{field}\":{value},"), 1));
                docs.push(append(&format!("\"{field}\":{value}")));
            }
        }
        for value in VALUES {
            docs.push(EVENT.replacen('{', &format!("{{\"extra\":{value},"), 1));
        }
        let mut docs: Vec<Vec<u8>> = docs.into_iter().map(String::into_bytes).collect();
        let mut bad_utf8 = EVENT.replace("tablet", "tabl?t").into_bytes();
        let at = bad_utf8.iter().position(|b| *b == b'?').expect("?");
        bad_utf8[at] = 0xff;
        docs.push(bad_utf8);
        docs.extend(weir_sdk::testing::fixture_values(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        )));
        docs
    }

    /// The fast path declines or gives exactly what the `Value` path gives, and
    /// takes every well-formed event, escapes and repeated keys included.
    #[test]
    fn fast_path_agrees_with_the_value_path() {
        let mut taken = 0;
        for doc in spread() {
            let slow = slow(Some(&doc));
            if let Some(fast) = fast(&doc) {
                assert_eq!(Ok(fast), slow, "{}", String::from_utf8_lossy(&doc));
                taken += 1;
            }
            assert_eq!(parse(Some(&doc)), slow);
        }
        assert_eq!(parse(None), slow(None));
        let mut scanned_docs = 0;
        for doc in spread() {
            let read = match scanned(&doc) {
                Scanned::Read(t) => Some(t),
                Scanned::Mistyped => None,
                Scanned::Unread => continue,
            };
            let typed: Option<Typed<'_>> = serde_json::from_slice(&doc).ok();
            assert_eq!(read, typed, "{}", String::from_utf8_lossy(&doc));
            scanned_docs += 1;
        }
        assert!(scanned_docs > 50, "{scanned_docs}");
        for doc in [
            EVENT.to_string(),
            with("event_id", Some(r#""E\u0031\"\\ \u00e9""#)),
            with("location", Some("1e300")),
            append(r#""total_amount":1,"total_amount":3"#),
        ] {
            assert!(fast(doc.as_bytes()).is_some(), "{doc}");
        }
        assert!(taken > 60, "{taken}");
        let t: Typed<'_> = serde_json::from_str(EVENT).expect("typed");
        assert!(matches!(t.event_id, Some(Cow::Borrowed(_))), "no copy");
    }
}
