//! Money as exact integer cents: JSON numbers in, decimal strings out. Sums and
//! comparisons stay in integers; floating point is met only at the edges.

/// Largest amount accepted, in currency units: its cents still fit an `f64` exactly.
const MAX_AMOUNT: f64 = 90_000_000_000_000.0;

/// Cents of a JSON amount, rounded to the nearest cent.
///
/// An amount written with at most two decimals (`12.34`) parses to the `f64`
/// nearest to it, and `× 100` rounded gives its cents exactly; amounts with more
/// decimals (`0.125`) are taken to the nearest cent. `None` beyond ±9·10¹³.
pub fn to_cents(amount: f64) -> Option<i64> {
    (amount.is_finite() && amount.abs() <= MAX_AMOUNT).then(|| (amount * 100.0).round() as i64)
}

/// `1234.50`, `-0.05`, `0.00`: an amount as a failure reason quotes it, ungrouped
/// so it reads like the JSON number it came from.
pub fn fmt_cents(cents: i128) -> String {
    with_cents(cents, |units| units.to_string())
}

/// `18,457.50`, `-0.05`, `0.00`: an amount as a report shows it, grouped by
/// thousands so large totals read at a glance.
pub fn fmt_cents_grouped(cents: i128) -> String {
    with_cents(cents, group_thousands)
}

/// `4,980`: a whole number grouped by thousands, so counts in a report read like
/// the amounts next to them.
pub fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The sign, the whole units as `units` writes them, and two digits of cents.
fn with_cents(cents: i128, units: impl Fn(u128) -> String) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", units(abs / 100), abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimal_amounts_are_exact() {
        for cents in [0i64, 1, 10, 30, 1_234, 1_845_750, 999_999_999_999, -1_299] {
            let json = format!("{}", cents as f64 / 100.0);
            let parsed: f64 = json.parse().expect("number");
            assert_eq!(to_cents(parsed), Some(cents), "{json}");
        }
        assert_eq!(to_cents(0.1 + 0.2), Some(30));
        assert_eq!(to_cents(12.345_6), Some(1_235));
        assert_eq!(to_cents(1e300), None);
    }

    #[test]
    fn cents_are_exact() {
        assert_eq!(to_cents(0.1), Some(10));
        assert_eq!(to_cents(4_541.22), Some(454_122));
        assert_eq!(to_cents(f64::MAX), None);
        assert_eq!(to_cents(f64::NAN), None);
        assert_eq!(
            to_cents(-90_000_000_000_000.0),
            Some(-9_000_000_000_000_000)
        );
    }

    #[test]
    fn plain_amounts() {
        assert_eq!(fmt_cents(1_260), "12.60");
        assert_eq!(fmt_cents(-5), "-0.05");
        assert_eq!(fmt_cents(0), "0.00");
        assert_eq!(fmt_cents(-123_456_789), "-1234567.89");
    }

    #[test]
    fn grouped_amounts_and_counts() {
        assert_eq!(fmt_cents_grouped(1_845_750), "18,457.50");
        assert_eq!(fmt_cents_grouped(0), "0.00");
        assert_eq!(fmt_cents_grouped(-5), "-0.05");
        assert_eq!(fmt_cents_grouped(-123_456_789), "-1,234,567.89");
        assert_eq!(fmt_cents_grouped(99_999), "999.99");
        assert_eq!(fmt_cents_grouped(100_000), "1,000.00");
        assert_eq!(group_thousands(4_980), "4,980");
        assert_eq!(group_thousands(7), "7");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
    }
}
