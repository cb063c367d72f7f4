//! The JSON glue most plugins share: the config `init` receives and the state
//! the host checkpoints, with the error texts the operator sees. Every error
//! names the plugin, so a log line or a refused start says whose input it was.

use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

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
}
