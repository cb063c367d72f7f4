//! The view stream: which campaign and banner a view is for, how long it lasts,
//! and which views start out of order, late or for an unknown campaign (each
//! of those labelled), all from seeded random streams; only view ids come from
//! the host's random source.

use campaign_model::campaigns::Campaigns;
use campaign_model::codes::{LATE, OUT_OF_ORDER, UNKNOWN_CAMPAIGN};
use campaign_model::view::View;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::{Config, MIN_DURATION_MS, banner_id};

/// Spread of the log-normal duration (σ of its logarithm): with the default
/// median of 8 s, half the views last 4–16 s and one in a hundred over 80 s.
const DURATION_SIGMA: f64 = 1.0;
/// Zipf exponent of campaign popularity: with 20 campaigns the busiest gets
/// about 27 times the views of the quietest.
const POPULARITY_EXPONENT: f64 = 1.1;
/// Unknown campaigns are `UNKNOWN_BASE + 1..=999` (or that plus a multiple of
/// 1000, when the table happens to hold the id).
const UNKNOWN_BASE: i64 = 90_000;
/// Mixed into the seed for the popularity ranking, which must not depend on how
/// many views were made (it stays the same across restarts).
const POPULARITY_SEED: u64 = 0xC0FF_EE00_5EED_0001;

/// One generated view and its label (the `weir.injected` header), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub view: View,
    pub label: Option<&'static str>,
}

/// Campaign ids ranked by a seeded shuffle, with cumulative Zipf weights.
struct Popularity {
    ids: Vec<i64>,
    cumulative: Vec<f64>,
}

impl Popularity {
    fn new(campaigns: &Campaigns, seed: u64) -> Self {
        let mut ids = campaigns.ids().to_vec();
        let mut r = SmallRng::seed_from_u64(seed ^ POPULARITY_SEED);
        for i in (1..ids.len()).rev() {
            ids.swap(i, r.random_range(0..=i));
        }
        let mut total = 0.0;
        let cumulative = (1..=ids.len())
            .map(|rank| {
                total += (rank as f64).powf(-POPULARITY_EXPONENT);
                total
            })
            .collect();
        Popularity { ids, cumulative }
    }

    fn pick(&self, r: &mut SmallRng) -> i64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = r.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= u);
        self.ids[i.min(self.ids.len() - 1)]
    }
}

/// Makes views; the same seed and settings give the same campaigns, banners,
/// durations and injections in the same order.
pub struct Stream {
    config: Config,
    campaigns: Campaigns,
    popularity: Popularity,
    rng: SmallRng,
    ids: SmallRng,
    seed: u64,
    entropy: u64,
    /// Views made so far.
    seq: u64,
}

