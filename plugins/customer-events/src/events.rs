//! UserEvent values: each user keeps a device, place and subscription drawn
//! once from the seed; each event draws its type, content and interactions.
//! Events are typed structs written to JSON by hand ([`Event::write_json`]):
//! serde's derived writer, escaping every key and string, was two thirds of
//! the generator's time. The derive stays as the reference a test holds the
//! hand-written bytes to.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use weir_sdk::json_out::{boolean, number, opt_plain_str, plain_str, plain_strs};

use crate::catalog::*;
use crate::config::Mix;

const DAY_MS: i64 = 86_400_000;

/// Profiles kept at once (direct-mapped by user id): enough for the usual
/// user counts, bounded for large ones.
const PROFILE_SLOTS: usize = 8192;

/// Makes events from a seed; `seq` counts them, the whole state to resume.
pub struct Generator {
    seed: u64,
    users: u32,
    mix: Mix,
    rng: SmallRng,
    pub seq: u64,
    /// `(user, day, profile)`: a profile depends only on the seed, the user
    /// and the day, so it is drawn once per user and day.
    profiles: Vec<Option<(u32, i64, Profile)>>,
}

/// One UserEvent, shaped like `schemas/user_event.v1.avsc`.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub event_id: String,
    pub event_type: &'static str,
    pub event_timestamp: i64,
    pub user_id: String,
    pub session_id: String,
    pub device: &'a Device,
    pub location: &'a Location,
    pub content: Option<Content>,
    pub subscription: &'a Subscription,
    pub details: Details,
    pub actions: Vec<Action>,
    pub recommendations: Vec<Recommendation>,
    pub search_history: Vec<Search>,
}

impl Event<'_> {
    /// Appends the event as JSON: the bytes `serde_json::to_vec` writes.
    /// Every string in it is built by the generator from its catalogue,
    /// digits and hex, so none needs escaping.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b"{\"event_id\":", &self.event_id);
        plain_str(out, b",\"event_type\":", self.event_type);
        number(out, b",\"event_timestamp\":", self.event_timestamp);
        plain_str(out, b",\"user_id\":", &self.user_id);
        plain_str(out, b",\"session_id\":", &self.session_id);
        self.device.write_json(out);
        self.location.write_json(out);
        match &self.content {
            Some(content) => content.write_json(out),
            None => out.extend_from_slice(b",\"content\":null"),
        }
        self.subscription.write_json(out);
        self.details.write_json(out);
        out.extend_from_slice(b",\"actions\":[");
        for (i, action) in self.actions.iter().enumerate() {
            action.write_json(out, i == 0);
        }
        out.extend_from_slice(b"],\"recommendations\":[");
        for (i, recommendation) in self.recommendations.iter().enumerate() {
            recommendation.write_json(out, i == 0);
        }
        out.extend_from_slice(b"],\"search_history\":[");
        for (i, search) in self.search_history.iter().enumerate() {
            search.write_json(out, i == 0);
        }
        out.extend_from_slice(b"]}");
    }
}

/// The punctuation before a list item: none before the first.
fn item(first: bool) -> &'static [u8] {
    if first { b"{" } else { b",{" }
}

impl Generator {
    pub fn new(seed: u64, users: u32, mix: Mix) -> Self {
        Generator {
            seed,
            users,
            mix,
            rng: SmallRng::seed_from_u64(seed),
            seq: 0,
            profiles: Vec::new(),
        }
    }

