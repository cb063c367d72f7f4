//! `campaign-views`: a source plugin making advertising view logs for the
//! campaigns of the `campaigns` lookup table, as JSON keyed by `view_id` (or `campaign_id`) with
//! `start_timestamp` as event time; a share of views start out of order, late,
//! or name an unknown campaign, each labelled in the `weir.injected` header (see
//! [`stream`]).

pub mod config;
pub mod stream;

use campaign_model::codes::INJECTED_HEADER;
use config::{Config, Key};
use serde::{Deserialize, Serialize};
use stream::Stream;
use weir_sdk::{FlatBatch, Source};

const PLUGIN: &str = "campaign-views";

/// The plugin: a [`Stream`] and its clock.
pub struct CampaignViews {
    stream: Stream,
    simulated_views_per_sec: Option<f64>,
    key: Key,
    /// The clock at the first batch: where simulated time starts and what the
    /// late-view warm-up counts from.
    origin_ms: Option<i64>,
}

/// What a restart needs: the stream's seed and position and the clock origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    version: u32,
    seed: u64,
    seq: u64,
    origin_ms: Option<i64>,
}

const SNAPSHOT_VERSION: u32 = 1;

fn host_random() -> u64 {
    rand::Rng::random(&mut <rand::rngs::SmallRng as rand::SeedableRng>::from_os_rng())
}

impl CampaignViews {
    /// The clock of view number `seq` when the batch is made at `wall_ms`.
    fn clock(&mut self, wall_ms: i64, seq: u64) -> (i64, i64) {
        let origin = *self.origin_ms.get_or_insert(wall_ms);
        let now = match self.simulated_views_per_sec {
            Some(rate) => origin.saturating_add((seq as f64 * 1000.0 / rate) as i64),
            None => wall_ms,
        };
        (now, now.saturating_sub(origin))
    }

    /// Appends `max_records` views made when the wall clock reads `wall_ms`.
    fn fill(&mut self, wall_ms: i64, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        for _ in 0..max_records {
            let (now, elapsed) = self.clock(wall_ms, self.stream.seq());
            let e = self.stream.next(now, elapsed);
            let value = serde_json::to_vec(&e.view).map_err(|e| e.to_string())?;
            let label;
            let headers: &[(&str, &[u8])] = match e.label {
                Some(l) => {
                    label = [(INJECTED_HEADER, l.as_bytes())];
                    &label
                }
                None => &[],
            };
            let campaign;
            let key = match self.key {
                Key::ViewId => e.view.view_id.as_bytes(),
                Key::CampaignId => {
                    campaign = e.view.campaign_id.to_string();
                    campaign.as_bytes()
                }
            };
            out.push(Some(key), Some(&value), headers, e.view.start_timestamp);
        }
        Ok(())
    }
}

impl Source for CampaignViews {
    fn init(config: &str) -> Result<Self, String> {
        let (config, campaigns) = Config::parse(config)?;
        let seed = config.seed.unwrap_or_else(host_random);
        Ok(CampaignViews {
            stream: Stream::new(&config, campaigns, seed, host_random()),
            simulated_views_per_sec: config.simulated_views_per_sec.filter(|r| *r > 0.0),
            key: config.key,
            origin_ms: None,
        })
    }

    fn next_batch(&mut self, max_records: u32, out: &mut FlatBatch) -> Result<(), String> {
        self.fill(weir_sdk::now_ms(), max_records, out)
    }

    fn snapshot(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(&Snapshot {
            version: SNAPSHOT_VERSION,
            seed: self.stream.seed(),
            seq: self.stream.seq(),
            origin_ms: self.origin_ms,
        })
    }

    /// Continues the snapshot's stream (its seed wins over the config's).
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let Some(s) = weir_sdk::restore_json::<Snapshot>(PLUGIN, state)? else {
            return Ok(());
        };
        weir_sdk::check_snapshot_version(PLUGIN, s.version, SNAPSHOT_VERSION)?;
        self.stream.resume(s.seed, s.seq);
        self.origin_ms = s.origin_ms;
        Ok(())
    }
}

weir_sdk::export_source!(CampaignViews);

#[cfg(test)]
mod tests {
    use campaign_model::codes::LATE;

    use super::*;

    const TABLE: &str = r#""lookups":{"campaigns":[{"campaign_id":"1","network_id":"10"},{"campaign_id":"2","network_id":"20"}]}"#;

    fn plugin(fields: &str) -> CampaignViews {
        CampaignViews::init(&format!("{{{fields},{TABLE}}}")).expect("init")
    }

