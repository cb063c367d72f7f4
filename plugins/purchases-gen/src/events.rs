//! The purchase event model and a seeded generator of realistic events.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One purchase, with the field set of the original Python producer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Purchase {
    pub event_id: String,
    pub timestamp: String,
    pub customer_id: String,
    pub customer_segment: &'static str,
    pub product_id: String,
    pub product_name: &'static str,
    pub product_category: &'static str,
    pub quantity: u32,
    pub unit_price: f64,
    pub total_amount: f64,
    pub currency: &'static str,
    pub payment_method: &'static str,
    pub order_source: &'static str,
    pub location: Location,
    pub discount_percentage: u32,
    pub is_new_customer: bool,
    pub device_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub country: &'static str,
    pub city: &'static str,
}

/// (category, products with a base price in cents)
const CATALOG: &[(&str, &[(&str, u32)])] = &[
    (
        "Electronics",
        &[
            ("Wireless Headphones", 12_999),
            ("Smartphone", 69_900),
            ("Laptop", 124_900),
            ("Smartwatch", 24_900),
            ("Bluetooth Speaker", 5_999),
        ],
    ),
    (
        "Clothing",
        &[
            ("T-Shirt", 1_999),
            ("Jeans", 4_999),
            ("Jacket", 8_999),
            ("Sneakers", 7_499),
            ("Dress", 5_999),
        ],
    ),
    (
        "Home & Kitchen",
        &[
            ("Coffee Maker", 7_999),
            ("Blender", 4_999),
            ("Cookware Set", 12_999),
            ("Desk Lamp", 2_999),
            ("Throw Pillow", 1_499),
        ],
    ),
    (
        "Books",
        &[
            ("Novel", 1_499),
            ("Cookbook", 2_499),
            ("Biography", 1_999),
            ("Textbook", 8_999),
        ],
    ),
    (
        "Sports",
        &[
            ("Yoga Mat", 2_499),
            ("Dumbbells", 3_999),
            ("Tennis Racket", 8_999),
            ("Running Shorts", 2_999),
        ],
    ),
    (
        "Beauty",
        &[
            ("Face Cream", 2_999),
            ("Perfume", 6_999),
            ("Shampoo", 999),
            ("Lipstick", 1_599),
        ],
    ),
];

/// Segment and its weight in percent.
const SEGMENTS: &[(&str, u32)] = &[("regular", 60), ("premium", 25), ("vip", 5), ("new", 10)];
const PAYMENT_METHODS: &[&str] = &[
    "credit_card",
    "debit_card",
    "paypal",
    "apple_pay",
    "google_pay",
];
const ORDER_SOURCES: &[&str] = &["web", "mobile_app", "marketplace"];
const DEVICE_TYPES: &[&str] = &["desktop", "mobile", "tablet"];
const PLACES: &[(&str, &str, &str)] = &[
    ("US", "New York", "USD"),
    ("US", "San Francisco", "USD"),
    ("US", "Chicago", "USD"),
    ("UK", "London", "GBP"),
    ("UK", "Manchester", "GBP"),
    ("DE", "Berlin", "EUR"),
    ("FR", "Paris", "EUR"),
    ("ES", "Madrid", "EUR"),
    ("CA", "Toronto", "CAD"),
    ("JP", "Tokyo", "JPY"),
];

/// Makes purchase events from a seeded random stream; the same seed and sequence
/// number give the same events.
pub struct Generator {
    rng: SmallRng,
    seed: u64,
    customers: u32,
    /// Events made so far; part of every snapshot.
    pub seq: u64,
}

impl Generator {
    pub fn new(seed: u64, customers: u32) -> Self {
        Generator {
            rng: SmallRng::seed_from_u64(seed),
            seed,
            customers: customers.max(1),
            seq: 0,
        }
    }

