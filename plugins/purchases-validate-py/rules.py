"""The per-event rules, as the Rust plugin's `rules` module words them. Each
broken rule is a code (counted by the host's DLQ) and a sentence; a rule whose
inputs are missing or mistyped is skipped, so one defect is reported once.

An event is a parsed JSON object (`sjson.loads`): dict, list, str, int (what
serde_json holds as u64/i64), float, bool, None.
"""

from money import (
    div_round,
    fmt_cents,
    fmt_percent,
    to_basis_points,
    to_cents,
)
from rustfmt import debug_str, display_f64, json_number
from timestamps import TimeError, parse_rfc3339, timestamp_ms

# The rule codes (purchases-model's `codes`; the first three are the SDK's).
MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
QUANTITY_POSITIVE = "quantity_positive"
UNIT_PRICE_POSITIVE = "unit_price_positive"
DISCOUNT_RANGE = "discount_range"
TOTAL_MISMATCH = "total_mismatch"
CURRENCY_ALLOWED = "currency_allowed"
TIMESTAMP_RANGE = "timestamp_range"
DUPLICATE_EVENT_ID = "duplicate_event_id"

# Fields every event must have, non-null, in the order a message lists them.
REQUIRED = (
    "event_id",
    "timestamp",
    "customer_id",
    "product_category",
    "quantity",
    "unit_price",
    "total_amount",
    "currency",
)

# Longest piece of input quoted in a message, in characters.
QUOTE_MAX = 40
I64_MAX = (1 << 63) - 1
I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1
_NUMBER = (int, float)


def valid_event_id(ev, record_ms, config):
    """The fast path for an event that breaks no rule: its event id when every
    required field is well typed and every rule but `duplicate_event_id`
    holds; None for anything else (then `check` describes it). Builds no
    message."""
    g = ev.get
    event_id = g("event_id")
    ts = g("timestamp")
    quantity = g("quantity")
    unit = g("unit_price")
    total = g("total_amount")
    currency = g("currency")
    discount = g("discount_percentage")
    flag = g("is_new_customer")
    if not (
        type(event_id) is str
        and type(ts) is str
        and type(g("customer_id")) is str
        and type(g("product_category")) is str
        and type(currency) is str
        and type(quantity) is int
        and 0 < quantity <= I64_MAX
        and type(unit) in _NUMBER
        and type(total) in _NUMBER
        and (discount is None or type(discount) in _NUMBER)
        and (flag is None or type(flag) is bool)
        and currency in config.allowed
    ):
        return None
    unit_cents = to_cents(float(unit))
    total_cents = to_cents(float(total))
    if unit_cents is None or unit_cents <= 0 or total_cents is None:
        return None
    d = 0.0 if discount is None else float(discount)
    if not 0.0 <= d < 100.0:
        return None
    x = quantity * unit_cents
    if x > I128_MAX:
        return None
    exact = x * (10_000 - to_basis_points(d))
    if exact > I128_MAX or abs(total_cents * 10_000 - exact) > config.tolerance_cents * 10_000:
        return None
    event_ms = timestamp_ms(ts)
    if event_ms is None:
        return None
    if record_ms >= 0:
        ahead = event_ms - record_ms
        if ahead > config.max_future_ms or -ahead > config.max_past_ms:
            return None
    return event_id


