//! `campaign-minute`: an aggregator of advertising views into tumbling
//! event-time windows (one minute by default) per campaign, written once the
//! watermark closes them as one row each: view count, total and average
//! duration, joined with the `campaigns` lookup table for network and name.
//! Views for a closed window fail as `late`; see [`windows`] for the state.

pub mod config;
pub mod windows;

use campaign_model::campaigns::Campaigns;
use campaign_model::codes::{NEGATIVE_DURATION, UNKNOWN_CAMPAIGN, WRONG_TYPE};
use campaign_model::{time, view};
use config::{Config, UnknownCampaign};
use serde::Serialize;
use weir_sdk::{Aggregator, FlatBatch, Outcome, RecordRef, Rejection};
use windows::{Closed, Windows, window_of};

/// The plugin: settings, the table, and the windows that are checkpointed.
pub struct CampaignMinute {
    unknown_campaign: UnknownCampaign,
    campaigns: Campaigns,
    windows: Windows,
    /// Views dropped under `unknown_campaign = "drop"` since the last tick,
    /// reported in the host's log so they are counted somewhere.
    dropped: u64,
}

/// One output row, the record value (fields in this order).
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    pub campaign_id: i64,
    pub network_id: Option<i64>,
    pub campaign_name: Option<&'a str>,
    /// `2026-11-23T10:00`, UTC, of the window start.
    pub minute_timestamp: String,
    pub window_start: i64,
    pub window_end: i64,
    pub view_count: u64,
    /// `total_duration_ms / view_count / 1000`, in `f64`.
    pub avg_duration_s: f64,
    pub total_duration_ms: i64,
}

impl CampaignMinute {
    /// Counts one view, or says why not: `Ok(false)` for a view dropped on
    /// purpose (unknown campaign with policy `drop`).
    fn fold(&mut self, value: Option<&[u8]>) -> Result<bool, Rejection> {
        let v = view::parse(value)?;
        let (start, end) = (v.start_timestamp, v.end_timestamp);
        let duration = end.checked_sub(start).ok_or_else(|| {
            Rejection::new(
                WRONG_TYPE,
                format!("end_timestamp {end} minus start_timestamp {start} overflows"),
            )
        })?;
        if duration < 0 {
            return Err(Rejection::new(
                NEGATIVE_DURATION,
                format!(
                    "view ends at {}, {} ms before it starts at {}",
                    time::rfc3339_millis(end),
                    -i128::from(duration),
                    time::rfc3339_millis(start)
                ),
            ));
        }
        let window = window_of(start, self.windows.window_ms()).ok_or_else(|| {
            Rejection::new(
                WRONG_TYPE,
                format!("start_timestamp {start} is too far from 1970 for a window"),
            )
        })?;
        if let Some(rejection) = self.windows.late(start, window) {
            return Err(rejection);
        }
        if !self.campaigns.contains(v.campaign_id) {
            match self.unknown_campaign {
                UnknownCampaign::Drop => return Ok(false),
                UnknownCampaign::Dlq => {
                    return Err(Rejection::new(
                        UNKNOWN_CAMPAIGN,
                        format!("campaign {} is not in the campaigns table", v.campaign_id),
                    ));
                }
                UnknownCampaign::Null => {}
            }
        }
        self.windows
            .add(window.0, v.campaign_id, duration)
            .map_err(|e| Rejection::new(WRONG_TYPE, e))?;
        Ok(true)
    }

    fn row(&self, c: &Closed) -> Row<'_> {
        let campaign = self.campaigns.get(c.campaign_id);
        let t = c.tally;
        Row {
            campaign_id: c.campaign_id,
            network_id: campaign.map(|c| c.network_id),
            campaign_name: campaign.and_then(|c| c.name.as_deref()),
            minute_timestamp: time::minute(c.window_start),
            window_start: c.window_start,
            window_end: c.window_end,
            view_count: t.view_count,
            avg_duration_s: t.total_duration_ms as f64 / t.view_count as f64 / 1000.0,
            total_duration_ms: t.total_duration_ms,
        }
    }
}

impl Aggregator for CampaignMinute {
    fn init(config: &str) -> Result<Self, String> {
        let (config, campaigns) = Config::parse(config)?;
        Ok(CampaignMinute {
            unknown_campaign: config.unknown_campaign,
            campaigns,
            windows: Windows::new(config.window_ms),
            dropped: 0,
        })
    }

    /// Folds views into their windows and emits nothing; rejects the others.
    fn update(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            match self.fold(r.value) {
                Ok(true) => {}
                Ok(false) => self.dropped += 1,
                Err(rejection) => out.reject(i, rejection),
            }
        }
        Ok(())
    }

    /// Writes every window the watermark has closed, once, in (window start,
    /// campaign id) order; `i64::MAX` (the input ended) closes all of them.
    fn tick(&mut self, watermark_ms: i64, _now_ms: i64, out: &mut FlatBatch) -> Result<(), String> {
        if self.dropped > 0 {
            weir_sdk::log(
                weir_sdk::Level::Info,
                &format!(
                    "dropped {} views of campaigns not in the campaigns table (unknown_campaign = \"drop\")",
                    self.dropped
                ),
            );
            self.dropped = 0;
        }
        for c in self.windows.close(watermark_ms) {
            let row = self.row(&c);
            let key = format!("{}@{}", row.campaign_id, row.minute_timestamp);
            let value = serde_json::to_vec(&row).map_err(|e| e.to_string())?;
            out.push(Some(key.as_bytes()), Some(&value), &[], c.window_start);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.windows.encode()
    }

    /// An empty state starts afresh; anything else must be a snapshot that fits
    /// this configuration.
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let window_ms = self.windows.window_ms();
        self.windows =
            Windows::decode(state, window_ms)?.unwrap_or_else(|| Windows::new(window_ms));
        Ok(())
    }
}

weir_sdk::export_aggregator!(CampaignMinute);

#[cfg(test)]
mod tests;
