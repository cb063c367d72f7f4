//! Tumbling event-time windows per campaign: what is open, the highest
//! watermark seen, and the rule that a window closes once, when the watermark
//! reaches its end. All of it is the snapshot.

use std::collections::BTreeMap;

use campaign_model::codes::LATE;
use campaign_model::time;
use serde::{Deserialize, Serialize};
use weir_sdk::Rejection;

const PLUGIN: &str = "campaign-minute";

/// `[start, end)` of the window holding event time `t`; `None` when the window
/// does not fit an `i64` (only event times within a window of the extremes).
pub fn window_of(t: i64, window_ms: i64) -> Option<(i64, i64)> {
    let start = t.div_euclid(window_ms).checked_mul(window_ms)?;
    Some((start, start.checked_add(window_ms)?))
}

/// Views counted in one window for one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub view_count: u64,
    pub total_duration_ms: i64,
}

/// A window the watermark has closed, ready to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub window_start: i64,
    pub window_end: i64,
    pub campaign_id: i64,
    pub tally: Tally,
}

/// The open windows keyed by (window start, campaign id), so closing walks them
/// in output order, and the highest watermark seen (`i64::MIN`: none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    window_ms: i64,
    open: BTreeMap<(i64, i64), Tally>,
    watermark_ms: i64,
}

impl Windows {
    pub fn new(window_ms: i64) -> Self {
        Windows {
            window_ms,
            open: BTreeMap::new(),
            watermark_ms: i64::MIN,
        }
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    pub fn open_windows(&self) -> usize {
        self.open.len()
    }

    /// The `late` rejection when the window `[start, end)` of a view at `t` was
    /// already closed by the watermark.
    pub fn late(&self, t: i64, (start, end): (i64, i64)) -> Option<Rejection> {
        (end <= self.watermark_ms).then(|| {
            Rejection::new(
                LATE,
                format!(
                    "view at {} belongs to window {}, closed at watermark {}",
                    time::rfc3339_millis(t),
                    time::clock_span(start, end),
                    time::rfc3339(self.watermark_ms)
                ),
            )
        })
    }

    /// Counts a view of `duration_ms` in the open window starting at `start`;
    /// refuses one whose total would overflow.
    pub fn add(&mut self, start: i64, campaign_id: i64, duration_ms: i64) -> Result<(), String> {
        let tally = self.open.entry((start, campaign_id)).or_default();
        let total = tally
            .total_duration_ms
            .checked_add(duration_ms)
            .ok_or_else(|| {
                format!(
                    "duration {duration_ms} ms would overflow the total of campaign \
                     {campaign_id}'s window at {}",
                    time::rfc3339(start)
                )
            })?;
        tally.total_duration_ms = total;
        tally.view_count += 1;
        Ok(())
    }

    /// Moves the watermark to `watermark_ms` (never back) and removes and returns
    /// every window it closes, ordered by (window start, campaign id).
    pub fn close(&mut self, watermark_ms: i64) -> Vec<Closed> {
        self.watermark_ms = self.watermark_ms.max(watermark_ms);
        let mut closed = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            let (window_start, campaign_id) = *entry.key();
            // Every open window's end fits (checked when it was opened).
            let window_end = window_start.saturating_add(self.window_ms);
            if window_end > self.watermark_ms {
                break;
            }
            closed.push(Closed {
                window_start,
                window_end,
                campaign_id,
                tally: entry.remove(),
            });
        }
        closed
    }

    pub fn encode(&self) -> Vec<u8> {
        weir_sdk::snapshot_json(&Snapshot {
            version: Snapshot::VERSION,
            window_ms: self.window_ms,
            watermark_ms: (self.watermark_ms != i64::MIN).then_some(self.watermark_ms),
            windows: self
                .open
                .iter()
                .map(|(&(window_start, campaign_id), t)| OpenWindow {
                    window_start,
                    campaign_id,
                    view_count: t.view_count,
                    total_duration_ms: t.total_duration_ms,
                })
                .collect(),
        })
    }

