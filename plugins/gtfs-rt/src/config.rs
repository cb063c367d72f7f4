//! The `config` table of a `gtfs-rt` stage.

use serde::Deserialize;

/// How JSON field names are spelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldNames {
    /// `field_names = "json"`: lowerCamelCase, as `json_format.MessageToDict(msg)`.
    #[default]
    Json,
    /// `field_names = "proto"`: the .proto's snake_case names, as
    /// `MessageToDict(msg, preserving_proto_field_name=True)`.
    Proto,
}

/// The decoder's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `field_names = "json"` (default) or `"proto"`.
    pub field_names: FieldNames,
    /// `skip_stale = true`: drop a feed whose header timestamp is not newer than
    /// the last one seen from the same URL (an agency serving an unchanged feed).
    pub skip_stale: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            field_names: FieldNames::default(),
            skip_stale: true,
        }
    }
}

impl Config {
    /// Parses the stage config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        weir_sdk::parse_config("gtfs-rt", json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        assert_eq!(Config::parse("{}"), Ok(Config::default()));
        let c = Config::parse(r#"{"field_names":"proto"}"#).expect("valid");
        assert_eq!(c.field_names, FieldNames::Proto);
        let err = |json| Config::parse(json).expect_err("invalid");
        assert!(err(r#"{"field_names":"camel"}"#).contains("unknown variant `camel`"));
        assert!(err(r#"{"names":"json"}"#).contains("unknown field `names`"));
    }
}
