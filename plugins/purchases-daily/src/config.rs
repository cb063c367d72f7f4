//! The `config` table of a `purchases-daily` stage.

use purchases_model::time::Zone;
use serde::Deserialize;

/// The aggregator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `timezone = "+05:30"`: the zone whose calendar dates bucket events, `"UTC"`
    /// or a fixed offset.
    pub timezone: String,
    /// `details_rows = 20`: events listed per report in `BATCH DETAILS`.
    pub details_rows: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timezone: "UTC".into(),
            details_rows: 20,
        }
    }
}

impl Config {
    /// Parses the stage config (JSON) and its timezone.
    pub fn parse(json: &str) -> Result<(Self, Zone), String> {
        let config: Config = weir_sdk::parse_config("purchases-daily", json)?;
        let zone =
            Zone::parse(&config.timezone).map_err(|e| format!("purchases-daily config: {e}"))?;
        Ok((config, zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        assert_eq!(Config::parse("{}"), Ok((Config::default(), Zone(0))));
        let (c, z) = Config::parse(r#"{"timezone":"-08:00","details_rows":5}"#).expect("valid");
        assert_eq!((c.details_rows, z), (5, Zone(-480)));
        let err = Config::parse(r#"{"timezone":"PST"}"#).expect_err("bad zone");
        assert!(
            err.starts_with("purchases-daily config: timezone \"PST\" is neither"),
            "{err}"
        );
        let err = Config::parse(r#"{"rows":5}"#).expect_err("unknown");
        assert!(err.contains("unknown field `rows`"), "{err}");
    }
}
