//! Reading a JSON object field by field, collecting every problem as a reason
//! code and a sentence, so one failure reason names all that is wrong with a
//! record (`missing_field,wrong_type: required field ts_ms is missing; seq is
//! not an unsigned integer`) instead of only the first thing serde tripped on.
//!
//! Fields stay borrowed [`RawValue`]s until read, so a stage can pass a nested
//! object on byte for byte, with its key order, without a `Value` round trip.
//!
//! [`Object`] builds a map per object and reads each field twice; a stage first
//! tries [`typed`], one pass into a struct of the fields it reads, and reads the
//! record with [`Object`] only when that fails, to say what is wrong.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::value::RawValue;
use weir_sdk::Rejection;

use crate::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};

/// What is wrong with one record so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems {
    missing: Vec<String>,
    other: BTreeMap<&'static str, Vec<String>>,
}

impl Problems {
    /// A required field at `path` is absent or `null`.
    pub fn missing(&mut self, path: String) {
        self.missing.push(path);
    }

    /// Any other problem, under its reason code.
    pub fn add(&mut self, code: &'static str, message: String) {
        self.other.entry(code).or_default().push(message);
    }

    /// Whether the record can be used.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.other.is_empty()
    }

    /// The rejection: the codes sorted, then one sentence per problem in the
    /// same order, `;`-separated; `None` when nothing is wrong.
    pub fn rejection(&self) -> Option<Rejection> {
        let mut parts: BTreeMap<&'static str, Vec<String>> = self.other.clone();
        if !self.missing.is_empty() {
            let sentence = weir_sdk::codes::missing_fields(&self.missing);
            parts.insert(MISSING_FIELD, vec![sentence]);
        }
        if parts.is_empty() {
            return None;
        }
        let codes: Vec<&'static str> = parts.keys().copied().collect();
        let sentences: Vec<String> = parts.into_values().flatten().collect();
        Some(Rejection {
            codes,
            reason: sentences.join("; "),
        })
    }
}

/// A JSON object whose fields are read on demand; nested objects know their
/// path (`row.id`) so problems name the field exactly.
#[derive(Debug, Clone)]
pub struct Object<'a> {
    prefix: String,
    fields: BTreeMap<String, &'a RawValue>,
}

/// Expected kind for ids and sequence numbers, as a `wrong_type` sentence names it.
pub const UNSIGNED: &str = "an unsigned integer";
/// Expected kind for epoch milliseconds.
pub const INTEGER: &str = "an integer";
/// Expected kind for names and operation codes.
pub const STRING: &str = "a string";
/// Expected kind for rows and the `source` block.
pub const OBJECT: &str = "an object";

impl<'a> Object<'a> {
    /// The object a record value holds, or a `malformed_json` rejection: no value
    /// (a tombstone), not JSON, or JSON that is not an object.
    pub fn from_value(value: Option<&'a [u8]>) -> Result<Object<'a>, Rejection> {
        let malformed = |reason: String| Rejection::new(MALFORMED_JSON, reason);
        let bytes = value.ok_or_else(|| malformed("record has no value (a tombstone)".into()))?;
        match serde_json::from_slice(bytes) {
            Ok(fields) => Ok(Object {
                prefix: String::new(),
                fields,
            }),
            Err(_) if serde_json::from_slice::<IgnoredAny>(bytes).is_ok() => {
                Err(malformed("value is not a JSON object".into()))
            }
            Err(e) => Err(malformed(format!("value is not valid JSON: {e}"))),
        }
    }

    /// The path of field `name`, for messages.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The field's JSON text, or `None` when it is absent or `null`.
    pub fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.fields
            .get(name)
            .copied()
            .filter(|raw| raw.get() != "null")
    }

    /// A required field read as `T`; absent, `null` or of another type is recorded
    /// in `problems` (`kind` says what was expected, e.g. [`UNSIGNED`]).
    pub fn required<T: DeserializeOwned>(
        &self,
        name: &str,
        kind: &str,
        problems: &mut Problems,
    ) -> Option<T> {
        let Some(raw) = self.raw(name) else {
            problems.missing(self.path(name));
            return None;
        };
        match serde_json::from_str(raw.get()) {
            Ok(v) => Some(v),
            Err(_) => {
                problems.add(WRONG_TYPE, format!("{} is not {kind}", self.path(name)));
                None
            }
        }
    }

    /// A required nested object, its fields read the same way.
    pub fn object(&self, name: &str, problems: &mut Problems) -> Option<Object<'a>> {
        let Some(raw) = self.raw(name) else {
            problems.missing(self.path(name));
            return None;
        };
        self.nested(name, raw, problems)
    }

    /// The nested object in `raw` (the text of field `name`), or a `wrong_type`.
    pub fn nested(
        &self,
        name: &str,
        raw: &'a RawValue,
        problems: &mut Problems,
    ) -> Option<Object<'a>> {
        match serde_json::from_str(raw.get()) {
            Ok(fields) => Some(Object {
                prefix: format!("{}.", self.path(name)),
                fields,
            }),
            Err(_) => {
                problems.add(WRONG_TYPE, format!("{} is not {OBJECT}", self.path(name)));
                None
            }
        }
    }
}

