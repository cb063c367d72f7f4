//! The `config` table of a `cdc-shape` stage.

use serde::Deserialize;

/// The shaper's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `db = "appdb"`: the database name every envelope's `source.db` carries.
    pub db: String,
    /// `tombstones = true`: after each delete, also emit a record with the same key
    /// and no value, so a compacted topic can drop the key.
    pub tombstones: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: "appdb".into(),
            tombstones: true,
        }
    }
}

impl Config {
    /// Parses and checks the stage config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("cdc-shape", json)?;
        if config.db.trim().is_empty() {
            return Err("cdc-shape config: db must not be empty".into());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        assert_eq!(Config::parse("{}"), Ok(Config::default()));
        let c = Config::parse(r#"{"db":"shop","tombstones":false}"#).expect("valid");
        assert_eq!((c.db.as_str(), c.tombstones), ("shop", false));
        let err = |json| Config::parse(json).expect_err("invalid");
        assert_eq!(
            err(r#"{"db":" "}"#),
            "cdc-shape config: db must not be empty"
        );
        assert!(err(r#"{"database":"x"}"#).contains("unknown field `database`"));
        assert!(err(r#"{"tombstones":"yes"}"#).contains("invalid type: string \"yes\""));
    }
}
