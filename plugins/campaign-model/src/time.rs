//! UTC formats of instants in epoch milliseconds, exact in integers for every
//! `i64` (Howard Hinnant's civil-from-days), including instants before 1970.

const DAY_MS: i64 = 86_400_000;

/// The calendar parts of an instant: year, month, day, hour, minute, second, millisecond.
struct Parts {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
}

fn parts(ms: i64) -> Parts {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: in_day / 3_600_000,
        minute: in_day / 60_000 % 60,
        second: in_day / 1000 % 60,
        milli: in_day % 1000,
    }
}

/// `(year, month, day)` of a day number counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-23T10:00`: the minute an instant falls in, the aggregation's
/// `minute_timestamp` and Hive partition value.
pub fn minute(ms: i64) -> String {
    let p = parts(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        p.year, p.month, p.day, p.hour, p.minute
    )
}

/// `2026-11-23T10:00:12.345Z`: an instant to the millisecond.
pub fn rfc3339_millis(ms: i64) -> String {
    let p = parts(ms);
    format!("{}:{:02}.{:03}Z", minute(ms), p.second, p.milli)
}

/// `2026-11-23T10:02:30Z`, or with milliseconds when they are not zero.
pub fn rfc3339(ms: i64) -> String {
    let p = parts(ms);
    if p.milli == 0 {
        format!("{}:{:02}Z", minute(ms), p.second)
    } else {
        rfc3339_millis(ms)
    }
}

/// `10:00–10:01`: a span as times of day, to the minute, or to the second or
/// millisecond when either end needs it.
pub fn clock_span(from_ms: i64, to_ms: i64) -> String {
    let (a, b) = (parts(from_ms), parts(to_ms));
    let clock = |p: &Parts| {
        let mut s = format!("{:02}:{:02}", p.hour, p.minute);
        if a.second != 0 || b.second != 0 || a.milli != 0 || b.milli != 0 {
            s.push_str(&format!(":{:02}", p.second));
        }
        if a.milli != 0 || b.milli != 0 {
            s.push_str(&format!(".{:03}", p.milli));
        }
        s
    };
    format!("{}–{}", clock(&a), clock(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T10:00:12.345Z
    const AT: i64 = 1_795_428_012_345;

    #[test]
    fn known_instants() {
        assert_eq!(minute(0), "1970-01-01T00:00");
        assert_eq!(minute(AT), "2026-11-23T10:00");
        assert_eq!(rfc3339_millis(AT), "2026-11-23T10:00:12.345Z");
        assert_eq!(rfc3339(AT - 12_345 + 150_000), "2026-11-23T10:02:30Z");
        assert_eq!(rfc3339(AT), "2026-11-23T10:00:12.345Z");
        // Leap day and the end of a leap year.
        assert_eq!(minute(1_709_164_800_000), "2024-02-29T00:00");
        assert_eq!(
            rfc3339_millis(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn before_1970_counts_back_from_the_epoch() {
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(minute(-60_000), "1969-12-31T23:59");
        assert_eq!(minute(-60_001), "1969-12-31T23:58");
        assert_eq!(rfc3339(-86_400_000), "1969-12-31T00:00:00Z");
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        assert!(minute(i64::MAX).starts_with("292278994-08-17T07:12"));
        assert!(minute(i64::MIN).starts_with("-292275055-05-16T16:47"));
    }

    #[test]
    fn spans_show_the_precision_they_need() {
        let m = AT - 12_345;
        assert_eq!(clock_span(m, m + 60_000), "10:00–10:01");
        assert_eq!(clock_span(m, m + 30_000), "10:00:00–10:00:30");
        assert_eq!(clock_span(m, m + 1_500), "10:00:00.000–10:00:01.500");
        assert_eq!(clock_span(m - 60_000 * 10, m + 60_000), "09:50–10:01");
    }
}