    /// Continues after `seq` events, with a random stream derived from the seed.
    pub fn resume(&mut self, seq: u64) {
        self.seq = seq;
        self.rng = SmallRng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    pub fn next(&mut self, now_ms: i64) -> Purchase {
        self.seq += 1;
        let r = &mut self.rng;
        let (category, products) = CATALOG[r.random_range(0..CATALOG.len())];
        let (product_name, base_cents) = products[r.random_range(0..products.len())];
        let product_idx = CATALOG
            .iter()
            .position(|(c, _)| *c == category)
            .unwrap_or(0);
        let product_id = format!("P{:02}{:03}", product_idx, base_cents % 997);
        let customer = r.random_range(1..=self.customers);
        let segment = weighted(r, SEGMENTS);
        // Prices vary ±10% around the catalogue price; premium buyers buy more.
        let unit_cents = base_cents as i64 * r.random_range(90..=110) / 100;
        let quantity = match segment {
            "vip" => r.random_range(1..=10),
            "premium" => r.random_range(1..=5),
            _ => r.random_range(1..=3),
        };
        let discount_percentage = match r.random_range(0..100) {
            0..70 => 0,
            70..85 => 5,
            85..95 => 10,
            95..99 => 20,
            _ => 50,
        };
        let gross = unit_cents * quantity as i64;
        let total_cents = (gross * (100 - discount_percentage as i64) + 50) / 100;
        let (country, city, currency) = PLACES[r.random_range(0..PLACES.len())];
        let event_id = uuid_like(r);
        Purchase {
            event_id,
            timestamp: iso8601(now_ms),
            customer_id: format!("CUST-{customer:06}"),
            customer_segment: segment,
            product_id,
            product_name,
            product_category: category,
            quantity,
            unit_price: cents(unit_cents),
            total_amount: cents(total_cents),
            currency,
            payment_method: PAYMENT_METHODS[r.random_range(0..PAYMENT_METHODS.len())],
            order_source: ORDER_SOURCES[r.random_range(0..ORDER_SOURCES.len())],
            location: Location { country, city },
            discount_percentage,
            is_new_customer: segment == "new" || r.random_bool(0.05),
            device_type: DEVICE_TYPES[r.random_range(0..DEVICE_TYPES.len())],
        }
    }
}

fn cents(c: i64) -> f64 {
    c as f64 / 100.0
}

fn weighted(r: &mut SmallRng, table: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut pick = r.random_range(0..total);
    for (name, w) in table {
        if pick < *w {
            return name;
        }
        pick -= w;
    }
    table[0].0
}

fn uuid_like(r: &mut SmallRng) -> String {
    let a: u128 = r.random();
    // Version 4, variant 1, like Python's uuid4().
    let a = (a & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `2026-11-23T18:54:42.123Z` from milliseconds since the epoch.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events() {
        let mut a = Generator::new(7, 100);
        let mut b = Generator::new(7, 100);
        for _ in 0..100 {
            assert_eq!(a.next(0), b.next(0));
        }
    }

    #[test]
    fn totals_match_price_quantity_and_discount_to_the_cent() {
        let mut g = Generator::new(1, 50);
        for _ in 0..10_000 {
            let p = g.next(1_700_000_000_000);
            let expect =
                p.unit_price * p.quantity as f64 * (1.0 - p.discount_percentage as f64 / 100.0);
            assert!((p.total_amount - expect).abs() <= 0.01, "{p:?}");
            assert!(p.quantity > 0 && p.unit_price > 0.0);
            assert!(p.customer_id.starts_with("CUST-"));
            assert_eq!(p.event_id.len(), 36);
        }
    }

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_460_082_123), "2026-11-23T18:54:42.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn resume_does_not_repeat_event_ids() {
        let mut a = Generator::new(3, 10);
        let first: Vec<_> = (0..50).map(|_| a.next(0).event_id).collect();
        let mut b = Generator::new(3, 10);
        b.resume(a.seq);
        let next: Vec<_> = (0..50).map(|_| b.next(0).event_id).collect();
        assert!(first.iter().all(|id| !next.contains(id)));
        assert_eq!(b.seq, 100);
    }
}
