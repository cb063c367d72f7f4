//! `[source.generator.config]` of a `purchases-gen` connector.

use serde::Deserialize;

/// The generator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `seed = 42`: fixed seed for repeatable streams; random when absent.
    pub seed: Option<u64>,
    /// `customers = 1000`: how many distinct customer ids to draw from.
    pub customers: u32,
    /// `invalid_ratio = 0.1`: share of events that get exactly one defect, labelled
    /// with the `weir.injected` header.
    pub invalid_ratio: f64,
    /// `duplicate_ratio = 0.05`: share of events replaced by an exact copy of a
    /// recent valid event, labelled `duplicate_event_id`.
    pub duplicate_ratio: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: None,
            customers: 1000,
            invalid_ratio: 0.0,
            duplicate_ratio: 0.0,
        }
    }
}

impl Config {
    /// Parses and checks the plugin config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("purchases-gen", json)?;
        config
            .check()
            .map_err(|e| format!("purchases-gen config: {e}"))?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.customers == 0 {
            return Err("customers must be at least 1".into());
        }
        for (name, ratio) in [
            ("invalid_ratio", self.invalid_ratio),
            ("duplicate_ratio", self.duplicate_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} must be between 0 and 1, got {ratio}"));
            }
        }
        if self.invalid_ratio + self.duplicate_ratio > 1.0 {
            return Err(format!(
                "invalid_ratio + duplicate_ratio must not exceed 1, got {} + {}",
                self.invalid_ratio, self.duplicate_ratio
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Config::parse("{}"), Ok(Config::default()));
        let c = Config::parse(r#"{"seed":1,"invalid_ratio":0.1,"duplicate_ratio":0.05}"#)
            .expect("valid");
        assert_eq!(
            (c.seed, c.invalid_ratio, c.duplicate_ratio),
            (Some(1), 0.1, 0.05)
        );
    }

    #[test]
    fn readable_errors() {
        let err = |json| Config::parse(json).expect_err("invalid");
        assert!(
            err(r#"{"invalid_ratio":1.5}"#)
                .contains("invalid_ratio must be between 0 and 1, got 1.5")
        );
        assert!(
            err(r#"{"duplicate_ratio":-0.1}"#).contains("duplicate_ratio must be between 0 and 1")
        );
        assert!(
            err(r#"{"invalid_ratio":0.7,"duplicate_ratio":0.5}"#).contains("must not exceed 1")
        );
        assert!(err(r#"{"customers":0}"#).contains("at least 1"));
        assert!(err(r#"{"invalid":0.1}"#).contains("unknown field `invalid`"));
    }
}
