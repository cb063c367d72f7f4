"""Money as exact integer cents, and the integer arithmetic of the total rule
(discounts in basis points, rounding), as `purchases-model::money` and the Rust
plugin's `money` module do it: floating point only at the edges."""

import math

# Largest amount accepted, in currency units: its cents still fit an f64 exactly.
MAX_AMOUNT = 90_000_000_000_000.0
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


def round_half_away(x):
    """Rust's `f64::round` of a finite float, as an int: halves away from zero."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += 1 if x > 0 else -1
    return t


def to_cents(amount):
    """Cents of a JSON amount (float) rounded to the nearest cent; None beyond
    ±9·10¹³ (and for inf or NaN, which JSON cannot hold anyway)."""
    if -MAX_AMOUNT <= amount <= MAX_AMOUNT:
        x = amount * 100.0
        r = round(x)
        # round() takes halves to even, Rust's f64::round away from zero; x ± 0.5
        # is exact at a half (|x| < 2^53).
        if x - r == 0.5 or r - x == 0.5:
            r = int(x + 0.5) if x > 0 else int(x - 0.5)
        return r
    return None


def to_basis_points(percent):
    """A discount in hundredths of a percent (`12.5` -> 1250), saturating at the
    i64 range like Rust's `as i64`."""
    x = percent * 100.0
    if not math.isfinite(x):
        return I64_MAX if x > 0 else I64_MIN
    return max(I64_MIN, min(I64_MAX, round_half_away(x)))


def fmt_cents(cents):
    """`1234.50`, `-0.05`, `0.00`."""
    sign = "-" if cents < 0 else ""
    units, c = divmod(abs(cents), 100)
    return f"{sign}{units}.{c:02}"


def fmt_percent(bp):
    """`10%`, `12.5%`, `12.05%`, `-5%` from basis points."""
    sign = "-" if bp < 0 else ""
    whole, frac = divmod(abs(bp), 100)
    if frac == 0:
        return f"{sign}{whole}%"
    if frac % 10 == 0:
        return f"{sign}{whole}.{frac // 10}%"
    return f"{sign}{whole}.{frac:02}%"


def div_round(n, d):
    """`n / d` rounded half away from zero (`d > 0`)."""
    q = abs(n) // d
    if 2 * (abs(n) - q * d) >= d:
        q += 1
    return -q if n < 0 else q
