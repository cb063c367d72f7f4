//! The `[aggregate.config]` table of a `campaign-minute` stage (plus the
//! `lookups` the host adds).

use campaign_model::campaigns::{Campaigns, Lookups};
use serde::Deserialize;

/// What to do with a view whose campaign is not in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCampaign {
    /// Not counted, not rejected: the host counts it as dropped.
    Drop,
    /// Rejected to the DLQ with reason `unknown_campaign`.
    Dlq,
    /// Counted, with `network_id` and `campaign_name` null.
    Null,
}

/// The aggregator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `window_ms = 60000`: length of the tumbling event-time windows.
    pub window_ms: i64,
    /// `unknown_campaign = "dlq"`: `"drop"`, `"dlq"` or `"null"`.
    pub unknown_campaign: UnknownCampaign,
    /// Added by the host: the `campaigns` table (`lookups = ["campaigns"]`).
    pub lookups: Option<Lookups>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_ms: 60_000,
            unknown_campaign: UnknownCampaign::Dlq,
            lookups: None,
        }
    }
}

impl Config {
    /// Parses and checks the stage config (JSON), including the campaigns table.
    pub fn parse(json: &str) -> Result<(Self, Campaigns), String> {
        let config: Config = weir_sdk::parse_config("campaign-minute", json)?;
        let at = |e: String| format!("campaign-minute config: {e}");
        if config.window_ms <= 0 {
            return Err(at(format!(
                "window_ms must be positive, got {}",
                config.window_ms
            )));
        }
        let campaigns = Campaigns::from_lookups(config.lookups.as_ref()).map_err(at)?;
        Ok((config, campaigns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        r#""lookups":{"campaigns":[{"campaign_id":"1","network_id":"10","name":"A"}]}"#;

    fn parse(fields: &str) -> Result<Config, String> {
        let sep = if fields.is_empty() { "" } else { "," };
        Config::parse(&format!("{{{fields}{sep}{TABLE}}}")).map(|(c, _)| c)
    }

    #[test]
    fn defaults_and_overrides() {
        let c = parse("").expect("defaults");
        assert_eq!(
            (c.window_ms, c.unknown_campaign),
            (60_000, UnknownCampaign::Dlq)
        );
        let c = parse(r#""window_ms":30000,"unknown_campaign":"null""#).expect("ok");
        assert_eq!(
            (c.window_ms, c.unknown_campaign),
            (30_000, UnknownCampaign::Null)
        );
        assert_eq!(
            parse(r#""unknown_campaign":"drop""#).map(|c| c.unknown_campaign),
            Ok(UnknownCampaign::Drop)
        );
    }

    #[test]
    fn readable_errors() {
        let err = |fields| parse(fields).expect_err("invalid");
        assert_eq!(
            err(r#""window_ms":0"#),
            "campaign-minute config: window_ms must be positive, got 0"
        );
        assert!(
            err(r#""unknown_campaign":"keep""#)
                .contains("unknown variant `keep`, expected one of `drop`, `dlq`, `null`")
        );
        assert!(err(r#""window":5"#).contains("unknown field `window`"));
        let e = Config::parse(r#"{"window_ms":60000}"#).expect_err("no table");
        assert!(
            e.starts_with("campaign-minute config: needs the `campaigns` lookup table"),
            "{e}"
        );
        let e =
            Config::parse(r#"{"lookups":{"campaigns":[{"campaign_id":"1","network_id":"x1"}]}}"#)
                .expect_err("bad cell");
        assert_eq!(
            e,
            "campaign-minute config: lookups.campaigns row 1: network_id \"x1\" is not an integer"
        );
    }
}