/// `T` read straight from `text` when it holds a JSON object: the fast path of
/// a stage, which reads `text` with [`Object`] when this gives `None`.
///
/// `T` is a `#[derive(Deserialize)]` struct of `Option` fields (`null` reads as
/// `None`, as [`Object::raw`] has it), strings as [`Text`], nested objects as
/// `&RawValue` to read with `typed` in turn. It fails where [`Object`] would
/// report a problem: a field of another type, a key that is not a valid string;
/// also on a repeated key that `T` reads, where [`Object`] keeps the last, so
/// the slow path decides. Other fields are skipped unparsed, as [`Object`] keeps
/// them as raw text unparsed. The object check is needed because serde also
/// reads a struct from a JSON array, by position.
pub fn typed<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// [`typed`] for a record value; `None` as well for a tombstone or bytes that
/// are not UTF-8, which [`Object::from_value`] refuses even in a field it
/// does not read.
pub fn typed_value<'a, T: Deserialize<'a>>(value: Option<&'a [u8]>) -> Option<T> {
    typed(std::str::from_utf8(value?).ok()?)
}

/// A JSON string, borrowed from the input unless it has escapes. A field
/// `Option<Cow<'a, str>>` would always copy, `#[serde(borrow)]` or not: serde
/// borrows only a bare `Cow<'a, str>`.
#[derive(Debug, Deserialize)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// Any JSON object, its fields skipped: read with [`typed`] to check what
/// [`Object::object`] checks of a field that must be an object.
#[derive(Debug, Deserialize)]
pub struct AnyObject {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::UNKNOWN_OP;

    #[test]
    fn values_that_are_not_objects_are_malformed() {
        let err = |v: Option<&[u8]>| Object::from_value(v).expect_err("malformed").to_string();
        assert_eq!(
            err(None),
            "malformed_json: record has no value (a tombstone)"
        );
        assert_eq!(
            err(Some(b"[1,2]")),
            "malformed_json: value is not a JSON object"
        );
        assert_eq!(
            err(Some(b"7")),
            "malformed_json: value is not a JSON object"
        );
        assert!(
            err(Some(b"{\"a\":")).starts_with("malformed_json: value is not valid JSON: "),
            "{}",
            err(Some(b"{\"a\":"))
        );
    }

    #[test]
    fn fields_are_read_with_their_path_and_every_problem_is_kept() {
        let bytes = br#"{"seq":-1,"op":"x","row":{"id":"5","name":null},"old":[],"n":null}"#;
        let o = Object::from_value(Some(bytes)).expect("object");
        let mut p = Problems::default();
        assert_eq!(o.required::<u64>("seq", UNSIGNED, &mut p), None);
        assert_eq!(
            o.required::<String>("op", STRING, &mut p).as_deref(),
            Some("x")
        );
        assert_eq!(o.required::<i64>("ts_ms", INTEGER, &mut p), None);
        assert_eq!(o.required::<i64>("n", INTEGER, &mut p), None);
        let row = o.object("row", &mut p).expect("row");
        assert_eq!(row.required::<u64>("id", UNSIGNED, &mut p), None);
        assert_eq!(row.required::<String>("name", STRING, &mut p), None);
        assert!(o.object("old", &mut p).is_none());
        p.add(UNKNOWN_OP, "op \"x\" is unknown".into());
        let rejection = p.rejection().expect("problems");
        assert_eq!(rejection.codes, [MISSING_FIELD, UNKNOWN_OP, WRONG_TYPE]);
        assert_eq!(
            Some(rejection.to_string().as_str()),
            Some(
                "missing_field,unknown_op,wrong_type: required fields ts_ms, n, row.name are \
                 missing; op \"x\" is unknown; seq is not an unsigned integer; row.id is not an \
                 unsigned integer; old is not an object"
            )
        );
    }

    #[derive(Debug, Deserialize)]
    struct Pair<'a> {
        #[serde(borrow)]
        a: Option<Text<'a>>,
        b: Option<u64>,
    }

    #[test]
    fn typed_reads_objects_only_and_borrows_strings() {
        let pair = |text: &'static str| typed::<Pair<'_>>(text);
        let p = pair(r#" {"a":"x","b":1,"c":[1e400]}"#).expect("object");
        assert!(matches!(p.a, Some(Text(Cow::Borrowed("x")))) && p.b == Some(1));
        let p = pair(r#"{"a":"x\n","b":null}"#).expect("object");
        assert!(matches!(p.a, Some(Text(Cow::Owned(s))) if s == "x\n") && p.b.is_none());
        assert!(pair(r#"["x",1]"#).is_none(), "not by position");
        assert!(pair(r#"{"b":1,"b":2}"#).is_none(), "repeated key");
        assert!(pair(r#"{"b":1.0}"#).is_none() && pair("{").is_none());
        assert!(typed_value::<Pair<'_>>(Some(b"{\"c\":\"\xff\"}")).is_none());
        assert!(typed_value::<Pair<'_>>(None).is_none());
        assert!(typed::<AnyObject>(r#"{"a":1,"a":2}"#).is_some());
        assert!(
            typed::<AnyObject>(r#"{"\ud800":1}"#).is_none() && typed::<AnyObject>("[]").is_none()
        );
    }

    #[test]
    fn raw_fields_keep_their_bytes_and_null_is_absent() {
        let o = Object::from_value(Some(br#"{"row":{"b":1,"a":"x"},"old":null}"#)).expect("object");
        assert_eq!(o.raw("row").map(RawValue::get), Some(r#"{"b":1,"a":"x"}"#));
        assert!(o.raw("old").is_none() && o.raw("nope").is_none());
        let mut p = Problems::default();
        assert!(p.rejection().is_none());
        o.object("old", &mut p);
        assert_eq!(
            p.rejection().map(|r| r.to_string()).as_deref(),
            Some("missing_field: required field old is missing")
        );
    }
}
