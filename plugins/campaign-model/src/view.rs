//! One advertising view, the JSON value of a view-log record:
//! `{"view_id": "…", "start_timestamp": ms, "end_timestamp": ms, "banner_id": n, "campaign_id": n}`
//! (fields in this order), keyed by `view_id`, with `start_timestamp` as the
//! record's event time.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use weir_sdk::Rejection;

use crate::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};
use weir_sdk::scan::{Scalar, flat_object};
use weir_sdk::{Strict, Text};

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

/// The view of a record value, or why it is refused. Extra fields are ignored;
/// each of [`FIELDS`] must be present, not null, and of its type (`view_id` a
/// string, the others integers that fit 64 bits).
pub fn parse(value: Option<&[u8]>) -> Result<View, Rejection> {
    match value.and_then(fast) {
        Some(view) => Ok(view),
        None => slow(value),
    }
}

/// The view of a well-formed value, read without a `Value` tree; `None` sends
/// the value to [`slow`], which says what is wrong with it.
fn fast(bytes: &[u8]) -> Option<View> {
    scanned(bytes).or_else(|| typed(bytes))
}

/// The view of a flat value of plain scalars (no escapes, no nesting: what
/// weir's generator and most producers write), read by [`flat_object`] in
/// about 60 % of serde's instructions. Anything else, or a field of [`FIELDS`]
/// that is null or of another type, is left to [`typed`].
fn scanned(bytes: &[u8]) -> Option<View> {
    let mut view_id = None;
    let mut ints: [Option<i64>; 4] = [None; 4];
    let mut plain = true;
    let read = flat_object(bytes, |key, value| {
        let slot = match key {
            "view_id" => {
                match value {
                    Scalar::Str(s) => view_id = Some(s),
                    _ => plain = false,
                }
                return;
            }
            "start_timestamp" => 0,
            "end_timestamp" => 1,
            "banner_id" => 2,
            "campaign_id" => 3,
            _ => return,
        };
        match value {
            Scalar::Int(n) => ints[slot] = Some(n),
            _ => plain = false,
        }
    });
    if !(read && plain) {
        return None;
    }
    Some(View {
        start_timestamp: ints[0]?,
        end_timestamp: ints[1]?,
        banner_id: ints[2]?,
        campaign_id: ints[3]?,
        view_id: view_id?.to_string(),
    })
}

/// The view decoded by serde into [`Typed`]: escapes, nested extra fields.
fn typed(bytes: &[u8]) -> Option<View> {
    let t: Typed<'_> = serde_json::from_slice(bytes).ok()?;
    Some(View {
        start_timestamp: t.start_timestamp?,
        end_timestamp: t.end_timestamp?,
        banner_id: t.banner_id?,
        campaign_id: t.campaign_id?,
        view_id: t.view_id?.into_owned(),
    })
}

/// The fields of a view decoded straight from the bytes: `view_id` borrowed
/// unless escaped, no tree, so a valid view costs one allocation (its id). A
/// field missing or `null` is `None`; one of another type (a float, a string,
/// an integer beyond `i64`) fails the decode, as do other fields the `Value`
/// path would refuse, since they are parsed in full ([`Strict`]). A repeated
/// key keeps its last value, as a `Value` map does.
#[derive(Default)]
struct Typed<'a> {
    view_id: Option<Cow<'a, str>>,
    start_timestamp: Option<i64>,
    end_timestamp: Option<i64>,
    banner_id: Option<i64>,
    campaign_id: Option<i64>,
}

/// The keys of [`FIELDS`], and `Other`.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    ViewId,
    StartTimestamp,
    EndTimestamp,
    BannerId,
    CampaignId,
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
        f.write_str("a view")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Typed<'de>, A::Error> {
        let mut t = Typed::default();
        while let Some(key) = map.next_key()? {
            match key {
                Key::ViewId => t.view_id = map.next_value::<Option<Text>>()?.map(|t| t.0),
                Key::StartTimestamp => t.start_timestamp = map.next_value()?,
                Key::EndTimestamp => t.end_timestamp = map.next_value()?,
                Key::BannerId => t.banner_id = map.next_value()?,
                Key::CampaignId => t.campaign_id = map.next_value()?,
                Key::Other => {
                    map.next_value::<Strict>()?;
                }
            }
        }
        Ok(t)
    }
}

