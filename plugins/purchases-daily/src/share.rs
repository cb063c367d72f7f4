//! A category's share of its day's total, as the report prints it.

/// `part` as a percentage of `whole` with one decimal, rounded half away from zero
/// in integers so the same totals always print the same share: `42.9%`; `n/a` when
/// `whole` is zero.
pub fn fmt_share(part: i128, whole: i128) -> String {
    if whole == 0 {
        return "n/a".into();
    }
    let (n, d) = (part * 1000, whole);
    let tenths = (2 * n + n.signum() * d.abs()) / (2 * d);
    let sign = if tenths < 0 { "-" } else { "" };
    let abs = tenths.unsigned_abs();
    format!("{sign}{}.{}%", abs / 10, abs % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_half_away_from_zero() {
        assert_eq!(fmt_share(1, 3), "33.3%");
        assert_eq!(fmt_share(2, 3), "66.7%");
        assert_eq!(fmt_share(1, 2000), "0.1%");
        assert_eq!(fmt_share(1, 2001), "0.0%");
        assert_eq!(fmt_share(5, 5), "100.0%");
        assert_eq!(fmt_share(-1, 3), "-33.3%");
        assert_eq!(fmt_share(1, -3), "-33.3%");
        assert_eq!(fmt_share(1, 0), "n/a");
    }
}