    /// The windows of a snapshot taken with the same `window_ms`, checked to hold
    /// together; `None` for an empty snapshot (a fresh start).
    pub fn decode(bytes: &[u8], window_ms: i64) -> Result<Option<Windows>, String> {
        let Some(s) = weir_sdk::restore_json::<Snapshot>(PLUGIN, bytes)? else {
            return Ok(None);
        };
        weir_sdk::check_snapshot_version(PLUGIN, s.version, Snapshot::VERSION)?;
        let bad = |e: String| weir_sdk::inconsistent_snapshot(PLUGIN, e);
        if s.window_ms != window_ms {
            return Err(bad(format!(
                "its windows are {} ms long, the config says window_ms = {window_ms}; \
                 close them with the old setting first (or start without the snapshot)",
                s.window_ms
            )));
        }
        let mut w = Windows::new(window_ms);
        w.watermark_ms = s.watermark_ms.unwrap_or(i64::MIN);
        for o in s.windows {
            let at = format!("window at {} of campaign {}", o.window_start, o.campaign_id);
            match window_of(o.window_start, window_ms) {
                Some((start, end)) if start == o.window_start => {
                    if end <= w.watermark_ms {
                        return Err(bad(format!(
                            "{at} is still open, but the watermark {} has closed it",
                            w.watermark_ms
                        )));
                    }
                }
                _ => return Err(bad(format!("{at} does not start a {window_ms} ms window"))),
            }
            if o.view_count == 0 || o.total_duration_ms < 0 {
                return Err(bad(format!(
                    "{at} has {} views totalling {} ms",
                    o.view_count, o.total_duration_ms
                )));
            }
            let tally = Tally {
                view_count: o.view_count,
                total_duration_ms: o.total_duration_ms,
            };
            if w.open
                .insert((o.window_start, o.campaign_id), tally)
                .is_some()
            {
                return Err(bad(format!("{at} is listed twice")));
            }
        }
        Ok(Some(w))
    }
}

/// The snapshot: open windows in (start, campaign) order and the watermark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    version: u32,
    window_ms: i64,
    /// `null` before the first tick.
    watermark_ms: Option<i64>,
    windows: Vec<OpenWindow>,
}