/// The view of a record value, or why it is refused: the `Value` path, which
/// names every problem.
fn slow(value: Option<&[u8]>) -> Result<View, Rejection> {
    let view = object(value)?;
    let field = |name: &str| view.get(name).filter(|v| !v.is_null());
    let missing: Vec<&str> = FIELDS.into_iter().filter(|n| field(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(Rejection::new(
            MISSING_FIELD,
            weir_sdk::codes::missing_fields(&missing),
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
        Err(Rejection::new(WRONG_TYPE, wrong.join("; ")))
    }
}

/// The JSON object a record value holds, or a `malformed_json` rejection.
fn object(value: Option<&[u8]>) -> Result<Map<String, Value>, Rejection> {
    let malformed = |reason: String| Rejection::new(MALFORMED_JSON, reason);
    let bytes = value.ok_or_else(|| malformed("record has no value (a tombstone)".into()))?;
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(view)) => Ok(view),
        Ok(_) => Err(malformed("value is not a JSON object".into())),
        Err(e) => Err(malformed(format!("value is not valid JSON: {e}"))),
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
        let p = |s: &str| parse(Some(s.as_bytes())).expect_err("defect").to_string();
        assert_eq!(
            parse(None).expect_err("tombstone").to_string(),
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

    const VIEW: &str = r#"{"view_id":"b8a1abcd-1a69-46c7-8da4-f9fc3c6da5d7","start_timestamp":1795428001000,"end_timestamp":1795428002000,"banner_id":101002,"campaign_id":101}"#;

    /// Values put in place of a field, before it and after it (a repeated key).
    const VALUES: [&str; 22] = [
        "null",
        "0",
        "-0",
        "-5",
        "3.0",
        "101001.5",
        "1e2",
        "1e400",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "18446744073709551615",
        r#""x""#,
        r#""101""#,
        r#""2026-11-23T10:00:00Z""#,
        r#""v\u0031\"\\ \u00e9""#,
        r#""\ud800""#,
        "true",
        "[]",
        "{}",
        r#"{"a":[1,{"b":null}]}"#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ];

    /// `VIEW` with `field`'s value replaced (`Some`) or the field dropped.
    fn with(field: &str, value: Option<&str>) -> String {
        let entries: Vec<String> = FIELDS
            .iter()
            .zip(VIEW[1..VIEW.len() - 1].split(','))
            .filter_map(|(name, entry)| match (*name == field, value) {
                (false, _) => Some(entry.to_string()),
                (true, Some(new)) => Some(format!("{name:?}:{new}")),
                (true, None) => None,
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }

    /// What the tests and fixtures use, and more: each field dropped, set to
    /// each of [`VALUES`], and given before and after its own value; an unknown
    /// field of each; arrays, scalars, broken JSON and invalid UTF-8; and every
    /// value of the conformance fixtures.
    fn spread() -> Vec<Vec<u8>> {
        let mut docs: Vec<String> = vec![
            VIEW.into(),
            format!(" \n{VIEW}\t"),
            format!("[{VIEW}]"),
            r#"["a",1,2,3,4]"#.into(),
            "{\"view_id\":".into(),
            format!("{VIEW}x"),
            String::new(),
            "{}".into(),
            "[1]".into(),
            "7".into(),
            "null".into(),
            VIEW.replace("\"banner_id\"", "\"banner\\u005fid\""),
        ];
        for field in FIELDS.into_iter().chain(["extra"]) {
            docs.push(with(field, None));
            for value in VALUES {
                docs.push(with(field, Some(value)));
                docs.push(VIEW.replacen('{', &format!("{{\"{field}\":{value},"), 1));
                let end = VIEW.len() - 1;
                docs.push(format!("{},\"{field}\":{value}}}", &VIEW[..end]));
            }
        }
        let mut docs: Vec<Vec<u8>> = docs.into_iter().map(String::into_bytes).collect();
        // In the unknown field's value, and in `view_id`'s.
        for at in [10, 26] {
            let mut bad_utf8 = format!(r#"{{"extra":"x",{}"#, &VIEW[1..]).into_bytes();
            bad_utf8[at] = 0xff;
            docs.push(bad_utf8);
        }
        // The views of campaign-minute's conformance cases, which parses with this.
        let minute = concat!(env!("CARGO_MANIFEST_DIR"), "/../campaign-minute/fixtures");
        docs.extend(weir_sdk::testing::fixture_values(minute));
        docs
    }

    /// The fast path declines or gives exactly what the `Value` path gives, and
    /// takes every well-formed view, escapes and repeated keys included.
    #[test]
    fn fast_path_agrees_with_the_value_path() {
        let (mut taken, mut scanned_too) = (0, 0);
        for doc in spread() {
            let slow = slow(Some(&doc));
            if let Some(fast) = fast(&doc) {
                assert_eq!(Ok(fast), slow, "{}", String::from_utf8_lossy(&doc));
                taken += 1;
            }
            if let Some(view) = scanned(&doc) {
                assert_eq!(Ok(view), slow, "{}", String::from_utf8_lossy(&doc));
                scanned_too += 1;
            }
            assert_eq!(parse(Some(&doc)), slow);
        }
        assert_eq!(parse(None), slow(None));
        for doc in [
            VIEW.to_string(),
            with("view_id", Some(r#""v\u0031\"\\ \u00e9""#)),
            format!(r#"{{"extra":[1e300,{{}}],{}"#, &VIEW[1..]),
            format!(r#"{{"campaign_id":-1,{}"#, &VIEW[1..]),
        ] {
            assert!(fast(doc.as_bytes()).is_some(), "{doc}");
        }
        assert!(taken > 30, "{taken}");
        assert!(scanned_too > 20, "{scanned_too}");
        assert!(scanned(VIEW.as_bytes()).is_some());
        let t: Typed<'_> = serde_json::from_str(VIEW).expect("typed");
        assert!(matches!(t.view_id, Some(Cow::Borrowed(_))), "no copy");
    }

    /// Not a check but a measurement, in release:
    /// `cargo test --release -p campaign-model -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn per_record_cost() {
        let value = br#"{"view_id":"b8a1abcd-1a69-46c7-8da4-f9fc3c6da5d7","start_timestamp":1795428001000,"end_timestamp":1795428002000,"banner_id":101002,"campaign_id":101}"#;
        let ns = weir_sdk::testing::ns_per_call(1, || {
            std::hint::black_box(parse(Some(std::hint::black_box(value)))).expect("valid");
        });
        println!("campaign-model: view::parse {ns:.0} ns per view");
    }
}
