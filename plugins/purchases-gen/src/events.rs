//! The purchase event model and a seeded generator of realistic events.

use purchases_model::time::iso8601;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use weir_sdk::json_out::{boolean, number, plain_str};

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

impl Purchase {
    /// The event's JSON, byte for byte what `serde_json::to_vec` writes for
    /// it, without serde's escaping pass: every string here is made by this
    /// generator from its tables and digits and needs no escaping (a test
    /// holds the two to the same bytes).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, b"{\"event_id\":", &self.event_id);
        plain_str(out, b",\"timestamp\":", &self.timestamp);
        plain_str(out, b",\"customer_id\":", &self.customer_id);
        plain_str(out, b",\"customer_segment\":", self.customer_segment);
        plain_str(out, b",\"product_id\":", &self.product_id);
        plain_str(out, b",\"product_name\":", self.product_name);
        plain_str(out, b",\"product_category\":", self.product_category);
        number(out, b",\"quantity\":", self.quantity);
        number(out, b",\"unit_price\":", self.unit_price);
        number(out, b",\"total_amount\":", self.total_amount);
        plain_str(out, b",\"currency\":", self.currency);
        plain_str(out, b",\"payment_method\":", self.payment_method);
        plain_str(out, b",\"order_source\":", self.order_source);
        plain_str(out, b",\"location\":{\"country\":", self.location.country);
        plain_str(out, b",\"city\":", self.location.city);
        number(out, b"},\"discount_percentage\":", self.discount_percentage);
        boolean(out, b",\"is_new_customer\":", self.is_new_customer);
        plain_str(out, b",\"device_type\":", self.device_type);
        out.push(b'}');
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn padded(out: &mut String, n: usize, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut n = n;
    while n > 0 || at == digits.len() {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for _ in (digits.len() - at)..width {
        out.push('0');
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// Where the purchase was made; nested, as in the original producer's events.
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

/// Segment and its share of customers in percent.
const SEGMENTS: &[(&str, u32)] = &[("regular", 60), ("premium", 25), ("vip", 5), ("new", 10)];
/// Discount percentages and their weights, per segment: loyal buyers get more and
/// deeper discounts, new customers mostly a welcome discount.
const DISCOUNTS: &[(&str, &[(u32, u32)])] = &[
    ("regular", &[(0, 75), (5, 14), (10, 8), (20, 2), (50, 1)]),
    ("premium", &[(0, 55), (5, 24), (10, 15), (20, 5), (50, 1)]),
    ("vip", &[(0, 35), (10, 25), (15, 25), (20, 13), (50, 2)]),
    ("new", &[(0, 40), (10, 50), (15, 9), (50, 1)]),
];
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
    /// The last event time and its text: a batch shares one.
    stamp: (i64, String),
}

/// What stays the same for a customer across events: segment and home place.
struct Profile {
    segment: &'static str,
    place: (&'static str, &'static str, &'static str),
}

impl Generator {
    pub fn new(seed: u64, customers: u32) -> Self {
        Generator {
            rng: SmallRng::seed_from_u64(seed),
            seed,
            customers: customers.max(1),
            seq: 0,
            stamp: (i64::MIN, String::new()),
        }
    }

    /// Continues after `seq` events, with a random stream derived from the seed.
    pub fn resume(&mut self, seq: u64) {
        self.seq = seq;
        self.rng = SmallRng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    pub fn next(&mut self, now_ms: i64) -> Purchase {
        self.seq += 1;
        if self.stamp.0 != now_ms {
            self.stamp = (now_ms, iso8601(now_ms));
        }
        let customer = self.rng.random_range(1..=self.customers);
        let profile = self.profile(customer);
        let r = &mut self.rng;
        let category_idx = r.random_range(0..CATALOG.len());
        let (category, products) = CATALOG[category_idx];
        let product_idx = r.random_range(0..products.len());
        let (product_name, base_cents) = products[product_idx];
        // Prices vary ±10% around the catalogue price; loyal buyers buy more.
        let unit_cents = i64::from(base_cents) * r.random_range(90..=110) / 100;
        let quantity = match profile.segment {
            "vip" => r.random_range(1..=10),
            "premium" => r.random_range(1..=5),
            _ => r.random_range(1..=3),
        };
        let discounts = DISCOUNTS
            .iter()
            .find(|(s, _)| *s == profile.segment)
            .map_or(DISCOUNTS[0].1, |(_, d)| *d);
        let discount_percentage = weighted(r, discounts);
        let total_cents = discounted_cents(
            unit_cents * i64::from(quantity),
            i64::from(discount_percentage),
        );
        let (country, city, currency) = profile.place;
        let event_id = weir_sdk::ids::uuid_v4(r.random());
        let mut customer_id = String::with_capacity(11);
        customer_id.push_str("CUST-");
        padded(&mut customer_id, customer as usize, 6);
        let mut product_id = String::with_capacity(6);
        product_id.push('P');
        padded(&mut product_id, category_idx, 2);
        padded(&mut product_id, product_idx, 3);
        Purchase {
            event_id,
            timestamp: self.stamp.1.clone(),
            customer_id,
            customer_segment: profile.segment,
            product_id,
            product_name,
            product_category: category,
            quantity,
            unit_price: cents_to_amount(unit_cents),
            total_amount: cents_to_amount(total_cents),
            currency,
            payment_method: PAYMENT_METHODS[r.random_range(0..PAYMENT_METHODS.len())],
            order_source: ORDER_SOURCES[r.random_range(0..ORDER_SOURCES.len())],
            location: Location { country, city },
            discount_percentage,
            is_new_customer: profile.segment == "new",
            device_type: DEVICE_TYPES[r.random_range(0..DEVICE_TYPES.len())],
        }
    }

    /// A customer's profile, derived from the seed and the customer number alone so
    /// it needs no state and survives restarts.
    fn profile(&self, customer: u32) -> Profile {
        let h = splitmix64(self.seed ^ u64::from(customer).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let mut rng = SmallRng::seed_from_u64(h);
        Profile {
            segment: weighted(&mut rng, SEGMENTS),
            place: PLACES[rng.random_range(0..PLACES.len())],
        }
    }
}

/// `gross_cents × (100 − discount) / 100`, rounded half up to the cent: the total
/// every valid event carries (off by at most half a cent from the exact product).
pub fn discounted_cents(gross_cents: i64, discount_percentage: i64) -> i64 {
    (gross_cents * (100 - discount_percentage) + 50).div_euclid(100)
}

/// The JSON number for an amount in cents; parses back to the same cents.
pub fn cents_to_amount(c: i64) -> f64 {
    c as f64 / 100.0
}

/// Cents of an amount made by [`cents_to_amount`].
pub fn amount_to_cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn weighted<T: Copy>(r: &mut SmallRng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut pick = r.random_range(0..total.max(1));
    for (item, w) in table {
        if pick < *w {
            return *item;
        }
        pick -= w;
    }
    table[0].0
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_json_is_serdes_byte_for_byte() {
        let mut g = Generator::new(11, 2_000_000);
        let mut out = Vec::new();
        for i in 0..20_000 {
            let p = g.next(1_795_460_082_123 + i * 37);
            out.clear();
            p.write_json(&mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&serde_json::to_vec(&p).unwrap())
            );
        }
        let mut s = String::new();
        padded(&mut s, 0, 3);
        padded(&mut s, 42, 1);
        padded(&mut s, 1_234_567, 6);
        assert_eq!(s, "000421234567");
    }

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
    fn a_customer_keeps_segment_and_place() {
        let mut g = Generator::new(11, 20);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..2_000 {
            let p = g.next(0);
            let profile = (p.customer_segment, p.location.city, p.currency);
            let first = seen.entry(p.customer_id.clone()).or_insert(profile);
            assert_eq!(*first, profile, "{}", p.customer_id);
            assert_eq!(p.is_new_customer, p.customer_segment == "new");
        }
    }

    #[test]
    fn discounts_depend_on_the_segment() {
        let mut g = Generator::new(5, 1_000);
        let mut discounted = std::collections::HashMap::<&str, (u32, u32)>::new();
        for _ in 0..20_000 {
            let p = g.next(0);
            let e = discounted.entry(p.customer_segment).or_default();
            e.0 += u32::from(p.discount_percentage > 0);
            e.1 += 1;
        }
        let share = |s: &str| {
            let (d, n) = discounted[s];
            f64::from(d) / f64::from(n)
        };
        assert!(share("regular") < share("premium") && share("premium") < share("vip"));
        assert!(share("new") > 0.5);
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
