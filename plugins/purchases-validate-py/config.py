"""The `config` table of a `purchases-validate-py` stage: the same settings,
defaults and error texts as the Rust plugin's `Config`, whose serde decode
(`deny_unknown_fields`, container `default`) is retraced step by step on
`sjson.Parser` so a refused config reads the same, line and column included."""

from sjson import EOF_VALUE, JsonError, Parser, U64_MAX, unexpected

PLUGIN = "purchases-validate"
U32_MAX = (1 << 32) - 1
I64_MAX = (1 << 63) - 1

DEFAULTS = {
    # How far `total_amount` may be from quantity × unit_price × (1 − discount/100).
    "tolerance_cents": 1,
    # Accepted `currency` codes (exact case).
    "allowed_currencies": ["USD", "EUR", "GBP", "CAD", "JPY"],
    # How far an event's `timestamp` may be ahead of its record's timestamp.
    "max_future_ms": 300_000,
    # How far it may be behind (7 days).
    "max_past_ms": 604_800_000,
    # A repeated event_id is a duplicate when its records are at most this far apart.
    "dedup_retention_ms": 3_600_000,
    # Event ids remembered at most, the oldest forgotten first; 0 turns detection off.
    "dedup_max_ids": 200_000,
}
# The fields in declaration order (serde lists them so), with their Rust types.
FIELDS = (
    ("tolerance_cents", "u32"),
    ("allowed_currencies", "vec"),
    ("max_future_ms", "u64"),
    ("max_past_ms", "u64"),
    ("dedup_retention_ms", "u64"),
    ("dedup_max_ids", "u32"),
)
_TYPES = dict(FIELDS)
_UNKNOWN = "unknown field `{}`, expected one of " + ", ".join(f"`{n}`" for n, _ in FIELDS)
_MAX = {"u32": U32_MAX, "u64": U64_MAX}


class ConfigError(ValueError):
    pass


class Config:
    __slots__ = (
        "tolerance_cents",
        "allowed_currencies",
        "allowed",
        "max_future_ms",
        "max_past_ms",
        "dedup_retention_ms",
        "dedup_max_ids",
    )

    def __init__(self, **values):
        for name, default in DEFAULTS.items():
            v = values.get(name, default)
            setattr(self, name, list(v) if name == "allowed_currencies" else v)
        self.allowed = frozenset(self.allowed_currencies)

    @classmethod
    def parse(cls, text):
        """Parses and checks the stage config (JSON text); ConfigError names
        the plugin and the problem."""
        try:
            values = _decode(text)
        except JsonError as e:
            raise ConfigError(f"{PLUGIN} config: {e}") from None
        config = cls(**values)
        if not config.allowed_currencies:
            raise ConfigError(
                f"{PLUGIN} config: allowed_currencies is empty, so every event would fail"
            )
        for name in ("max_future_ms", "max_past_ms", "dedup_retention_ms"):
            ms = getattr(config, name)
            if ms > I64_MAX // 2:
                raise ConfigError(f"{PLUGIN} config: {name} = {ms} is too large")
        return config

    def __eq__(self, other):
        return isinstance(other, Config) and all(
            getattr(self, n) == getattr(other, n) for n in DEFAULTS
        )

    def __repr__(self):
        return "Config(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in DEFAULTS) + ")"


def _decode(text):
    """`serde_json::from_str::<Config>`: the fields given, by name."""
    p = Parser(text.encode())
    c = p.ws()
    if c is None:
        raise p.peek_error(EOF_VALUE)
    if c == 0x7B:
        p.enter()
        p.i += 1
        try:
            values = _visit_map(p)
        except JsonError as e:
            raise _after(p, p.end_map, e) from None
        p.depth += 1
        p.end_map()
    elif c == 0x5B:
        p.enter()
        p.i += 1
        try:
            values = _visit_seq(p)
        except JsonError as e:
            raise _after(p, p.end_seq, e) from None
        p.depth += 1
        p.end_seq()
    else:
        raise p.invalid_type("struct Config")
    p.end()
    return values


def _after(p, end, err):
    """serde_json ends the map or array (its error, if any, is dropped) before
    it positions the visitor's error."""
    try:
        end()
    except JsonError:
        pass
    return p.fix(err)


def _visit_map(p):
    values = {}
    first = True
    while p.has_next_key(first):
        first = False
        p.i += 1
        key = p.string()
        kind = _TYPES.get(key)
        if kind is None:
            raise JsonError(_UNKNOWN.format(key))
        if key in values:
            raise JsonError(f"duplicate field `{key}`")
        p.colon()
        values[key] = _field(p, kind)
    return values


def _visit_seq(p):
    """A struct from a JSON array: its fields in order, the defaults for the
    ones the array is too short for."""
    values = {}
    first = True
    for name, kind in FIELDS:
        if not p.has_next_element(first):
            break
        first = False
        values[name] = _field(p, kind)
    return values


def _field(p, kind):
    if kind == "vec":
        return _strings(p)
    c = p.ws()
    if c is None:
        raise p.peek_error(EOF_VALUE)
    if c == 0x2D:
        p.i += 1
        v = p.integer(False)
    elif 0x30 <= c <= 0x39:
        v = p.integer(True)
    else:
        raise p.invalid_type(kind)
    if type(v) is float:
        raise p.fix(JsonError(f"invalid type: {unexpected(v)}, expected {kind}"))
    if not 0 <= v <= _MAX[kind]:
        raise p.fix(JsonError(f"invalid value: {unexpected(v)}, expected {kind}"))
    return v


def _strings(p):
    """`Vec<String>`."""
    c = p.ws()
    if c is None:
        raise p.peek_error(EOF_VALUE)
    if c != 0x5B:
        raise p.invalid_type("a sequence")
    p.enter()
    p.i += 1
    out = []
    first = True
    while p.has_next_element(first):
        first = False
        c = p.ws()
        if c != 0x22:
            raise p.invalid_type("a string")
        p.i += 1
        out.append(p.string())
    p.depth += 1
    p.end_seq()
    return out