    /// Continues after `seq` events (a different but repeatable stream).
    pub fn resume(&mut self, seq: u64) {
        self.seq = seq;
        self.rng = SmallRng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// The next event at `now_ms`: its key (user id) and value.
    pub fn next(&mut self, now_ms: i64) -> (String, Event<'_>) {
        self.seq += 1;
        let user = self.rng.random_range(0..self.users);
        let user_id = format!("user-{user:06}");
        let day = now_ms.div_euclid(DAY_MS);
        if self.profiles.is_empty() {
            self.profiles
                .resize_with((self.users as usize).min(PROFILE_SLOTS), || None);
        }
        let slot = user as usize % self.profiles.len();
        if !matches!(self.profiles[slot], Some((u, d, _)) if u == user && d == day) {
            self.profiles[slot] = Some((user, day, Profile::of(self.seed, user, day)));
        }
        let r = &mut self.rng;
        let event_id = weir_sdk::ids::uuid_v4(r.random());
        let session_id = format!(
            "sess-{user:06}-{:04x}",
            (now_ms / 1_800_000) as u16 ^ user as u16
        );
        let total = self.mix.content_play + self.mix.search + self.mix.browse;
        let roll = r.random::<f64>() * total;
        let kind = if roll < self.mix.content_play {
            "content_play"
        } else if roll < self.mix.content_play + self.mix.search {
            "search"
        } else {
            "browse"
        };
        let (content, details, actions, search_history) = match kind {
            "content_play" => play(r, now_ms),
            "search" => search(r, now_ms),
            _ => browse(r),
        };
        let recommendations = recommendations(r, if kind == "browse" { 3..7 } else { 0..4 });
        let Some((_, _, profile)) = &self.profiles[slot] else {
            unreachable!("the slot was filled above")
        };
        let event = Event {
            event_id,
            event_type: kind,
            event_timestamp: now_ms,
            user_id: user_id.clone(),
            session_id,
            device: &profile.device,
            location: &profile.location,
            content,
            subscription: &profile.subscription,
            details,
            actions,
            recommendations,
            search_history,
        };
        (user_id, event)
    }
}

#[derive(Debug, Serialize)]
pub struct Device {
    pub device_type: &'static str,
    pub os: &'static str,
    pub model: Option<&'static str>,
    pub app_version: String,
    pub ip_address: String,
}

impl Device {
    fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b",\"device\":{\"device_type\":", self.device_type);
        plain_str(out, b",\"os\":", self.os);
        opt_plain_str(out, b",\"model\":", self.model);
        plain_str(out, b",\"app_version\":", &self.app_version);
        plain_str(out, b",\"ip_address\":", &self.ip_address);
        out.push(b'}');
    }
}

#[derive(Debug, Serialize)]
pub struct Location {
    pub country: &'static str,
    pub region: &'static str,
    pub city: &'static str,
    pub timezone: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

impl Location {
    fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b",\"location\":{\"country\":", self.country);
        plain_str(out, b",\"region\":", self.region);
        plain_str(out, b",\"city\":", self.city);
        plain_str(out, b",\"timezone\":", self.timezone);
        number(out, b",\"latitude\":", self.latitude);
        number(out, b",\"longitude\":", self.longitude);
        out.push(b'}');
    }
}

#[derive(Debug, Serialize)]
pub struct Subscription {
    pub plan: &'static str,
    pub status: &'static str,
    pub started_at: i64,
    pub renewal_date: Option<i64>,
    pub auto_renew: bool,
    pub monthly_price_cents: i32,
    pub currency: &'static str,
}

impl Subscription {
    fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b",\"subscription\":{\"plan\":", self.plan);
        plain_str(out, b",\"status\":", self.status);
        number(out, b",\"started_at\":", self.started_at);
        number(out, b",\"renewal_date\":", self.renewal_date);
        boolean(out, b",\"auto_renew\":", self.auto_renew);
        number(out, b",\"monthly_price_cents\":", self.monthly_price_cents);
        plain_str(out, b",\"currency\":", self.currency);
        out.push(b'}');
    }
}

/// What stays the same for a user across a day's events.
#[derive(Debug)]
struct Profile {
    device: Device,
    location: Location,
    subscription: Subscription,
}

