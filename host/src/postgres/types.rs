//! PostgreSQL values in their text form (what pgoutput sends and what a
//! simple query returns) as JSON: integers and floats as numbers, `numeric`
//! as an exact decimal string, booleans, timestamps as ISO 8601 in UTC,
//! `json`/`jsonb` as the value itself, arrays as JSON arrays; any other type
//! as its text.

use serde_json::Value;

// Type OIDs (pg_type.dat).
const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const OID: u32 = 26;
const JSON: u32 = 114;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const NUMERIC: u32 = 1700;
const JSONB: u32 = 3802;
/// Types whose text is the JSON string as it stands.
const TEXTUAL: [u32; 8] = [
    25,   // text
    1043, // varchar
    1042, // bpchar
    19,   // name
    2950, // uuid
    1082, // date
    1083, // time
    18,   // char
];

/// The element type of an array type, for the arrays of the types above.
fn element_of(array: u32) -> Option<u32> {
    Some(match array {
        1000 => BOOL,
        1005 => INT2,
        1007 => INT4,
        1016 => INT8,
        1021 => FLOAT4,
        1022 => FLOAT8,
        1231 => NUMERIC,
        199 => JSON,
        3807 => JSONB,
        1115 => TIMESTAMP,
        1185 => TIMESTAMPTZ,
        1009 => 25,
        1015 => 1043,
        1014 => 1042,
        2951 => 2950,
        1182 => 1082,
        _ => return None,
    })
}

/// Whether values of `oid` have a mapping of their own (others are text).
pub fn is_known(oid: u32) -> bool {
    matches!(
        oid,
        BOOL | INT8
            | INT2
            | INT4
            | OID
            | JSON
            | FLOAT4
            | FLOAT8
            | TIMESTAMP
            | TIMESTAMPTZ
            | NUMERIC
            | JSONB
    ) || TEXTUAL.contains(&oid)
        || element_of(oid).is_some()
}

/// The JSON form of a value of type `oid` written as `text`.
pub fn to_json(oid: u32, text: &str) -> Value {
    if let Some(element) = element_of(oid) {
        return match parse_array(text) {
            Some(items) => array_json(element, &items),
            None => Value::String(text.to_string()),
        };
    }
    match oid {
        BOOL => Value::Bool(text == "t" || text == "true"),
        INT2 | INT4 | INT8 | OID => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        FLOAT4 | FLOAT8 => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            // NaN and ±Infinity have no JSON number.
            .unwrap_or_else(|| Value::String(text.to_string())),
        JSON | JSONB => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        TIMESTAMP | TIMESTAMPTZ => Value::String(iso_utc(text).unwrap_or_else(|| text.to_string())),
        // NUMERIC stays a string: exact, whatever its scale.
        _ => Value::String(text.to_string()),
    }
}

/// `2026-12-06 20:10:13.5+01` (or without a zone: UTC) as
/// `2026-12-06T19:10:13.500Z`; `None` for `infinity` and the like.
pub fn iso_utc(text: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
    let zoned = ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%:z"];
    let at: DateTime<Utc> = zoned
        .iter()
        .find_map(|f| DateTime::parse_from_str(text, f).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })?;
    Some(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// One element of an array literal: its text, or NULL.
type Item = Option<String>;

/// `{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}` into items (nested
/// arrays as nested JSON when mapped); `None` when it is not an array literal.
#[derive(Debug, PartialEq)]
enum Node {
    Leaf(Item),
    List(Vec<Node>),
}

fn parse_array(text: &str) -> Option<Vec<Node>> {
    // A lower-bound decoration (`[0:1]={…}`) is dropped.
    let text = match text.find('=') {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let mut chars = text.chars().peekable();
    let list = parse_list(&mut chars)?;
    chars.next().is_none().then_some(list)
}

fn parse_list(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Vec<Node>> {
    if chars.next()? != '{' {
        return None;
    }
    let mut items = Vec::new();
    if chars.peek() == Some(&'}') {
        chars.next();
        return Some(items);
    }
    loop {
        match chars.peek()? {
            '{' => items.push(Node::List(parse_list(chars)?)),
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                items.push(Node::Leaf(Some(s)));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '}' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                let s = s.trim().to_string();
                items.push(Node::Leaf((s != "NULL").then_some(s)));
            }
        }
        match chars.next()? {
            ',' => continue,
            '}' => return Some(items),
            _ => return None,
        }
    }
}

fn array_json(element: u32, items: &[Node]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|n| match n {
                Node::Leaf(None) => Value::Null,
                Node::Leaf(Some(t)) => to_json(element, t),
                Node::List(inner) => array_json(element, inner),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_map_to_their_json_kinds() {
        assert_eq!(to_json(INT4, "42"), json!(42));
        assert_eq!(to_json(INT8, "-9000000000"), json!(-9_000_000_000i64));
        assert_eq!(
            to_json(NUMERIC, "12345678901234567890.0100"),
            json!("12345678901234567890.0100")
        );
        assert_eq!(to_json(BOOL, "t"), json!(true));
        assert_eq!(to_json(FLOAT8, "NaN"), json!("NaN"));
        assert_eq!(to_json(JSONB, r#"{"a": [1, 2]}"#), json!({"a": [1, 2]}));
        assert_eq!(
            to_json(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        );
        assert!(!is_known(600)); // point
    }

    #[test]
    fn timestamps_become_iso_8601_in_utc() {
        assert_eq!(
            to_json(TIMESTAMPTZ, "2026-12-06 20:10:13.5+01"),
            json!("2026-12-06T19:10:13.500Z")
        );
        assert_eq!(
            to_json(TIMESTAMPTZ, "2026-12-06 20:10:13+05:30"),
            json!("2026-12-06T14:40:13Z")
        );
        assert_eq!(
            to_json(TIMESTAMP, "2026-12-06 20:10:13.123456"),
            json!("2026-12-06T20:10:13.123456Z")
        );
        assert_eq!(to_json(TIMESTAMP, "infinity"), json!("infinity"));
    }

    #[test]
    fn arrays_nest_quote_and_hold_nulls() {
        assert_eq!(to_json(1007, "{1,2,NULL}"), json!([1, 2, null]));
        assert_eq!(
            to_json(1009, r#"{"a b","c\"d",e}"#),
            json!(["a b", "c\"d", "e"])
        );
        assert_eq!(to_json(1007, "{{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
        assert_eq!(to_json(1009, "{}"), json!([]));
        assert_eq!(to_json(1007, "[0:1]={7,8}"), json!([7, 8]));
    }
}
