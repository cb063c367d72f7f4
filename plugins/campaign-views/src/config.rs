//! `[source.generator.config]` of a `campaign-views` connector (plus the
//! `lookups` the host adds).

use campaign_model::campaigns::{Campaigns, Lookups};
use serde::Deserialize;

/// The generator's settings; every default is in [`Config::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `seed = 42`: fixed seed for the stream (campaign popularity, banners,
    /// durations, injections); random when absent. View ids always come from the
    /// host's random source, so two generators never share one.
    pub seed: Option<u64>,
    /// `banners_per_campaign = 5`: banner ids are `campaign_id × 1000 + k`, k in 1..=n.
    pub banners_per_campaign: u32,
    /// `median_duration_ms = 8000`: median of the log-normal view duration.
    pub median_duration_ms: i64,
    /// `max_duration_ms = 600000`: longest view; the shortest is 200 ms.
    pub max_duration_ms: i64,
    /// `out_of_order_ratio = 0.05`: share of views starting up to
    /// `max_out_of_order_ms` before now (label `out_of_order`).
    pub out_of_order_ratio: f64,
    /// `max_out_of_order_ms = 20000`.
    pub max_out_of_order_ms: i64,
    /// `late_ratio = 0.01`: share of views starting `late_min_ms`..=`late_max_ms`
    /// before now (label `late`).
    pub late_ratio: f64,
    /// `late_min_ms = 120000`.
    pub late_min_ms: i64,
    /// `late_max_ms = 600000`.
    pub late_max_ms: i64,
    /// `late_warmup_ms = 60000`: no late views until the stream has run this long
    /// (on its own clock), so an aggregator has closed windows they can be late for.
    pub late_warmup_ms: i64,
    /// `unknown_campaign_ratio = 0.01`: share of views naming a campaign id that
    /// is not in the table (label `unknown_campaign`).
    pub unknown_campaign_ratio: f64,
    /// `simulated_views_per_sec = 100`: event time advances by 1/rate s per view
    /// from the clock at the first batch, however fast views are made; absent or
    /// 0 (handy as a `${VAR:-0}` default): every view starts at the wall clock of
    /// its batch.
    pub simulated_views_per_sec: Option<f64>,
    /// `key = "view_id"`: what the record key is, `view_id` or `campaign_id`.
    /// Keyed by campaign, every view of a campaign lands in one partition, so a
    /// partitioned aggregation (one per partition) sees whole windows.
    pub key: Key,
    /// Added by the host: the `campaigns` table (`lookups = ["campaigns"]`).
    pub lookups: Option<Lookups>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: None,
            banners_per_campaign: 5,
            median_duration_ms: 8_000,
            max_duration_ms: 600_000,
            out_of_order_ratio: 0.05,
            max_out_of_order_ms: 20_000,
            late_ratio: 0.01,
            late_min_ms: 120_000,
            late_max_ms: 600_000,
            late_warmup_ms: 60_000,
            unknown_campaign_ratio: 0.01,
            simulated_views_per_sec: None,
            key: Key::ViewId,
            lookups: None,
        }
    }
}

/// The field a view is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    ViewId,
    CampaignId,
}

/// The shortest view the generator makes.
pub const MIN_DURATION_MS: i64 = 200;
/// Banners per campaign stay below 1000 so banner ids of campaigns never meet.
pub const MAX_BANNERS: u32 = 999;

