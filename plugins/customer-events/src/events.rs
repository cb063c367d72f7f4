//! UserEvent values: each user keeps a device, place and subscription drawn
//! once from the seed; each event draws its type, content and interactions.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::catalog::*;
use crate::config::Mix;

const DAY_MS: i64 = 86_400_000;

/// Makes events from a seed; `seq` counts them, the whole state to resume.
pub struct Generator {
    seed: u64,
    users: u32,
    mix: Mix,
    rng: SmallRng,
    pub seq: u64,
}

impl Generator {
    pub fn new(seed: u64, users: u32, mix: Mix) -> Self {
        Generator {
            seed,
            users,
            mix,
            rng: SmallRng::seed_from_u64(seed),
            seq: 0,
        }
    }

    /// Continues after `seq` events (a different but repeatable stream).
    pub fn resume(&mut self, seq: u64) {
        self.seq = seq;
        self.rng = SmallRng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// The next event at `now_ms`: its key (user id) and JSON value.
    pub fn next(&mut self, now_ms: i64) -> (String, Value) {
        self.seq += 1;
        let user = self.rng.random_range(0..self.users);
        let user_id = format!("user-{user:06}");
        let profile = Profile::of(self.seed, user, now_ms);
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
        let value = json!({
            "event_id": event_id,
            "event_type": kind,
            "event_timestamp": now_ms,
            "user_id": user_id,
            "session_id": session_id,
            "device": profile.device,
            "location": profile.location,
            "content": content,
            "subscription": profile.subscription,
            "details": details,
            "actions": actions,
            "recommendations": recommendations,
            "search_history": search_history,
        });
        (user_id, value)
    }
}

/// What stays the same for a user across events.
struct Profile {
    device: Value,
    location: Value,
    subscription: Value,
}

impl Profile {
    fn of(seed: u64, user: u32, now_ms: i64) -> Profile {
        let r = &mut SmallRng::seed_from_u64(seed ^ (u64::from(user) << 20) ^ 0x5EED);
        let (device_type, oses, models) = DEVICES[r.random_range(0..DEVICES.len())];
        let model = (!models.is_empty()).then(|| models[r.random_range(0..models.len())]);
        let (country, region, city, tz, lat, lon) = PLACES[r.random_range(0..PLACES.len())];
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
        let started_days = now_ms.div_euclid(DAY_MS) - r.random_range(1..900);
        let today = now_ms.div_euclid(DAY_MS);
        let renewal = (plan != "free" && status != "cancelled")
            .then(|| today + 30 - (today - started_days).rem_euclid(30));
        Profile {
            device: json!({
                "device_type": device_type,
                "os": oses[r.random_range(0..oses.len())],
                "model": model,
                "app_version": format!("{}.{}.{}", r.random_range(5..8), r.random_range(0..20), r.random_range(0..10)),
                "ip_address": fake::Fake::fake_with_rng::<String, _>(&fake::faker::internet::en::IPv4(), r),
            }),
            location: json!({
                "country": country,
                "region": region,
                "city": city,
                "timezone": tz,
                "latitude": lat,
                "longitude": lon,
            }),
            subscription: json!({
                "plan": plan,
                "status": status,
                "started_at": started_days * DAY_MS + r.random_range(0..DAY_MS),
                "renewal_date": renewal,
                "auto_renew": status != "cancelled",
                "monthly_price_cents": price,
                "currency": currency,
            }),
        }
    }
}

type Parts = (Value, Value, Value, Value);

fn content(r: &mut SmallRng) -> (Value, u16) {
    let (id, title, kind, genres, seasons, minutes) = CATALOG[r.random_range(0..CATALOG.len())];
    let (season, episode) = if seasons > 0 {
        (
            json!(r.random_range(1..=seasons)),
            json!(r.random_range(1..=10)),
        )
    } else {
        (Value::Null, Value::Null)
    };
    let c = json!({
        "content_id": id,
        "title": title,
        "content_type": kind,
        "genres": genres,
        "season": season,
        "episode": episode,
        "duration_seconds": i32::from(minutes) * 60,
        "release_year": r.random_range(1995..=2026),
        "maturity_rating": (["G", "PG", "PG-13", "R", "TV-MA"][r.random_range(0..5)]),
    });
    (c, minutes)
}

fn play(r: &mut SmallRng, now_ms: i64) -> Parts {
    let (content, minutes) = content(r);
    let length = i32::from(minutes) * 60;
    let position = r.random_range(0..length.max(1));
    let (quality, kbps) = QUALITIES[r.random_range(0..QUALITIES.len())];
    let buffering_events = if r.random::<f64>() < 0.8 {
        0
    } else {
        r.random_range(1..6)
    };
    let n = r.random_range(1..6);
    let mut at = now_ms - 1000 * r.random_range(30..600);
    let mut pos = position;
    let mut actions =
        vec![json!({"action": "play", "at": at, "position_seconds": pos, "value": null})];
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
        actions.push(json!({"action": action, "at": at.min(now_ms), "position_seconds": pos, "value": value}));
    }
    let details = json!({
        "playback_position_seconds": position,
        "quality": quality,
        "bitrate_kbps": kbps + r.random_range(-500..500),
        "buffering_events": buffering_events,
        "buffering_ms": i64::from(buffering_events) * r.random_range(200..4_000),
        "search_query": null,
        "results_count": null,
        "page": null,
        "referrer": (["home", "search", "continue_watching", "recommendation"][r.random_range(0..4)]),
    });
    (content, details, Value::Array(actions), json!([]))
}

