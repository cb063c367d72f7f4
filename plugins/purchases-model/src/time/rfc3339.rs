//! RFC 3339 date-times, the form event timestamps are written in, to instants.

use super::civil::{days_from_civil, days_in_month};

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`.
///
/// `t` or a space may separate date and time, `z` stands for `Z`; fractions beyond
/// milliseconds are truncated; a leap second (`:60`) counts as the next second. A
/// time without an offset names no instant and is refused.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let num = |at: usize, len: usize| -> Result<i64, String> {
        let digits = b
            .get(at..at + len)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| format!("expected {len} digits at position {at}"))?;
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(format!(
                "expected '{}' at position {at}",
                char::from(allowed[0])
            )),
        }
    };
    let year = num(0, 4)?;
    sep(4, b"-")?;
    let month = num(5, 2)?;
    sep(7, b"-")?;
    let day = num(8, 2)?;
    sep(10, b"Tt ")?;
    let hour = num(11, 2)?;
    sep(13, b":")?;
    let minute = num(14, 2)?;
    sep(16, b":")?;
    let second = num(17, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!(
            "{year:04}-{month:02}-{day:02} is not a calendar date"
        ));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a time of day"
        ));
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err("expected digits after '.'".into());
        }
        for _ in at - start..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let h = num(at + 1, 2)?;
            sep(at + 3, b":")?;
            let m = num(at + 4, 2)?;
            if h > 23 || m > 59 {
                return Err(format!("offset {h:02}:{m:02} is out of range"));
            }
            at += 6;
            if sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return Err("expected a UTC offset ('Z' or '±HH:MM')".into()),
    };
    if at != b.len() {
        return Err(format!("unexpected text after position {at}"));
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_min * 60;
    Ok(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        let t = 1_795_460_082_123;
        assert_eq!(parse_rfc3339("2026-11-23T18:54:42.123Z"), Ok(t));
        assert_eq!(parse_rfc3339("2026-11-23T18:54:42.123+00:00"), Ok(t));
        assert_eq!(parse_rfc3339("2026-11-23T18:54:42Z"), Ok(t - 123));
        assert_eq!(parse_rfc3339("2026-11-23t18:54:42.1z"), Ok(t - 23));
        assert_eq!(parse_rfc3339("2026-11-23 18:54:42.123456789Z"), Ok(t));
        assert_eq!(parse_rfc3339("2026-11-24T00:24:42.123+05:30"), Ok(t));
        assert_eq!(parse_rfc3339("2026-11-23T10:54:42.123-08:00"), Ok(t));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Ok(1_483_228_800_000));
    }

    #[test]
    fn refuses_what_names_no_instant() {
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T18:54:42",
            "2026-11-23T18:54Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-02-30T18:54:42Z",
            "2026-04-31T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T18:54:42.Z",
            "2026-11-23T18:54:42+0530",
            "2026-11-23T18:54:42Z trailing",
            "2026-11-23 at 18:54:42.123Z",
            "２026-11-23T18:54:42Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_where_the_text_goes_wrong() {
        let err = |s| parse_rfc3339(s).expect_err(s);
        assert_eq!(err("2026-11-23"), "expected 'T' at position 10");
        assert_eq!(
            err("2026-11-2xT00:00:00Z"),
            "expected 2 digits at position 8"
        );
        assert_eq!(
            err("2026-02-29T00:00:00Z"),
            "2026-02-29 is not a calendar date"
        );
        assert_eq!(err("2026-11-23T24:00:00Z"), "24:00:00 is not a time of day");
        assert_eq!(err("2026-11-23T18:54:42.Z"), "expected digits after '.'");
        assert_eq!(
            err("2026-11-23T18:54:42+24:00"),
            "offset 24:00 is out of range"
        );
        assert_eq!(
            err("2026-11-23T18:54:42"),
            "expected a UTC offset ('Z' or '±HH:MM')"
        );
        assert_eq!(
            err("2026-11-23T18:54:42Z trailing"),
            "unexpected text after position 20"
        );
    }
}