def check(ev, record_ms, config):
    """Every rule but `duplicate_event_id` on a JSON object: the broken ones as
    (code, message) pairs, and the event id when it is a string."""
    v = []
    g = ev.get
    missing = [n for n in REQUIRED if g(n) is None]
    if len(missing) == 1:
        v.append((MISSING_FIELD, f"required field {missing[0]} is missing"))
    elif missing:
        v.append((MISSING_FIELD, f"required fields {', '.join(missing)} are missing"))
    wrong = []

    def text(name):
        x = g(name)
        if x is None or type(x) is str:
            return x
        wrong.append(f"{name} is {kind(x)}, expected a string")
        return None

    event_id = text("event_id")
    text("customer_id")
    text("product_category")
    currency = text("currency")
    timestamp = None
    ts = text("timestamp")
    if ts is not None:
        try:
            timestamp = (ts, parse_rfc3339(ts))
        except TimeError as e:
            wrong.append(f"timestamp {debug_str(quote(ts))} is not an ISO-8601 date-time: {e}")
    quantity = g("quantity")
    if quantity is not None:
        if type(quantity) is not int:
            wrong.append(f"quantity is {kind(quantity)}, expected an integer")
            quantity = None
        elif quantity > I64_MAX:
            wrong.append(f"quantity {quantity} is too large")
            quantity = None

    def money(name):
        x = g(name)
        if x is None:
            return None
        if type(x) in _NUMBER:
            cents = to_cents(float(x))
            if cents is None:
                wrong.append(f"{name} {json_number(x)} is out of range for money")
            return cents
        wrong.append(f"{name} is {kind(x)}, expected a number")
        return None

    unit_cents = money("unit_price")
    total_cents = money("total_amount")
    discount = g("discount_percentage")
    if discount is None:
        discount = 0.0
    elif type(discount) in _NUMBER:
        discount = float(discount)
    else:
        wrong.append(f"discount_percentage is {kind(discount)}, expected a number")
        discount = None
    flag = g("is_new_customer")
    if flag is not None and type(flag) is not bool:
        wrong.append(f"is_new_customer is {kind(flag)}, expected a boolean")
    if wrong:
        v.append((WRONG_TYPE, "; ".join(wrong)))

    if quantity is not None and quantity <= 0:
        v.append((QUANTITY_POSITIVE, f"quantity is {quantity}, must be at least 1"))
    if unit_cents is not None and unit_cents <= 0:
        v.append((UNIT_PRICE_POSITIVE, f"unit_price is {fmt_cents(unit_cents)}, must be above 0"))
    if discount is not None and not 0.0 <= discount < 100.0:
        v.append(
            (
                DISCOUNT_RANGE,
                f"discount_percentage is {display_f64(discount)}, must be at least 0 and below 100",
            )
        )
    if None not in (quantity, unit_cents, total_cents, discount):
        _check_total(quantity, unit_cents, total_cents, to_basis_points(discount), config, v)
    if currency is not None and currency not in config.allowed:
        v.append(
            (
                CURRENCY_ALLOWED,
                f"currency {debug_str(quote(currency))} is not one of "
                + ", ".join(config.allowed_currencies),
            )
        )
    # Kafka's "no timestamp" is -1: nothing to compare with.
    if timestamp is not None and record_ms >= 0:
        _check_time(timestamp[0], timestamp[1], record_ms, config, v)
    return v, event_id


def _check_total(quantity, unit, total, bp, config, v):
    """`total == quantity × unit × (1 − bp/10000)` within the tolerance, compared
    in ten-thousandths of a cent so nothing is rounded before the comparison."""
    exact = quantity * unit * (10_000 - bp)
    if not I128_MIN <= exact <= I128_MAX:
        exact = None
    if bp == 0:
        formula = f"{quantity} × {fmt_cents(unit)}"
    elif bp < 0:
        formula = f"{quantity} × {fmt_cents(unit)} × (1 + {fmt_percent(bp).lstrip('-')})"
    else:
        formula = f"{quantity} × {fmt_cents(unit)} × (1 − {fmt_percent(bp)})"
    if exact is None:
        v.append(
            (
                TOTAL_MISMATCH,
                f"total_amount {fmt_cents(total)} does not equal {formula}, which is out of range",
            )
        )
    elif abs(total * 10_000 - exact) > config.tolerance_cents * 10_000:
        v.append(
            (
                TOTAL_MISMATCH,
                f"total_amount {fmt_cents(total)} does not equal {formula} = "
                f"{fmt_cents(div_round(exact, 10_000))}",
            )
        )


def _check_time(text, event_ms, record_ms, config, v):
    ahead = event_ms - record_ms
    if ahead > config.max_future_ms:
        message = (
            f"timestamp {text} is {fmt_duration(ahead)} ahead of the record time "
            f"(at most {fmt_duration(config.max_future_ms)} allowed)"
        )
    elif -ahead > config.max_past_ms:
        message = (
            f"timestamp {text} is {fmt_duration(-ahead)} behind the record time "
            f"(at most {fmt_duration(config.max_past_ms)} allowed)"
        )
    else:
        return
    v.append((TIMESTAMP_RANGE, message))


def fmt_duration(ms):
    """`30d 4h`, `2h 5m`, `5m 0s`, `1.500s` (ms >= 0)."""
    d, h, m, s = ms // 86_400_000, ms // 3_600_000 % 24, ms // 60_000 % 60, ms // 1000 % 60
    if d > 0:
        return f"{d}d {h}h"
    if h > 0:
        return f"{h}h {m}m"
    if m > 0:
        return f"{m}m {s}s"
    return f"{s}.{ms % 1000:03}s"


def kind(x):
    """How a JSON value reads in a message: `a string ("3")`, `an array`."""
    if x is None:
        return "null"
    t = type(x)
    if t is bool:
        return "a boolean (true)" if x else "a boolean (false)"
    if t is int or t is float:
        return f"a number ({json_number(x)})"
    if t is str:
        return f"a string ({debug_str(quote(x))})"
    if t is list:
        return "an array"
    return "an object"


def quote(s):
    """Input text cut to QUOTE_MAX characters, so messages stay short."""
    return s[:QUOTE_MAX] + "…" if len(s) > QUOTE_MAX else s


def rejection(violations):
    """The distinct codes, sorted, and every message in the order of its code,
    joined by `; `."""
    items = sorted(violations, key=lambda cv: cv[0])
    codes = sorted({c for c, _ in items})
    return codes, "; ".join(m for _, m in items)
