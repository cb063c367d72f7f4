//! Fixed offsets from UTC, and instants written as dates and ISO-8601 date-times in
//! them.

use super::civil::civil_from_days;

const DAY_MS: i64 = 86_400_000;

/// A fixed offset from UTC, in minutes east: the zone calendar dates are counted
/// in. Offsets only, no named zones, so every date is exactly 24 hours long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub i64);

impl Zone {
    /// Coordinated Universal Time, the zone of the `Z` timestamps events carry.
    pub const UTC: Zone = Zone(0);

    /// `UTC`, `Z`, or `±HH:MM` (up to 23:59 either way), as a config names a zone.
    pub fn parse(s: &str) -> Result<Zone, String> {
        if s == "UTC" || s == "Z" {
            return Ok(Zone::UTC);
        }
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b.get(r)
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .map(|d| d.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
        };
        let sign = match b.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => 0,
        };
        match (sign, digits(1..3), b.get(3), digits(4..6), b.len()) {
            (1 | -1, Some(h), Some(b':'), Some(m), 6) if h <= 23 && m <= 59 => {
                Ok(Zone(sign * (h * 60 + m)))
            }
            _ => Err(format!(
                "timezone {s:?} is neither \"UTC\" nor a fixed offset like \"+05:30\" or \"-08:00\""
            )),
        }
    }

    fn local_ms(self, utc_ms: i64) -> i64 {
        utc_ms + self.0 * 60_000
    }

    /// The calendar date `YYYY-MM-DD` of an instant in this zone, the key daily
    /// totals are kept under.
    pub fn date(self, utc_ms: i64) -> String {
        date_of(self.local_ms(utc_ms))
    }

    /// `2026-11-24T00:24:42.123+05:30`, or with `Z` in UTC: an instant as a reader
    /// in this zone expects it, and as [`parse_rfc3339`](super::parse_rfc3339)
    /// reads it back.
    pub fn format(self, utc_ms: i64) -> String {
        let local = self.local_ms(utc_ms);
        let suffix = match self.0 {
            0 => "Z".to_string(),
            m => format!(
                "{}{:02}:{:02}",
                if m < 0 { '-' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            ),
        };
        let tod = local.rem_euclid(DAY_MS);
        format!(
            "{}T{:02}:{:02}:{:02}.{:03}{suffix}",
            date_of(local),
            tod / 3_600_000,
            tod / 60_000 % 60,
            tod / 1000 % 60,
            tod % 1000
        )
    }
}

/// `2026-11-23T18:54:42.123Z` from milliseconds since the epoch: the timestamp form
/// of the events, so every plugin writes it the same way.
pub fn iso8601(ms: i64) -> String {
    Zone::UTC.format(ms)
}

/// `YYYY-MM-DD` of a local time in milliseconds.
fn date_of(local_ms: i64) -> String {
    let (y, m, d) = civil_from_days(local_ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    const AT: i64 = 1_795_460_082_123; // 2026-11-23T18:54:42.123Z

    #[test]
    fn zones() {
        assert_eq!(Zone::parse("UTC"), Ok(Zone(0)));
        assert_eq!(Zone::parse("Z"), Ok(Zone::UTC));
        assert_eq!(Zone::parse("+05:30"), Ok(Zone(330)));
        assert_eq!(Zone::parse("-08:00"), Ok(Zone(-480)));
        assert_eq!(Zone::parse("+00:00"), Ok(Zone(0)));
        for bad in [
            "utc",
            "Europe/Paris",
            "+5:30",
            "+05:60",
            "+24:00",
            "05:30",
            "+05:30 ",
            "",
        ] {
            let err = Zone::parse(bad).expect_err(bad);
            assert!(err.contains("fixed offset like \"+05:30\""), "{err}");
        }
    }

    #[test]
    fn dates_and_formatting_in_a_zone() {
        assert_eq!(Zone(0).date(AT), "2026-11-23");
        assert_eq!(Zone(330).date(AT), "2026-11-24");
        assert_eq!(Zone(-480).date(AT + 6 * 3_600_000), "2026-11-23");
        assert_eq!(Zone(0).format(AT), "2026-11-23T18:54:42.123Z");
        assert_eq!(Zone(330).format(AT), "2026-11-24T00:24:42.123+05:30");
        assert_eq!(Zone(-480).format(AT), "2026-11-23T10:54:42.123-08:00");
        assert_eq!(Zone(0).format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(Zone(0).date(951_782_400_000), "2000-02-29");
    }

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(AT), "2026-11-23T18:54:42.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for z in [Zone(0), Zone(330), Zone(-480), Zone(-1)] {
            for t in [0, AT, -86_400_001, 4_102_444_800_000] {
                assert_eq!(parse_rfc3339(&z.format(t)), Ok(t), "{}", z.format(t));
            }
        }
        for t in [0, AT, -1, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339(&iso8601(t)), Ok(t));
        }
        assert!(parse_rfc3339("2026-11-23T18:54:42").is_err());
        assert!(parse_rfc3339("2026-02-30T18:54:42Z").is_err());
        assert_eq!(parse_rfc3339("2026-11-23 18:54:42Z"), Ok(AT - 123));
    }
}
