//! The fixed facts the generator draws from: a content catalogue, devices,
//! places, plans. Small on purpose; the combinations make the variety.

/// `(content_id, title, type, genres, seasons (0 = not a series), minutes)`.
pub type Title = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    u8,
    u16,
);

pub const CATALOG: &[Title] = &[
    ("m-1001", "The Quiet Harbor", "movie", &["drama"], 0, 118),
    (
        "m-1002",
        "Neon Drift",
        "movie",
        &["action", "sci-fi"],
        0,
        104,
    ),
    (
        "m-1003",
        "Grandma's Recipes",
        "documentary",
        &["food", "family"],
        0,
        52,
    ),
    (
        "m-1004",
        "Last Train to Lisbon",
        "movie",
        &["thriller"],
        0,
        97,
    ),
    (
        "m-1005",
        "Paper Moons",
        "movie",
        &["romance", "comedy"],
        0,
        91,
    ),
    (
        "m-1006",
        "Deep Blue Atlas",
        "documentary",
        &["nature"],
        0,
        88,
    ),
    ("s-2001", "Precinct 9", "series", &["crime", "drama"], 4, 44),
    ("s-2002", "Orbital", "series", &["sci-fi"], 2, 51),
    (
        "s-2003",
        "The Bakers of Bath",
        "series",
        &["reality", "food"],
        6,
        38,
    ),
    (
        "s-2004",
        "Little Explorers",
        "series",
        &["kids", "animation"],
        3,
        12,
    ),
    (
        "s-2005",
        "Boardroom",
        "series",
        &["drama", "business"],
        1,
        55,
    ),
    ("s-2006", "Laugh Track", "series", &["comedy"], 5, 22),
    (
        "l-3001",
        "Champions League Live",
        "live",
        &["sports"],
        0,
        120,
    ),
    ("l-3002", "World News Tonight", "live", &["news"], 0, 30),
    (
        "x-4001",
        "Behind the Scenes: Orbital",
        "short",
        &["sci-fi", "extras"],
        0,
        8,
    ),
    ("x-4002", "60-Second Recipes", "short", &["food"], 0, 1),
];

/// `(device_type, os choices, models)`.
pub type Device = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

pub const DEVICES: &[Device] = &[
    (
        "smart_tv",
        &["Tizen 8.0", "webOS 24", "Android TV 12"],
        &["Samsung QN90D", "LG C4", "Sony Bravia 7"],
    ),
    (
        "mobile",
        &["iOS 18.1", "Android 14", "Android 15"],
        &["iPhone 15", "Pixel 9", "Galaxy S24"],
    ),
    (
        "tablet",
        &["iPadOS 18.1", "Android 14"],
        &["iPad Air", "Galaxy Tab S9"],
    ),
    ("desktop", &["Windows 11", "macOS 15", "Ubuntu 24.04"], &[]),
    (
        "console",
        &["PlayStation OS", "Xbox OS"],
        &["PS5", "Xbox Series X"],
    ),
    (
        "streaming_stick",
        &["Fire OS 8", "Roku OS 13", "Google TV"],
        &["Fire TV Stick 4K", "Roku Express", "Chromecast"],
    ),
];

/// `(country, region, city, timezone, latitude, longitude)`.
pub const PLACES: &[(&str, &str, &str, &str, f64, f64)] = &[
    (
        "US",
        "CA",
        "Los Angeles",
        "America/Los_Angeles",
        34.05,
        -118.24,
    ),
    ("US", "NY", "New York", "America/New_York", 40.71, -74.01),
    ("US", "TX", "Austin", "America/Chicago", 30.27, -97.74),
    ("GB", "England", "London", "Europe/London", 51.51, -0.13),
    ("DE", "Berlin", "Berlin", "Europe/Berlin", 52.52, 13.40),
    ("FR", "Île-de-France", "Paris", "Europe/Paris", 48.86, 2.35),
    ("BR", "SP", "São Paulo", "America/Sao_Paulo", -23.55, -46.63),
    ("JP", "Tokyo", "Tokyo", "Asia/Tokyo", 35.68, 139.69),
    ("IN", "MH", "Mumbai", "Asia/Kolkata", 19.08, 72.88),
    ("AU", "NSW", "Sydney", "Australia/Sydney", -33.87, 151.21),
];

/// `(plan, monthly price in cents)`.
pub const PLANS: &[(&str, i32)] = &[
    ("free", 0),
    ("basic", 699),
    ("standard", 1549),
    ("premium", 2299),
    ("family", 2799),
];

pub const STATUSES: &[&str] = &[
    "active",
    "active",
    "active",
    "active",
    "trial",
    "past_due",
    "cancelled",
];

/// `(quality, typical bitrate in kbps)`.
pub const QUALITIES: &[(&str, i32)] = &[
    ("SD", 1_500),
    ("HD", 4_000),
    ("FHD", 6_500),
    ("UHD", 16_000),
];

pub const QUERIES: &[&str] = &[
    "orbital season 2",
    "cooking",
    "thriller movies",
    "kids cartoons",
    "champions league",
    "precinct 9",
    "documentaries about the ocean",
    "comedy",
    "new releases",
    "lisbon",
];

pub const PAGES: &[&str] = &[
    "home",
    "movies",
    "series",
    "kids",
    "my_list",
    "live",
    "new_and_popular",
];

pub const ALGORITHMS: &[&str] = &[
    "collaborative_filtering",
    "trending",
    "because_you_watched",
    "editorial",
];

pub const CURRENCIES: &[(&str, &str)] = &[
    ("US", "USD"),
    ("GB", "GBP"),
    ("DE", "EUR"),
    ("FR", "EUR"),
    ("BR", "BRL"),
    ("JP", "JPY"),
    ("IN", "INR"),
    ("AU", "AUD"),
];