fn search(r: &mut SmallRng, now_ms: i64) -> Parts {
    let query = QUERIES[r.random_range(0..QUERIES.len())];
    let results = r.random_range(0..60);
    let history: Vec<Value> = (0..r.random_range(1..4))
        .map(|i| {
            json!({
                "query": QUERIES[r.random_range(0..QUERIES.len())],
                "searched_at": now_ms - 60_000 * (i + 1) * r.random_range(1..30),
                "results_count": r.random_range(0..60),
                "clicked_content_id": (r.random::<f64>() < 0.4)
                    .then(|| CATALOG[r.random_range(0..CATALOG.len())].0),
            })
        })
        .collect();
    let details = json!({
        "playback_position_seconds": null,
        "quality": null,
        "bitrate_kbps": null,
        "buffering_events": null,
        "buffering_ms": null,
        "search_query": query,
        "results_count": results,
        "page": "search",
        "referrer": null,
    });
    // A search that opened a title carries it.
    let opened = (results > 0 && r.random::<f64>() < 0.3).then(|| content(r).0);
    (
        opened.unwrap_or(Value::Null),
        details,
        json!([]),
        Value::Array(history),
    )
}

fn browse(r: &mut SmallRng) -> Parts {
    let details = json!({
        "playback_position_seconds": null,
        "quality": null,
        "bitrate_kbps": null,
        "buffering_events": null,
        "buffering_ms": null,
        "search_query": null,
        "results_count": null,
        "page": PAGES[r.random_range(0..PAGES.len())],
        "referrer": (["app_open", "notification", "deep_link", "back"][r.random_range(0..4)]),
    });
    (Value::Null, details, json!([]), json!([]))
}

fn recommendations(r: &mut SmallRng, count: std::ops::Range<usize>) -> Value {
    let n = r.random_range(count);
    let mut score = 0.99 - r.random::<f64>() * 0.1;
    let list: Vec<Value> = (0..n)
        .map(|rank| {
            let (id, title, ..) = CATALOG[r.random_range(0..CATALOG.len())];
            score -= r.random::<f64>() * 0.15;
            json!({
                "content_id": id,
                "title": title,
                "score": (score.max(0.01) * 1000.0).round() / 1000.0,
                "rank": rank + 1,
                "algorithm": ALGORITHMS[r.random_range(0..ALGORITHMS.len())],
                "clicked": r.random::<f64>() < 0.1,
            })
        })
        .collect();
    Value::Array(list)
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
            let (kb, vb) = b.next(1_795_460_082_123 + i);
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
}