impl Config {
    /// Parses and checks the plugin config (JSON), including the campaigns table.
    pub fn parse(json: &str) -> Result<(Self, Campaigns), String> {
        let config: Config = weir_sdk::parse_config("campaign-views", json)?;
        let at = |e: String| format!("campaign-views config: {e}");
        config.check().map_err(at)?;
        let campaigns = Campaigns::from_lookups(config.lookups.as_ref()).map_err(at)?;
        for (row, id) in campaigns.ids().iter().enumerate() {
            if banner_id(*id, config.banners_per_campaign).is_none() {
                return Err(at(format!(
                    "lookups.campaigns row {}: campaign_id {id} is too large for banner \
                     ids (campaign_id × 1000 + k)",
                    row + 1
                )));
            }
        }
        Ok((config, campaigns))
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=MAX_BANNERS).contains(&self.banners_per_campaign) {
            return Err(format!(
                "banners_per_campaign must be between 1 and {MAX_BANNERS}, got {}",
                self.banners_per_campaign
            ));
        }
        let ratios = [
            ("out_of_order_ratio", self.out_of_order_ratio),
            ("late_ratio", self.late_ratio),
            ("unknown_campaign_ratio", self.unknown_campaign_ratio),
        ];
        for (name, ratio) in ratios {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} must be between 0 and 1, got {ratio}"));
            }
        }
        if ratios.iter().map(|(_, r)| r).sum::<f64>() > 1.0 {
            return Err(format!(
                "out_of_order_ratio + late_ratio + unknown_campaign_ratio must not exceed 1, \
                 got {} + {} + {}",
                self.out_of_order_ratio, self.late_ratio, self.unknown_campaign_ratio
            ));
        }
        for (name, ms) in [
            ("max_out_of_order_ms", self.max_out_of_order_ms),
            ("late_min_ms", self.late_min_ms),
        ] {
            if ms <= 0 {
                return Err(format!("{name} must be positive, got {ms}"));
            }
        }
        if self.late_warmup_ms < 0 {
            return Err(format!(
                "late_warmup_ms must not be negative, got {}",
                self.late_warmup_ms
            ));
        }
        let ordered = [
            (
                "late_min_ms",
                self.late_min_ms,
                "late_max_ms",
                self.late_max_ms,
            ),
            (
                "min duration",
                MIN_DURATION_MS,
                "median_duration_ms",
                self.median_duration_ms,
            ),
            (
                "median_duration_ms",
                self.median_duration_ms,
                "max_duration_ms",
                self.max_duration_ms,
            ),
        ];
        for (low_name, low, high_name, high) in ordered {
            if low > high {
                return Err(format!(
                    "{low_name} ({low}) must not exceed {high_name} ({high})"
                ));
            }
        }
        if let Some(rate) = self.simulated_views_per_sec
            && !(rate.is_finite() && rate >= 0.0)
        {
            return Err(format!(
                "simulated_views_per_sec must be a positive number (or 0 for the wall \
                 clock), got {rate}"
            ));
        }
        Ok(())
    }
}

/// `campaign_id × 1000 + k`, or `None` when it does not fit 64 bits.
pub fn banner_id(campaign_id: i64, k: u32) -> Option<i64> {
    campaign_id.checked_mul(1000)?.checked_add(i64::from(k))
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
        assert_eq!(Config { lookups: None, ..c }, Config::default());
        let c = parse(r#""seed":3,"late_ratio":0.2,"simulated_views_per_sec":100"#).expect("ok");
        assert_eq!(
            (c.seed, c.late_ratio, c.simulated_views_per_sec),
            (Some(3), 0.2, Some(100.0))
        );
    }

    #[test]
    fn readable_errors() {
        let err = |fields| parse(fields).expect_err("invalid");
        assert_eq!(
            err(r#""late_ratio":1.5"#),
            "campaign-views config: late_ratio must be between 0 and 1, got 1.5"
        );
        assert!(err(r#""out_of_order_ratio":-0.1"#).contains("out_of_order_ratio must be between"));
        assert_eq!(
            err(r#""late_ratio":0.5,"out_of_order_ratio":0.4,"unknown_campaign_ratio":0.2"#),
            "campaign-views config: out_of_order_ratio + late_ratio + unknown_campaign_ratio \
             must not exceed 1, got 0.4 + 0.5 + 0.2"
        );
        assert_eq!(
            err(r#""late_min_ms":700000"#),
            "campaign-views config: late_min_ms (700000) must not exceed late_max_ms (600000)"
        );
        assert!(err(r#""median_duration_ms":100"#).contains("min duration (200) must not exceed"));
        assert!(
            err(r#""median_duration_ms":700000"#)
                .contains("median_duration_ms (700000) must not exceed max_duration_ms (600000)")
        );
        assert!(err(r#""max_out_of_order_ms":0"#).contains("max_out_of_order_ms must be positive"));
        assert!(err(r#""late_min_ms":0"#).contains("late_min_ms must be positive"));
        assert!(err(r#""late_warmup_ms":-1"#).contains("late_warmup_ms must not be negative"));
        assert!(err(r#""banners_per_campaign":0"#).contains("between 1 and 999, got 0"));
        assert!(err(r#""banners_per_campaign":1000"#).contains("got 1000"));
        assert!(err(r#""simulated_views_per_sec":-1"#).contains("must be a positive number"));
        assert!(err(r#""rate":5"#).contains("unknown field `rate`"));
        let no_table = Config::parse("{}").expect_err("no table");
        assert!(
            no_table.starts_with("campaign-views config: needs the `campaigns` lookup table"),
            "{no_table}"
        );
        let huge = Config::parse(
            r#"{"lookups":{"campaigns":[{"campaign_id":"1","network_id":"1"},{"campaign_id":"9223372036854776","network_id":"1"}]}}"#,
        )
        .expect_err("too large");
        assert_eq!(
            huge,
            "campaign-views config: lookups.campaigns row 2: campaign_id 9223372036854776 is too \
             large for banner ids (campaign_id × 1000 + k)"
        );
    }
}
