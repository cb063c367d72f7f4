//! The `config` table of a `purchases-validate` stage.

use serde::Deserialize;

/// The validator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `tolerance_cents = 1`: how far `total_amount` may be from
    /// `quantity × unit_price × (1 − discount/100)`.
    pub tolerance_cents: u32,
    /// `allowed_currencies = ["USD", "EUR"]`: accepted `currency` codes (exact case).
    pub allowed_currencies: Vec<String>,
    /// `max_future_ms = 300000`: how far an event's `timestamp` may be ahead of its
    /// record's timestamp.
    pub max_future_ms: u64,
    /// `max_past_ms = 604800000`: how far it may be behind (7 days).
    pub max_past_ms: u64,
    /// `dedup_retention_ms = 3600000`: a repeated `event_id` is a duplicate when its
    /// records are at most this far apart in record time.
    pub dedup_retention_ms: u64,
    /// `dedup_max_ids = 200000`: event ids remembered at most, the oldest forgotten
    /// first; `0` turns duplicate detection off.
    pub dedup_max_ids: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tolerance_cents: 1,
            allowed_currencies: ["USD", "EUR", "GBP", "CAD", "JPY"]
                .map(String::from)
                .to_vec(),
            max_future_ms: 300_000,
            max_past_ms: 604_800_000,
            dedup_retention_ms: 3_600_000,
            dedup_max_ids: 200_000,
        }
    }
}

impl Config {
    /// Parses and checks the stage config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("purchases-validate", json)?;
        if config.allowed_currencies.is_empty() {
            return Err(
                "purchases-validate config: allowed_currencies is empty, so every event would fail"
                    .into(),
            );
        }
        for (name, ms) in [
            ("max_future_ms", config.max_future_ms),
            ("max_past_ms", config.max_past_ms),
            ("dedup_retention_ms", config.dedup_retention_ms),
        ] {
            if ms > i64::MAX as u64 / 2 {
                return Err(format!(
                    "purchases-validate config: {name} = {ms} is too large"
                ));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Config::parse("{}"), Ok(Config::default()));
        let c =
            Config::parse(r#"{"tolerance_cents":5,"allowed_currencies":["CHF"]}"#).expect("valid");
        assert_eq!(c.tolerance_cents, 5);
        assert_eq!(c.allowed_currencies, ["CHF"]);
        assert_eq!(c.max_past_ms, 604_800_000);
    }

    #[test]
    fn readable_errors() {
        let err = |json| Config::parse(json).expect_err("invalid");
        assert!(err(r#"{"tolerance":1}"#).contains("unknown field `tolerance`"));
        assert!(err(r#"{"max_past_ms":-1}"#).contains("invalid value: integer `-1`"));
        assert!(err(r#"{"allowed_currencies":[]}"#).contains("allowed_currencies is empty"));
        assert!(err(r#"{"max_future_ms":18446744073709551615}"#).contains("too large"));
    }
}
