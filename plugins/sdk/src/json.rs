//! The JSON glue most plugins share: the config `init` receives and the state
//! the host checkpoints, with the error texts the operator sees. Every error
//! names the plugin, so a log line or a refused start says whose input it was.
//!
//! And the pieces of a typed fast path that reads a record without a
//! `serde_json::Value` tree yet refuses exactly the documents a `Value` parse
//! refuses: [`Strict`] for the fields it skips, [`Text`] for the strings it
//! reads.

use std::borrow::Cow;
use std::fmt::{self, Display};

use serde::de::{DeserializeOwned, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Parses the `init` config (JSON) into `T`, best a `#[serde(deny_unknown_fields)]`
/// struct; an error reads `"{plugin} config: {serde's message}"`, e.g.
/// ``cdc-table config: unknown field `rows`, expected `last_rows` at line 1 column 7``.
pub fn parse_config<T: DeserializeOwned>(plugin: &str, json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("{plugin} config: {e}"))
}

/// The snapshot bytes of `state`: compact JSON, deterministic as long as `state`
/// keeps its maps ordered. A value serde_json cannot write (a map with non-string
/// keys) gives no bytes, which restores as a fresh start.
pub fn snapshot_json<T: Serialize + ?Sized>(state: &T) -> Vec<u8> {
    serde_json::to_vec(state).unwrap_or_default()
}

/// Reads a [`snapshot_json`] snapshot: `None` for no bytes (the host's "start
/// fresh"); an error `"{plugin} snapshot: not a {plugin} snapshot: {serde's message}"`
/// for bytes that are not a `T`.
pub fn restore_json<T: DeserializeOwned>(plugin: &str, bytes: &[u8]) -> Result<Option<T>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("{plugin} snapshot: not a {plugin} snapshot: {e}"))
}

/// The error for a snapshot that parses but does not hold together:
/// `"{plugin} snapshot: inconsistent state: {problem}"`.
pub fn inconsistent_snapshot(plugin: &str, problem: impl Display) -> String {
    format!("{plugin} snapshot: inconsistent state: {problem}")
}

/// Refuses a snapshot whose format version is not the one this plugin reads,
/// with an [`inconsistent_snapshot`] error naming both.
pub fn check_snapshot_version(plugin: &str, found: u32, reads: u32) -> Result<(), String> {
    if found == reads {
        return Ok(());
    }
    Err(inconsistent_snapshot(
        plugin,
        format!("format version {found} (this plugin reads {reads})"),
    ))
}

/// Any JSON value, checked as `serde_json::Value` would check it but not kept:
/// what a typed decode reads for the fields it does not use.
///
/// `serde::de::IgnoredAny`, which `#[derive(Deserialize)]` uses for unknown
/// fields, skips a value without parsing it: a number out of range (`1e400`), a
/// lone surrogate (`"\ud800"`), invalid UTF-8 or nesting beyond serde_json's 128
/// levels pass unnoticed, where a `Value` parse fails. A fast path that skipped
/// them would accept a record its `Value` fallback refuses as malformed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E: Error>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_key::<Strict>()?.is_some() {
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

/// A JSON string, borrowed from the input unless it has escapes. A field
/// `Option<Cow<'a, str>>` would always copy, `#[serde(borrow)]` or not: serde
/// borrows only a bare `Cow<'a, str>`.
#[derive(Debug, Deserialize)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        last_rows: u32,
    }

    #[test]
    fn config_errors_name_the_plugin() {
        let parsed = parse_config::<Config>("p", r#"{"last_rows":3}"#);
        assert_eq!(parsed.map(|c| c.last_rows), Ok(3));
        assert_eq!(
            parse_config::<Config>("p", r#"{"rows":5}"#).map(|c| c.last_rows),
            Err("p config: unknown field `rows`, expected `last_rows` at line 1 column 7".into())
        );
    }

    #[test]
    fn snapshots_round_trip_and_empty_is_fresh() {
        let state = BTreeMap::from([("b".to_string(), 2), ("a".to_string(), 1)]);
        let bytes = snapshot_json(&state);
        assert_eq!(bytes, br#"{"a":1,"b":2}"#);
        assert_eq!(restore_json("p", &bytes), Ok(Some(state)));
        assert_eq!(restore_json::<BTreeMap<String, u32>>("p", b""), Ok(None));
        let err = restore_json::<BTreeMap<String, u32>>("p", b"[1]").expect_err("garbage");
        assert!(
            err.starts_with("p snapshot: not a p snapshot: invalid type"),
            "{err}"
        );
        assert!(snapshot_json(&BTreeMap::from([((1, 2), 3)])).is_empty());
    }

    #[test]
    fn versions_and_inconsistencies_are_named() {
        assert_eq!(check_snapshot_version("p", 1, 1), Ok(()));
        assert_eq!(
            check_snapshot_version("p", 9, 1),
            Err("p snapshot: inconsistent state: format version 9 (this plugin reads 1)".into())
        );
    }

    /// Documents `Value` refuses although `IgnoredAny` skips them, and a few it
    /// takes: `Strict` must agree with `Value` on every one.
    #[test]
    fn refuses_what_value_refuses() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let docs: Vec<Vec<u8>> = [
            "1e400".to_string(),
            "-1e400".into(),
            format!("1{}", "0".repeat(400)),
            r#""\ud800""#.into(),
            r#""\udc00x""#.into(),
            r#"{"\ud800":1}"#.into(),
            deep(128),
            deep(127),
            format!(r#"{{"a":{}}}"#, deep(127)),
            format!(r#"{{"a":{}}}"#, deep(126)),
            r#"{"a":[1,2.5,-3,true,null,"x\n",{"b":{}}],"a":1}"#.into(),
            "1e308".into(),
            "[1,]".into(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .chain([b"\"\xff\"".to_vec(), b"{\"a\":\"\xc3\"}".to_vec()])
        .collect();
        for doc in &docs {
            let text = String::from_utf8_lossy(doc);
            let value = serde_json::from_slice::<serde_json::Value>(doc).is_ok();
            assert_eq!(
                serde_json::from_slice::<Strict>(doc).is_ok(),
                value,
                "{text}"
            );
        }
        let ignored = |d: &str| serde_json::from_str::<serde::de::IgnoredAny>(d).is_ok();
        assert!(ignored("1e400") && ignored(r#""\ud800""#) && ignored(&deep(200)));
    }
}