    /// (start timestamp, label) of each view of a batch made at `wall_ms`.
    fn batch(p: &mut CampaignViews, wall_ms: i64, n: u32) -> Vec<(i64, Option<String>)> {
        let mut out = FlatBatch::default();
        p.fill(wall_ms, n, &mut out).expect("fill");
        out.records()
            .expect("layout")
            .iter()
            .map(|r| {
                let label = r
                    .header(INJECTED_HEADER)
                    .map(|l| String::from_utf8_lossy(l).into_owned());
                (r.timestamp_ms, label)
            })
            .collect()
    }

    #[test]
    fn views_are_keyed_by_campaign_when_asked() {
        let keys = |fields: &str| {
            let mut p = plugin(fields);
            let mut out = FlatBatch::default();
            p.fill(1_000_000, 50, &mut out).expect("fill");
            out.records()
                .expect("layout")
                .iter()
                .map(|r| {
                    let v: serde_json::Value =
                        serde_json::from_slice(r.value.expect("value")).expect("json");
                    (String::from_utf8_lossy(r.key.expect("key")).into_owned(), v)
                })
                .collect::<Vec<_>>()
        };
        for (key, v) in keys(r#""seed":3,"key":"campaign_id""#) {
            assert_eq!(key, v["campaign_id"].to_string());
        }
        for (key, v) in keys(r#""seed":3"#) {
            assert_eq!(key, v["view_id"].as_str().expect("view_id"));
        }
        assert!(CampaignViews::init(&format!("{{\"key\":\"banner\",{TABLE}}}")).is_err());
    }

    #[test]
    fn simulated_time_advances_per_view_from_the_first_batch() {
        let mut p = plugin(
            r#""seed":1,"simulated_views_per_sec":4,"out_of_order_ratio":0,"late_ratio":0,"unknown_campaign_ratio":0"#,
        );
        let first = batch(&mut p, 1_000_000, 3);
        assert_eq!(
            first.iter().map(|x| x.0).collect::<Vec<_>>(),
            [1_000_000, 1_000_250, 1_000_500]
        );
        // The wall clock of later batches does not matter.
        let second = batch(&mut p, 5_000_000, 2);
        assert_eq!(
            second.iter().map(|x| x.0).collect::<Vec<_>>(),
            [1_000_750, 1_001_000]
        );
    }

    #[test]
    fn zero_simulated_rate_is_the_wall_clock() {
        let mut p = plugin(r#""seed":1,"simulated_views_per_sec":0"#);
        let starts: Vec<i64> = batch(&mut p, 7_000_000, 50)
            .iter()
            .filter(|(_, label)| label.is_none())
            .map(|(t, _)| *t)
            .collect();
        assert!(starts.len() > 30 && starts.iter().all(|t| *t == 7_000_000));
    }

    #[test]
    fn snapshot_round_trip_continues_the_stream() {
        let mut p = plugin(
            r#""seed":5,"simulated_views_per_sec":10,"late_ratio":1,"out_of_order_ratio":0,"unknown_campaign_ratio":0,"late_warmup_ms":500"#,
        );
        batch(&mut p, 2_000_000, 4);
        let snap = p.snapshot();
        assert_eq!(
            String::from_utf8_lossy(&snap),
            r#"{"version":1,"seed":5,"seq":4,"origin_ms":2000000}"#
        );
        let mut q = plugin(
            r#""seed":99,"simulated_views_per_sec":10,"late_ratio":1,"out_of_order_ratio":0,"unknown_campaign_ratio":0,"late_warmup_ms":500"#,
        );
        q.restore(&snap).expect("restore");
        assert_eq!(q.stream.seed(), 5);
        let (now, elapsed) = q.clock(9_000_000, q.stream.seq());
        assert_eq!((now, elapsed), (2_000_400, 400));
        assert_eq!(q.stream.next(now, elapsed).label, None, "still warming up");
        let (now, elapsed) = q.clock(9_000_000, q.stream.seq());
        assert_eq!(q.stream.next(now, elapsed).label, Some(LATE));
        assert_eq!(
            q.snapshot(),
            br#"{"version":1,"seed":5,"seq":6,"origin_ms":2000000}"#
        );
    }

    #[test]
    fn bad_snapshots_are_refused_and_empty_is_fresh() {
        let mut p = plugin(r#""seed":5"#);
        assert_eq!(p.restore(b""), Ok(()));
        assert_eq!(p.stream.seq(), 0);
        let err = p.restore(b"\x01\x02").expect_err("garbage");
        assert!(
            err.starts_with("campaign-views snapshot: not a campaign-views snapshot"),
            "{err}"
        );
        let err = p
            .restore(br#"{"version":2,"seed":5,"seq":4,"origin_ms":null}"#)
            .expect_err("version");
        assert_eq!(
            err,
            "campaign-views snapshot: inconsistent state: format version 2 (this plugin reads 1)"
        );
    }
}