impl Profile {
    fn of(seed: u64, user: u32, today: i64) -> Profile {
        let r = &mut SmallRng::seed_from_u64(seed ^ (u64::from(user) << 20) ^ 0x5EED);
        let (device_type, oses, models) = DEVICES[r.random_range(0..DEVICES.len())];
        let model = (!models.is_empty()).then(|| models[r.random_range(0..models.len())]);
        let (country, region, city, timezone, latitude, longitude) =
            PLACES[r.random_range(0..PLACES.len())];
        let currency = CURRENCIES
            .iter()
            .find(|(c, _)| *c == country)
            .map_or("USD", |(_, cur)| cur);
        let (plan, price) = PLANS[r.random_range(0..PLANS.len())];
        let status = if plan == "free" {
            "active"
        } else {
            STATUSES[r.random_range(0..STATUSES.len())]
        };
        // Subscribed 1 to 900 days ago; renews monthly from that day.
        let started_days = today - r.random_range(1..900);
        let renewal = (plan != "free" && status != "cancelled")
            .then(|| today + 30 - (today - started_days).rem_euclid(30));
        Profile {
            device: Device {
                device_type,
                os: oses[r.random_range(0..oses.len())],
                model,
                app_version: format!(
                    "{}.{}.{}",
                    r.random_range(5..8),
                    r.random_range(0..20),
                    r.random_range(0..10)
                ),
                ip_address: fake::Fake::fake_with_rng::<String, _>(
                    &fake::faker::internet::en::IPv4(),
                    r,
                ),
            },
            location: Location {
                country,
                region,
                city,
                timezone,
                latitude,
                longitude,
            },
            subscription: Subscription {
                plan,
                status,
                started_at: started_days * DAY_MS + r.random_range(0..DAY_MS),
                renewal_date: renewal,
                auto_renew: status != "cancelled",
                monthly_price_cents: price,
                currency,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Content {
    pub content_id: &'static str,
    pub title: &'static str,
    pub content_type: &'static str,
    pub genres: &'static [&'static str],
    pub season: Option<u8>,
    pub episode: Option<i32>,
    pub duration_seconds: i32,
    pub release_year: i32,
    pub maturity_rating: &'static str,
}

impl Content {
    fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b",\"content\":{\"content_id\":", self.content_id);
        plain_str(out, b",\"title\":", self.title);
        plain_str(out, b",\"content_type\":", self.content_type);
        plain_strs(out, b",\"genres\":", self.genres);
        number(out, b",\"season\":", self.season);
        number(out, b",\"episode\":", self.episode);
        number(out, b",\"duration_seconds\":", self.duration_seconds);
        number(out, b",\"release_year\":", self.release_year);
        plain_str(out, b",\"maturity_rating\":", self.maturity_rating);
        out.push(b'}');
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Details {
    pub playback_position_seconds: Option<i32>,
    pub quality: Option<&'static str>,
    pub bitrate_kbps: Option<i32>,
    pub buffering_events: Option<i32>,
    pub buffering_ms: Option<i64>,
    pub search_query: Option<&'static str>,
    pub results_count: Option<i32>,
    pub page: Option<&'static str>,
    pub referrer: Option<&'static str>,
}

impl Details {
    fn write_json(&self, out: &mut Vec<u8>) {
        number(
            out,
            b",\"details\":{\"playback_position_seconds\":",
            self.playback_position_seconds,
        );
        opt_plain_str(out, b",\"quality\":", self.quality);
        number(out, b",\"bitrate_kbps\":", self.bitrate_kbps);
        number(out, b",\"buffering_events\":", self.buffering_events);
        number(out, b",\"buffering_ms\":", self.buffering_ms);
        opt_plain_str(out, b",\"search_query\":", self.search_query);
        number(out, b",\"results_count\":", self.results_count);
        opt_plain_str(out, b",\"page\":", self.page);
        opt_plain_str(out, b",\"referrer\":", self.referrer);
        out.push(b'}');
    }
}

#[derive(Debug, Serialize)]
pub struct Action {
    pub action: &'static str,
    pub at: i64,
    pub position_seconds: i32,
    pub value: Option<String>,
}

impl Action {
    fn write_json(&self, out: &mut Vec<u8>, first: bool) {
        out.extend_from_slice(item(first));
        plain_str(out, b"\"action\":", self.action);
        number(out, b",\"at\":", self.at);
        number(out, b",\"position_seconds\":", self.position_seconds);
        opt_plain_str(out, b",\"value\":", self.value.as_deref());
        out.push(b'}');
    }
}

#[derive(Debug, Serialize)]
pub struct Search {
    pub query: &'static str,
    pub searched_at: i64,
    pub results_count: i32,
    pub clicked_content_id: Option<&'static str>,
}

impl Search {
    fn write_json(&self, out: &mut Vec<u8>, first: bool) {
        out.extend_from_slice(item(first));
        plain_str(out, b"\"query\":", self.query);
        number(out, b",\"searched_at\":", self.searched_at);
        number(out, b",\"results_count\":", self.results_count);
        opt_plain_str(out, b",\"clicked_content_id\":", self.clicked_content_id);
        out.push(b'}');
    }
}

#[derive(Debug, Serialize)]
pub struct Recommendation {
    pub content_id: &'static str,
    pub title: &'static str,
    pub score: f64,
    pub rank: usize,
    pub algorithm: &'static str,
    pub clicked: bool,
}

impl Recommendation {
    fn write_json(&self, out: &mut Vec<u8>, first: bool) {
        out.extend_from_slice(item(first));
        plain_str(out, b"\"content_id\":", self.content_id);
        plain_str(out, b",\"title\":", self.title);
        number(out, b",\"score\":", self.score);
        number(out, b",\"rank\":", self.rank);
        plain_str(out, b",\"algorithm\":", self.algorithm);
        boolean(out, b",\"clicked\":", self.clicked);
        out.push(b'}');
    }
}

type Parts = (Option<Content>, Details, Vec<Action>, Vec<Search>);

fn content(r: &mut SmallRng) -> (Content, u16) {
    let (id, title, kind, genres, seasons, minutes) = CATALOG[r.random_range(0..CATALOG.len())];
    let (season, episode) = if seasons > 0 {
        (
            Some(r.random_range(1..=seasons)),
            Some(r.random_range(1..=10)),
        )
    } else {
        (None, None)
    };
    let c = Content {
        content_id: id,
        title,
        content_type: kind,
        genres,
        season,
        episode,
        duration_seconds: i32::from(minutes) * 60,
        release_year: r.random_range(1995..=2026),
        maturity_rating: ["G", "PG", "PG-13", "R", "TV-MA"][r.random_range(0..5)],
    };
    (c, minutes)
}

fn play(r: &mut SmallRng, now_ms: i64) -> Parts {
    let (content, minutes) = content(r);
    let length = i32::from(minutes) * 60;
    let position = r.random_range(0..length.max(1));
    let (quality, kbps) = QUALITIES[r.random_range(0..QUALITIES.len())];
    let buffering_events: i32 = if r.random::<f64>() < 0.8 {
        0
    } else {
        r.random_range(1..6)
    };
    let n: i32 = r.random_range(1..6);
    let mut at = now_ms - 1000 * r.random_range(30..600);
    let mut pos = position;
    let mut actions = vec![Action {
        action: "play",
        at,
        position_seconds: pos,
        value: None,
    }];
    for _ in 1..n {
        at += 1000 * r.random_range(5..120);
        let action = [
            "pause",
            "resume",
            "seek",
            "skip_intro",
            "change_quality",
            "enable_subtitles",
            "rate",
            "add_to_list",
        ][r.random_range(0..8)];
        let value = match action {
            "seek" => {
                pos = r.random_range(0..length.max(1));
                Some(pos.to_string())
            }
            "change_quality" => Some(QUALITIES[r.random_range(0..QUALITIES.len())].0.to_string()),
            "enable_subtitles" => {
                Some(["en", "es", "de", "fr", "ja"][r.random_range(0..5)].to_string())
            }
            "rate" => Some(r.random_range(1..=5).to_string()),
            _ => None,
        };
        actions.push(Action {
            action,
            at: at.min(now_ms),
            position_seconds: pos,
            value,
        });
    }
    let details = Details {
        playback_position_seconds: Some(position),
        quality: Some(quality),
        bitrate_kbps: Some(kbps + r.random_range(-500..500)),
        buffering_events: Some(buffering_events),
        buffering_ms: Some(i64::from(buffering_events) * r.random_range(200..4_000)),
        referrer: Some(
            ["home", "search", "continue_watching", "recommendation"][r.random_range(0..4)],
        ),
        ..Details::default()
    };
    (Some(content), details, actions, Vec::new())
}

fn search(r: &mut SmallRng, now_ms: i64) -> Parts {
    let query = QUERIES[r.random_range(0..QUERIES.len())];
    let results = r.random_range(0..60);
    let history: Vec<Search> = (0..r.random_range(1..4i64))
        .map(|i| Search {
            query: QUERIES[r.random_range(0..QUERIES.len())],
            searched_at: now_ms - 60_000 * (i + 1) * r.random_range(1..30),
            results_count: r.random_range(0..60),
            clicked_content_id: (r.random::<f64>() < 0.4)
                .then(|| CATALOG[r.random_range(0..CATALOG.len())].0),
        })
        .collect();
    let details = Details {
        search_query: Some(query),
        results_count: Some(results),
        page: Some("search"),
        ..Details::default()
    };
    // A search that opened a title carries it.
    let opened = (results > 0 && r.random::<f64>() < 0.3).then(|| content(r).0);
    (opened, details, Vec::new(), history)
}

fn browse(r: &mut SmallRng) -> Parts {
    let details = Details {
        page: Some(PAGES[r.random_range(0..PAGES.len())]),
        referrer: Some(["app_open", "notification", "deep_link", "back"][r.random_range(0..4)]),
        ..Details::default()
    };
    (None, details, Vec::new(), Vec::new())
}

fn recommendations(r: &mut SmallRng, count: std::ops::Range<usize>) -> Vec<Recommendation> {
    let n = r.random_range(count);
    let mut score = 0.99 - r.random::<f64>() * 0.1;
    (0..n)
        .map(|rank| {
            let (id, title, ..) = CATALOG[r.random_range(0..CATALOG.len())];
            score -= r.random::<f64>() * 0.15;
            Recommendation {
                content_id: id,
                title,
                score: (score.max(0.01) * 1000.0).round() / 1000.0,
                rank: rank + 1,
                algorithm: ALGORITHMS[r.random_range(0..ALGORITHMS.len())],
                clicked: r.random::<f64>() < 0.1,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_and_users_keep_their_profile() {
        let mut a = Generator::new(7, 3, Mix::default());
        let mut b = Generator::new(7, 3, Mix::default());
        let mut seen = std::collections::HashMap::new();
        for i in 0..200 {
            let (ka, va) = a.next(1_795_460_082_123 + i);
            let va = serde_json::to_value(&va).unwrap();
            let (kb, vb) = b.next(1_795_460_082_123 + i);
            let vb = serde_json::to_value(&vb).unwrap();
            assert_eq!((&ka, &va), (&kb, &vb));
            assert_eq!(va["user_id"], ka.as_str());
            let profile = (
                va["device"].clone(),
                va["location"].clone(),
                va["subscription"]["plan"].clone(),
            );
            let first = seen.entry(ka).or_insert_with(|| profile.clone());
            assert_eq!(*first, profile);
            match va["event_type"].as_str().unwrap() {
                "content_play" => {
                    assert!(va["content"].is_object());
                    assert_eq!(va["actions"][0]["action"], "play");
                }
                "search" => assert!(va["details"]["search_query"].is_string()),
                "browse" => assert!(va["content"].is_null()),
                other => panic!("{other}"),
            }
        }
        assert_eq!(seen.len(), 3);
    }

    /// The hand-written JSON is serde's, byte for byte, over every kind of
    /// event and many profiles; the catalogue's strings need no escaping.
    #[test]
    fn write_json_writes_what_serde_writes() {
        let mut g = Generator::new(11, 5000, Mix::default());
        let mut out = Vec::new();
        for i in 0..20_000 {
            let (_, event) = g.next(1_795_460_082_123 + i * 997);
            out.clear();
            event.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                serde_json::to_string(&event).unwrap()
            );
        }
    }
}
