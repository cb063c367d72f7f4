//! `[source.generator.config]` of a `customer-events` connector.

use serde::Deserialize;

/// The generator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `seed = 42`: fixed seed for repeatable streams; from the host's
    /// randomness when absent.
    pub seed: Option<u64>,
    /// `users = 5000`: distinct subscribers; each keeps a device, a location
    /// and a subscription for the whole stream.
    pub users: u32,
    /// `mix = { content_play = 0.6, search = 0.2, browse = 0.2 }`: share of each
    /// event type (weights, need not sum to 1).
    pub mix: Mix,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub content_play: f64,
    pub search: f64,
    pub browse: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            content_play: 0.6,
            search: 0.2,
            browse: 0.2,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: None,
            users: 5000,
            mix: Mix::default(),
        }
    }
}

impl Config {
    /// Parses and checks the plugin config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("customer-events", json)?;
        config
            .check()
            .map_err(|e| format!("customer-events config: {e}"))?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("users must be at least 1".into());
        }
        let m = &self.mix;
        for (name, w) in [
            ("content_play", m.content_play),
            ("search", m.search),
            ("browse", m.browse),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("mix.{name} must be 0 or more, got {w}"));
            }
        }
        if m.content_play + m.search + m.browse <= 0.0 {
            return Err("mix: at least one event type needs a weight above 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        assert_eq!(Config::parse("{}"), Ok(Config::default()));
        let c = Config::parse(r#"{"seed": 3, "mix": {"search": 1.0}}"#).expect("valid");
        assert_eq!((c.seed, c.mix.search, c.mix.browse), (Some(3), 1.0, 0.2));
        let e = Config::parse(r#"{"users": 0}"#).unwrap_err();
        assert!(e.contains("users must be at least 1"), "{e}");
        let e =
            Config::parse(r#"{"mix": {"content_play": 0, "search": 0, "browse": 0}}"#).unwrap_err();
        assert!(e.contains("at least one event type"), "{e}");
        let e = Config::parse(r#"{"mix": {"search": -1}}"#).unwrap_err();
        assert!(e.contains("mix.search must be 0 or more"), "{e}");
        assert!(Config::parse(r#"{"user": 3}"#).is_err());
    }
}
