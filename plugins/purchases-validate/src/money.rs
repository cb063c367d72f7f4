//! The integer arithmetic behind the total rule: discounts in basis points and
//! rounding, so totals are checked without floating point. Cents themselves are
//! [`purchases_model::money`].

/// A discount in hundredths of a percent (`12.5` → `1250`), so totals can be checked
/// in integers; saturates for absurd values, which the range rule rejects anyway.
pub fn to_basis_points(percent: f64) -> i64 {
    (percent * 100.0).round() as i64
}

/// `10%`, `12.5%`, `-5%` from basis points.
pub fn fmt_percent(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let abs = bp.unsigned_abs();
    let frac = abs % 100;
    match frac {
        0 => format!("{sign}{}%", abs / 100),
        f if f % 10 == 0 => format!("{sign}{}.{}%", abs / 100, f / 10),
        f => format!("{sign}{}.{f:02}%", abs / 100),
    }
}

/// `n / d` rounded half away from zero (`d > 0`).
pub fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(to_basis_points(12.5), 1_250);
        assert_eq!(fmt_percent(1_000), "10%");
        assert_eq!(fmt_percent(1_250), "12.5%");
        assert_eq!(fmt_percent(1_205), "12.05%");
        assert_eq!(fmt_percent(-500), "-5%");
        assert_eq!(div_round(15, 10), 2);
        assert_eq!(div_round(-15, 10), -2);
        assert_eq!(div_round(14, 10), 1);
        assert_eq!(div_round(-14, 10), -1);
    }
}
