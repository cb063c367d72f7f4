//! Balances as exact integer cents inside, decimal strings with exactly two places
//! outside (`"1234.50"`), the way Debezium's `decimal.handling.mode=string`
//! writes a `DECIMAL(…, 2)` column. No floating point anywhere.

pub use purchases_model::money::{fmt_cents, fmt_cents_grouped};

/// Cents of `"1234.50"`, `"-0.05"` or `"0.00"`: an optional minus, at least one
/// digit, a point and exactly two digits. `None` for anything else or beyond `i64`.
pub fn parse_cents(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (units, cents) = digits.split_once('.')?;
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(units) || cents.len() != 2 || !all_digits(cents) {
        return None;
    }
    let mut value: i64 = 0;
    for b in units.bytes().chain(cents.bytes()) {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// `1234.50`: cents as the decimal string rows carry.
pub fn cents_text(cents: i64) -> String {
    fmt_cents(i128::from(cents))
}

/// Serde adapter for an `i64` of cents written as a decimal string
/// (`#[serde(with = "cdc_model::money::decimal")]`), so a row struct keeps exact
/// cents while its JSON matches the wire format.
pub mod decimal {
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the cents as `"1234.50"`.
    pub fn serialize<S: Serializer>(cents: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::cents_text(*cents))
    }

    /// Reads `"1234.50"`; anything else is an error naming the text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_cents(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "{text:?} is not a decimal string with two places, like \"12.50\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_place_decimals_parse_exactly() {
        assert_eq!(parse_cents("1234.50"), Some(123_450));
        assert_eq!(parse_cents("0.00"), Some(0));
        assert_eq!(parse_cents("-0.05"), Some(-5));
        assert_eq!(parse_cents("007.10"), Some(710));
        assert_eq!(parse_cents("92233720368547758.07"), Some(i64::MAX));
        for bad in [
            "",
            "12",
            "12.5",
            "12.505",
            ".50",
            "12.",
            "-",
            "+1.00",
            "1,234.50",
            " 1.00",
            "1.0a",
            "--1.00",
            "92233720368547758.08",
        ] {
            assert_eq!(parse_cents(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cents_round_trip_through_text() {
        for c in [0, 5, 99, 100, 123_450, 500_000, -5, i64::MAX] {
            assert_eq!(parse_cents(&cents_text(c)), Some(c), "{c}");
        }
        assert_eq!(cents_text(123_450), "1234.50");
        assert_eq!(fmt_cents_grouped(123_450), "1,234.50");
    }
}
