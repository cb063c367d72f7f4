//! `[source.plugin.config]` of a `cdc-gen` connector.

use serde::Deserialize;

/// Upper bound of `max_rows`: the whole table is kept in memory and in every
/// snapshot, and the plugin's default memory limit is 64 MiB.
pub const MAX_ROWS_LIMIT: u64 = 100_000;

/// The generator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `seed = 42`: fixed seed for a repeatable stream; random when absent.
    pub seed: Option<u64>,
    /// `initial_rows = 100`: rows the stream starts with, as `SNAPSHOT` changes
    /// before any other operation.
    pub initial_rows: u64,
    /// `mix = { create = 30, update = 60, delete = 10 }`: relative weights of the
    /// operations once the snapshot is done.
    pub mix: Mix,
    /// `max_rows = 10000`: no creates while the table holds this many rows.
    pub max_rows: u64,
}

/// Relative weights of creates, updates and deletes; at least one is above 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    /// `create = 30`
    pub create: u32,
    /// `update = 60`
    pub update: u32,
    /// `delete = 10`
    pub delete: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            create: 30,
            update: 60,
            delete: 10,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: None,
            initial_rows: 0,
            mix: Mix::default(),
            max_rows: 10_000,
        }
    }
}

impl Config {
    /// Parses and checks the plugin config (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = weir_sdk::parse_config("cdc-gen", json)?;
        config.check().map_err(|e| format!("cdc-gen config: {e}"))?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=MAX_ROWS_LIMIT).contains(&self.max_rows) {
            return Err(format!(
                "max_rows must be between 1 and {MAX_ROWS_LIMIT}, got {}",
                self.max_rows
            ));
        }
        if self.initial_rows > self.max_rows {
            return Err(format!(
                "initial_rows ({}) must not exceed max_rows ({})",
                self.initial_rows, self.max_rows
            ));
        }
        let Mix {
            create,
            update,
            delete,
        } = self.mix;
        if create == 0 && update == 0 && delete == 0 {
            return Err("mix needs at least one of create, update, delete above 0".into());
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
        let c = Config::parse(r#"{"seed":1,"initial_rows":5,"mix":{"delete":0},"max_rows":50}"#)
            .expect("valid");
        assert_eq!((c.seed, c.initial_rows, c.max_rows), (Some(1), 5, 50));
        assert_eq!(
            c.mix,
            Mix {
                create: 30,
                update: 60,
                delete: 0
            }
        );
    }

    #[test]
    fn readable_errors() {
        let err = |json| Config::parse(json).expect_err("invalid");
        assert_eq!(
            err(r#"{"mix":{"create":0,"update":0,"delete":0}}"#),
            "cdc-gen config: mix needs at least one of create, update, delete above 0"
        );
        assert_eq!(
            err(r#"{"initial_rows":11,"max_rows":10}"#),
            "cdc-gen config: initial_rows (11) must not exceed max_rows (10)"
        );
        assert!(err(r#"{"max_rows":0}"#).contains("max_rows must be between 1 and 100000, got 0"));
        assert!(err(r#"{"rows":5}"#).contains("unknown field `rows`"));
        assert!(err(r#"{"mix":{"insert":5}}"#).contains("unknown field `insert`"));
        assert!(err(r#"{"seed":-1}"#).contains("invalid value: integer `-1`"));
    }
}
