"""RFC 3339 date-times to epoch milliseconds, as `purchases-model::time` reads
them (same forms, same error texts with byte positions)."""

import re

# The whole grammar at once (ASCII digits only); a match still needs the range
# checks. What it refuses goes through `parse_rfc3339` for the error's wording.
_FORM = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))\Z",
    re.ASCII,
)


class TimeError(ValueError):
    pass


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (Hinnant)."""
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def days_in_month(year, month):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _instant(year, month, day, hour, minute, second, millis, offset_min):
    secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    return (secs - offset_min * 60) * 1000 + millis


def timestamp_ms(s):
    """Milliseconds of a valid timestamp, or None (then `parse_rfc3339` says
    why): the per-record path. Day numbers are cached by date, which few
    events of a stream do not share."""
    m = _FORM.match(s)
    if m is None:
        return None
    days = _days.get(s[:10])
    if days is None:
        year, month, day = int(s[0:4]), int(s[5:7]), int(s[8:10])
        if not 1 <= month <= 12 or day < 1 or day > days_in_month(year, month):
            return None
        if len(_days) >= 4096:
            _days.clear()
        days = _days[s[:10]] = days_from_civil(year, month, day)
    hour, minute, second, frac, sign = m.group(4, 5, 6, 7, 8)
    hour, minute, second = int(hour), int(minute), int(second)
    if hour > 23 or minute > 59 or second > 60:
        return None
    ms = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000
    if frac:
        ms += int(frac[:3]) * _SCALE[len(frac)] if len(frac) < 3 else int(frac[:3])
    if sign:
        h, mi = int(m.group(9)), int(m.group(10))
        if h > 23 or mi > 59:
            return None
        ms -= (h * 60 + mi) * 60_000 if sign == "+" else -(h * 60 + mi) * 60_000
    return ms


_days = {}
_SCALE = (0, 100, 10)


def parse_rfc3339(s):
    """Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`
    (`t` or a space may separate date and time, `z` stands for `Z`, fractions
    beyond milliseconds are truncated, `:60` counts as the next second), or
    TimeError saying where the text goes wrong."""
    b = s.encode()

    def num(at, length):
        digits = b[at : at + length]
        if len(digits) != length or not all(0x30 <= d <= 0x39 for d in digits):
            raise TimeError(f"expected {length} digits at position {at}")
        return int(digits)

    def sep(at, allowed):
        if at >= len(b) or b[at] not in allowed:
            raise TimeError(f"expected '{chr(allowed[0])}' at position {at}")

    year = num(0, 4)
    sep(4, b"-")
    month = num(5, 2)
    sep(7, b"-")
    day = num(8, 2)
    sep(10, b"Tt ")
    hour = num(11, 2)
    sep(13, b":")
    minute = num(14, 2)
    sep(16, b":")
    second = num(17, 2)
    if not 1 <= month <= 12 or day < 1 or day > days_in_month(year, month):
        raise TimeError(f"{year:04}-{month:02}-{day:02} is not a calendar date")
    if hour > 23 or minute > 59 or second > 60:
        raise TimeError(f"{hour:02}:{minute:02}:{second:02} is not a time of day")
    at = 19
    millis = 0
    if b[at : at + 1] == b".":
        at += 1
        start = at
        while at < len(b) and 0x30 <= b[at] <= 0x39:
            if at - start < 3:
                millis = millis * 10 + b[at] - 0x30
            at += 1
        if at == start:
            raise TimeError("expected digits after '.'")
        for _ in range(at - start, 3):
            millis *= 10
    c = b[at : at + 1]
    if c in (b"Z", b"z"):
        at += 1
        offset = 0
    elif c in (b"+", b"-"):
        h = num(at + 1, 2)
        sep(at + 3, b":")
        m = num(at + 4, 2)
        if h > 23 or m > 59:
            raise TimeError(f"offset {h:02}:{m:02} is out of range")
        at += 6
        offset = h * 60 + m if c == b"+" else -(h * 60 + m)
    else:
        raise TimeError("expected a UTC offset ('Z' or '±HH:MM')")
    if at != len(b):
        raise TimeError(f"unexpected text after position {at}")
    return _instant(year, month, day, hour, minute, second, millis, offset)
