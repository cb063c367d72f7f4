//! The `config` table of a `cdc-table` stage.

use serde::Deserialize;

/// Upper bound of `last_rows`: the rows are part of every snapshot.
pub const LAST_ROWS_LIMIT: u32 = 1_000;

/// The table's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `last_rows = 10`: rows listed in `LAST CHANGED ROWS`, most recent change
    /// first; 0 leaves the section out.
    pub last_rows: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { last_rows: 10 }
    }
}

impl Config {
    /// Parses and checks the stage config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("cdc-table", json)?;
        if config.last_rows > LAST_ROWS_LIMIT {
            return Err(format!(
                "cdc-table config: last_rows must be at most {LAST_ROWS_LIMIT}, got {}",
                config.last_rows
            ));
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
        assert_eq!(
            Config::parse(r#"{"last_rows":0}"#),
            Ok(Config { last_rows: 0 })
        );
        let err = |json| Config::parse(json).expect_err("invalid");
        assert_eq!(
            err(r#"{"last_rows":1001}"#),
            "cdc-table config: last_rows must be at most 1000, got 1001"
        );
        assert!(err(r#"{"rows":5}"#).contains("unknown field `rows`"));
        assert!(err(r#"{"last_rows":-1}"#).contains("invalid value: integer `-1`"));
    }
}