impl Snapshot {
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenWindow {
    window_start: i64,
    campaign_id: i64,
    view_count: u64,
    total_duration_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    /// 2026-11-23T10:00:00Z
    const T10: i64 = 1_795_428_000_000;

    #[test]
    fn windows_are_floored_also_before_1970() {
        assert_eq!(window_of(T10, MIN), Some((T10, T10 + MIN)));
        assert_eq!(window_of(T10 + MIN - 1, MIN), Some((T10, T10 + MIN)));
        assert_eq!(window_of(T10 + MIN, MIN), Some((T10 + MIN, T10 + 2 * MIN)));
        assert_eq!(window_of(0, MIN), Some((0, MIN)));
        assert_eq!(window_of(-1, MIN), Some((-MIN, 0)));
        assert_eq!(window_of(-MIN, MIN), Some((-MIN, 0)));
        assert_eq!(window_of(-MIN - 1, MIN), Some((-2 * MIN, -MIN)));
        assert_eq!(
            window_of(T10 + 45_000, 30_000),
            Some((T10 + 30_000, T10 + MIN))
        );
        assert_eq!(window_of(7, 1), Some((7, 8)));
        // Windows that would not fit an i64.
        assert_eq!(window_of(i64::MIN, MIN), None);
        assert_eq!(window_of(i64::MAX, MIN), None);
        assert_eq!(
            window_of(i64::MAX - MIN, 1),
            Some((i64::MAX - MIN, i64::MAX - MIN + 1))
        );
    }

    #[test]
    fn close_emits_in_order_once_and_the_watermark_never_goes_back() {
        let mut w = Windows::new(MIN);
        w.add(T10 + MIN, 2, 100).expect("add");
        w.add(T10, 9, 100).expect("add");
        w.add(T10, 1, 300).expect("add");
        w.add(T10, 1, 500).expect("add");
        w.add(T10 + 2 * MIN, 1, 100).expect("add");
        assert_eq!(w.close(T10 + MIN - 1), vec![]);
        let closed = w.close(T10 + 2 * MIN);
        let keys: Vec<_> = closed
            .iter()
            .map(|c| (c.window_start, c.campaign_id))
            .collect();
        assert_eq!(keys, [(T10, 1), (T10, 9), (T10 + MIN, 2)]);
        assert_eq!(
            closed[0].tally,
            Tally {
                view_count: 2,
                total_duration_ms: 800
            }
        );
        assert_eq!(closed[0].window_end, T10 + MIN);
        assert_eq!(w.close(T10), vec![], "a lower watermark changes nothing");
        assert!(w.late(T10 + 5, (T10, T10 + MIN)).is_some());
        assert!(
            w.late(T10 + 2 * MIN, (T10 + 2 * MIN, T10 + 3 * MIN))
                .is_none()
        );
        assert_eq!(w.close(i64::MAX).len(), 1);
        assert_eq!(w.open_windows(), 0);
    }

    #[test]
    fn late_reasons_name_the_view_window_and_watermark() {
        let mut w = Windows::new(MIN);
        assert_eq!(w.late(T10, (T10, T10 + MIN)), None, "no watermark yet");
        w.close(T10 + 150_000);
        assert_eq!(
            w.late(T10 + 12_345, (T10, T10 + MIN))
                .map(|r| r.to_string())
                .as_deref(),
            Some(
                "late: view at 2026-11-23T10:00:12.345Z belongs to window 10:00–10:01, \
                 closed at watermark 2026-11-23T10:02:30Z"
            )
        );
        // The end is exclusive: a window ending at the watermark is closed.
        assert!(
            w.late(T10 + MIN + 1, (T10 + 90_000, T10 + 150_000))
                .is_some()
        );
        assert!(
            w.late(T10 + MIN + 1, (T10 + 90_001, T10 + 150_001))
                .is_none()
        );
    }

    #[test]
    fn snapshots_round_trip() {
        let mut w = Windows::new(MIN);
        assert_eq!(
            String::from_utf8_lossy(&w.encode()),
            r#"{"version":1,"window_ms":60000,"watermark_ms":null,"windows":[]}"#
        );
        w.add(-MIN, 3, 250).expect("add");
        w.add(T10, 1, 1_000).expect("add");
        w.close(-5);
        let bytes = w.encode();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"version":1,"window_ms":60000,"watermark_ms":-5,"windows":[{"window_start":-60000,"campaign_id":3,"view_count":1,"total_duration_ms":250},{"window_start":1795428000000,"campaign_id":1,"view_count":1,"total_duration_ms":1000}]}"#
        );
        assert_eq!(Windows::decode(&bytes, MIN), Ok(Some(w)));
        assert_eq!(Windows::decode(b"", MIN), Ok(None));
    }

    #[test]
    fn snapshots_that_do_not_fit_are_refused() {
        let dec = |json: &str| Windows::decode(json.as_bytes(), MIN).expect_err("refused");
        let win = |start: i64, count: u64, total: i64| {
            format!(
                r#"{{"window_start":{start},"campaign_id":1,"view_count":{count},"total_duration_ms":{total}}}"#
            )
        };
        let snap = |wm: &str, windows: &[String]| {
            format!(
                r#"{{"version":1,"window_ms":60000,"watermark_ms":{wm},"windows":[{}]}}"#,
                windows.join(",")
            )
        };
        assert!(dec("[]").starts_with("campaign-minute snapshot: not a campaign-minute snapshot"));
        assert_eq!(
            dec(r#"{"version":7,"window_ms":60000,"watermark_ms":null,"windows":[]}"#),
            "campaign-minute snapshot: inconsistent state: format version 7 (this plugin reads 1)"
        );
        assert!(
            Windows::decode(snap("null", &[]).as_bytes(), 30_000)
                .expect_err("other size")
                .contains("its windows are 60000 ms long, the config says window_ms = 30000")
        );
        assert!(
            dec(&snap("null", &[win(T10 + 1, 1, 5)])).ends_with("does not start a 60000 ms window")
        );
        assert!(dec(&snap("null", &[win(T10, 0, 0)])).ends_with("has 0 views totalling 0 ms"));
        assert!(dec(&snap("null", &[win(T10, 2, -1)])).contains("totalling -1 ms"));
        assert!(dec(&snap("null", &[win(T10, 1, 5), win(T10, 2, 9)])).ends_with("is listed twice"));
        assert!(
            dec(&snap(&(T10 + MIN).to_string(), &[win(T10, 1, 5)]))
                .contains("is still open, but the watermark 1795428060000 has closed it")
        );
        assert!(dec(&snap("null", &[win(i64::MAX - 5, 1, 5)])).contains("does not start"));
    }

    #[test]
    fn totals_that_would_overflow_are_refused() {
        let mut w = Windows::new(MIN);
        w.add(T10, 1, i64::MAX).expect("fits");
        let err = w.add(T10, 1, 1).expect_err("overflow");
        assert!(err.contains("would overflow the total"), "{err}");
        assert_eq!(w.close(i64::MAX)[0].tally.view_count, 1);
    }
}