impl Stream {
    /// `campaigns` must not be empty (the config check refuses an empty table);
    /// `entropy` seeds the view ids.
    pub fn new(config: &Config, campaigns: Campaigns, seed: u64, entropy: u64) -> Self {
        Stream {
            config: Config {
                lookups: None,
                ..config.clone()
            },
            popularity: Popularity::new(&campaigns, seed),
            campaigns,
            rng: SmallRng::seed_from_u64(seed),
            ids: SmallRng::seed_from_u64(entropy),
            seed,
            entropy,
            seq: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Continues the stream of `seed` after `seq` views, with random streams
    /// derived from both (so views after a restart are new views, not repeats).
    pub fn resume(&mut self, seed: u64, seq: u64) {
        if seed != self.seed {
            self.popularity = Popularity::new(&self.campaigns, seed);
            self.seed = seed;
        }
        self.seq = seq;
        self.rng = SmallRng::seed_from_u64(seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.ids = SmallRng::seed_from_u64(self.entropy ^ seq.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    }

    /// The next view, made at `now_ms`, `elapsed_ms` after the stream's first.
    pub fn next(&mut self, now_ms: i64, elapsed_ms: i64) -> Emitted {
        self.seq += 1;
        let c = &self.config;
        let r = &mut self.rng;
        let roll: f64 = r.random();
        let late = c.late_ratio;
        let ooo = late + c.out_of_order_ratio;
        let unknown = ooo + c.unknown_campaign_ratio;
        let label = if roll < late {
            (elapsed_ms >= c.late_warmup_ms).then_some(LATE)
        } else if roll < ooo {
            Some(OUT_OF_ORDER)
        } else if roll < unknown {
            Some(UNKNOWN_CAMPAIGN)
        } else {
            None
        };
        let campaign_id = if label == Some(UNKNOWN_CAMPAIGN) {
            let mut id = UNKNOWN_BASE + r.random_range(1..=999);
            while self.campaigns.contains(id) {
                id += 1000;
            }
            id
        } else {
            self.popularity.pick(r)
        };
        let k = r.random_range(1..=c.banners_per_campaign);
        let duration = duration_ms(r, c.median_duration_ms, c.max_duration_ms);
        let before = match label {
            Some(LATE) => r.random_range(c.late_min_ms..=c.late_max_ms),
            Some(OUT_OF_ORDER) => r.random_range(1..=c.max_out_of_order_ms),
            _ => 0,
        };
        let start = now_ms.saturating_sub(before);
        Emitted {
            view: View {
                view_id: weir_sdk::ids::uuid_v4(self.ids.random()),
                start_timestamp: start,
                end_timestamp: start.saturating_add(duration),
                banner_id: banner_id(campaign_id, k).unwrap_or_default(),
                campaign_id,
            },
            label,
        }
    }
}

/// A log-normal duration with the given median, rounded to the millisecond and
/// kept within `MIN_DURATION_MS..=max_ms`.
fn duration_ms(r: &mut SmallRng, median_ms: i64, max_ms: i64) -> i64 {
    // Box–Muller: u1 in (0, 1] so its logarithm is finite.
    let u1 = 1.0 - r.random::<f64>();
    let u2: f64 = r.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    let ms = (median_ms as f64 * (DURATION_SIGMA * z).exp()).round();
    (ms as i64).clamp(MIN_DURATION_MS, max_ms)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// 2026-11-23T10:00:00Z
    const NOW: i64 = 1_795_428_000_000;

    fn campaigns(n: i64) -> Campaigns {
        let rows: Vec<_> = (1..=n)
            .map(|i| {
                serde_json::from_str(&format!(
                    r#"{{"campaign_id":"{}","network_id":"{}"}}"#,
                    100 + i,
                    i % 3
                ))
                .expect("row")
            })
            .collect();
        Campaigns::from_rows(&rows).expect("table")
    }

    fn stream(config: Config, seed: u64) -> Stream {
        Stream::new(&config, campaigns(20), seed, 77)
    }

    fn run(s: &mut Stream, n: usize) -> Vec<Emitted> {
        (0..n).map(|i| s.next(NOW + i as i64, 3_600_000)).collect()
    }

    #[test]
    fn same_seed_same_views() {
        let c = Config::default();
        let a = run(&mut stream(c.clone(), 5), 2_000);
        assert_eq!(a, run(&mut stream(c.clone(), 5), 2_000));
        let b = run(&mut stream(c, 6), 2_000);
        let campaigns = |v: &[Emitted]| v.iter().map(|e| e.view.campaign_id).collect::<Vec<_>>();
        assert_ne!(campaigns(&a), campaigns(&b));
    }

    #[test]
    fn views_are_well_formed() {
        let c = Config {
            banners_per_campaign: 3,
            ..Config::default()
        };
        let table = campaigns(20);
        let mut ids = BTreeSet::new();
        for e in run(&mut stream(c, 1), 20_000) {
            let v = &e.view;
            let d = v.end_timestamp - v.start_timestamp;
            assert!((200..=600_000).contains(&d), "{v:?}");
            assert!(ids.insert(v.view_id.clone()), "repeated id {}", v.view_id);
            assert_eq!(v.view_id.len(), 36);
            assert_eq!(&v.view_id[14..15], "4");
            assert!(
                matches!(&v.view_id[19..20], "8" | "9" | "a" | "b"),
                "{}",
                v.view_id
            );
            let k = v.banner_id - v.campaign_id * 1000;
            assert!((1..=3).contains(&k), "{v:?}");
            assert_eq!(
                table.contains(v.campaign_id),
                e.label != Some(UNKNOWN_CAMPAIGN),
                "{e:?}"
            );
        }
    }

    #[test]
    fn durations_are_skewed_around_the_median() {
        let mut s = stream(Config::default(), 3);
        let mut d: Vec<i64> = run(&mut s, 20_000)
            .iter()
            .map(|e| e.view.end_timestamp - e.view.start_timestamp)
            .collect();
        d.sort_unstable();
        let median = d[d.len() / 2];
        assert!((7_500..=8_500).contains(&median), "median {median}");
        let mean = d.iter().sum::<i64>() / d.len() as i64;
        assert!(mean > median + 3_000, "right-skewed: mean {mean}");
        assert!(d.iter().any(|&x| x > 60_000));
    }

    #[test]
    fn some_campaigns_are_much_busier() {
        let mut counts = BTreeMap::<i64, u32>::new();
        for e in run(&mut stream(Config::default(), 9), 40_000) {
            *counts.entry(e.view.campaign_id).or_default() += 1;
        }
        let known: Vec<u32> = counts
            .iter()
            .filter(|(id, _)| **id < UNKNOWN_BASE)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(known.len(), 20, "every campaign gets views");
        let (lo, hi) = (
            known.iter().min().expect("min"),
            known.iter().max().expect("max"),
        );
        assert!(*hi > 10 * lo, "busiest {hi}, quietest {lo}");
        let ranking = |seed| {
            let p = Popularity::new(&campaigns(20), seed);
            p.ids
        };
        assert_eq!(ranking(9), ranking(9));
        assert_ne!(ranking(9), ranking(10));
    }

    #[test]
    fn injections_follow_the_ratios_and_offsets() {
        let c = Config {
            out_of_order_ratio: 0.1,
            late_ratio: 0.05,
            unknown_campaign_ratio: 0.02,
            ..Config::default()
        };
        let views = run(&mut stream(c, 4), 20_000);
        let count = |l| views.iter().filter(|e| e.label == Some(l)).count();
        assert!(
            (1_800..=2_200).contains(&count(OUT_OF_ORDER)),
            "{}",
            count(OUT_OF_ORDER)
        );
        assert!((850..=1_150).contains(&count(LATE)), "{}", count(LATE));
        assert!((320..=480).contains(&count(UNKNOWN_CAMPAIGN)));
        for (i, e) in views.iter().enumerate() {
            let before = NOW + i as i64 - e.view.start_timestamp;
            match e.label {
                Some(LATE) => assert!((120_000..=600_000).contains(&before), "{e:?}"),
                Some(OUT_OF_ORDER) => assert!((1..=20_000).contains(&before), "{e:?}"),
                _ => assert_eq!(before, 0),
            }
        }
    }

    #[test]
    fn no_late_views_before_the_warmup() {
        let c = Config {
            late_ratio: 1.0,
            out_of_order_ratio: 0.0,
            unknown_campaign_ratio: 0.0,
            late_warmup_ms: 60_000,
            ..Config::default()
        };
        let mut s = stream(c, 2);
        assert!((0..100).all(|_| s.next(NOW, 59_999).label.is_none()));
        assert_eq!(s.next(NOW, 60_000).label, Some(LATE));
    }

    #[test]
    fn unknown_ids_avoid_the_table() {
        let rows: Vec<_> = (90_001..=90_999)
            .map(|id| {
                serde_json::from_str(&format!(r#"{{"campaign_id":"{id}","network_id":"1"}}"#))
                    .expect("row")
            })
            .collect();
        let table = Campaigns::from_rows(&rows).expect("table");
        let c = Config {
            unknown_campaign_ratio: 1.0,
            out_of_order_ratio: 0.0,
            late_ratio: 0.0,
            ..Config::default()
        };
        let mut s = Stream::new(&c, table.clone(), 1, 1);
        for _ in 0..100 {
            let v = s.next(NOW, 0).view;
            assert!(
                !table.contains(v.campaign_id) && v.campaign_id > 91_000,
                "{v:?}"
            );
        }
    }

    #[test]
    fn a_resumed_stream_makes_new_views() {
        let mut a = stream(Config::default(), 3);
        let first: BTreeSet<String> = run(&mut a, 500)
            .into_iter()
            .map(|e| e.view.view_id)
            .collect();
        let mut b = stream(Config::default(), 3);
        b.resume(3, a.seq());
        assert_eq!(b.seq(), 500);
        let next = run(&mut b, 500);
        assert!(next.iter().all(|e| !first.contains(&e.view.view_id)));
        assert_eq!(b.seq(), 1_000);
        // Resuming at 0 is the fresh stream.
        let mut c = stream(Config::default(), 3);
        c.resume(3, 0);
        assert_eq!(run(&mut c, 10), run(&mut stream(Config::default(), 3), 10));
    }
}
