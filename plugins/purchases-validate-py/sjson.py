"""JSON as serde_json 1.0 (default features) reads it, so this plugin accepts,
refuses and words errors exactly as the Rust plugin does.

`loads` is the per-record entry: CPython's C scanner does the parsing, with
hooks that give every number the value serde_json's own (not correctly
rounded) float parsing gives it; the few inputs where the two parsers could
disagree (invalid UTF-8, `\\uD800`-style escapes, deep nesting, anything the C
scanner refuses) are parsed again by `Parser`, a port of serde_json's
`Deserializer` over bytes, which raises serde's message and position
(`expected ident at line 1 column 2`). `Parser` also carries the primitives the
config's typed decode needs (`config.py`).
"""

import json
import re

from rustfmt import debug_str, json_f64

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
_U64_DIV10, _U64_MOD10 = divmod(U64_MAX, 10)
_I32_MAX = (1 << 31) - 1
_I32_MIN = -(1 << 31)
_I32_DIV10, _I32_MOD10 = divmod(_I32_MAX, 10)
_POW10 = tuple(float(f"1e{k}") for k in range(309))
_INF = float("inf")

# serde_json's ErrorCode texts.
EOF_LIST = "EOF while parsing a list"
EOF_OBJECT = "EOF while parsing an object"
EOF_STRING = "EOF while parsing a string"
EOF_VALUE = "EOF while parsing a value"
EXPECTED_COLON = "expected `:`"
EXPECTED_LIST_COMMA_OR_END = "expected `,` or `]`"
EXPECTED_OBJECT_COMMA_OR_END = "expected `,` or `}`"
EXPECTED_IDENT = "expected ident"
EXPECTED_VALUE = "expected value"
INVALID_ESCAPE = "invalid escape"
INVALID_NUMBER = "invalid number"
OUT_OF_RANGE = "number out of range"
INVALID_CODE_POINT = "invalid unicode code point"
CONTROL_CHARACTER = "control character (\\u0000-\\u001F) found while parsing a string"
KEY_MUST_BE_A_STRING = "key must be a string"
LONE_SURROGATE = "lone leading surrogate in hex escape"
TRAILING_COMMA = "trailing comma"
TRAILING_CHARACTERS = "trailing characters"
UNEXPECTED_END_OF_HEX_ESCAPE = "unexpected end of hex escape"
RECURSION_LIMIT = "recursion limit exceeded"

_SIMPLE_ESCAPES = {
    0x22: b'"',
    0x5C: b"\\",
    0x2F: b"/",
    0x62: b"\x08",
    0x66: b"\x0c",
    0x6E: b"\n",
    0x72: b"\r",
    0x74: b"\t",
}
_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
_STRING_STOP = re.compile(rb'["\\\x00-\x1f]')
_WHITESPACE = b" \t\n\r"


class JsonError(Exception):
    """A serde_json error; `line` 0 means not yet positioned (serde's custom
    errors), and then it reads as the message alone."""

    def __init__(self, message, line=0, column=0):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self):
        if self.line == 0:
            return self.message
        return f"{self.message} at line {self.line} column {self.column}"


def unexpected(x):
    """serde's `Unexpected` for a parsed scalar, as serde_json words it."""
    if type(x) is float:
        return f"floating point `{json_f64(x)}`"
    return f"integer `{x}`"


class Parser:
    """serde_json's `Deserializer<SliceRead>`: a byte slice and an index, the
    same steps in the same order, so every error has serde's wording and its
    line and column."""

    __slots__ = ("b", "i", "n", "depth")

    def __init__(self, data):
        self.b = bytes(data)
        self.i = 0
        self.n = len(self.b)
        self.depth = 128

    # -- positions and errors -------------------------------------------------

    def _at(self, i):
        start = self.b.rfind(b"\n", 0, i) + 1
        return 1 + self.b.count(b"\n", 0, start), i - start

    def error(self, message):
        """An error caused by a byte already consumed."""
        return JsonError(message, *self._at(self.i))

    def peek_error(self, message):
        """An error caused by the byte not yet consumed."""
        return JsonError(message, *self._at(min(self.n, self.i + 1)))

    def fix(self, err):
        """Positions a custom error where the reader stands (`fix_position`)."""
        if err.line == 0:
            return JsonError(err.message, *self._at(self.i))
        return err

    # -- bytes ------------------------------------------------------------------

    def peek_or_null(self):
        return self.b[self.i] if self.i < self.n else 0

    def ws(self):
        """Skips whitespace; the next byte, or None at the end."""
        b, i, n = self.b, self.i, self.n
        while i < n and b[i] in _WHITESPACE:
            i += 1
        self.i = i
        return b[i] if i < n else None

    def ident(self, rest):
        for expected in rest:
            if self.i >= self.n:
                raise self.error(EOF_VALUE)
            c = self.b[self.i]
            self.i += 1
            if c != expected:
                raise self.error(EXPECTED_IDENT)

    def colon(self):
        c = self.ws()
        if c == 0x3A:
            self.i += 1
        elif c is None:
            raise self.peek_error(EOF_OBJECT)
        else:
            raise self.peek_error(EXPECTED_COLON)

    def end(self):
        """Only whitespace may follow the value."""
        if self.ws() is not None:
            raise self.peek_error(TRAILING_CHARACTERS)

    # -- numbers ----------------------------------------------------------------

    def integer(self, positive):
        """`parse_integer`: after the sign. An int for serde's u64/i64, a float
        for its f64 (decimals, exponents, `-0`, integers beyond 64 bits)."""
        b, n = self.b, self.n
        if self.i >= n:
            raise self.error(EOF_VALUE)
        c = b[self.i]
        self.i += 1
        if c == 0x30:
            if 0x30 <= self.peek_or_null() <= 0x39:
                raise self.peek_error(INVALID_NUMBER)
            return self._number(positive, 0)
        if not 0x31 <= c <= 0x39:
            raise self.error(INVALID_NUMBER)
        sig = c - 0x30
        while self.i < n:
            c = b[self.i]
            if not 0x30 <= c <= 0x39:
                break
            d = c - 0x30
            if sig >= _U64_DIV10 and (sig > _U64_DIV10 or d > _U64_MOD10):
                return self._long_integer(positive, sig)
            self.i += 1
            sig = sig * 10 + d
        return self._number(positive, sig)

    def _number(self, positive, sig):
        c = self.peek_or_null()
        if c == 0x2E:
            return self._decimal(positive, sig, 0)
        if c == 0x65 or c == 0x45:
            return self._exponent(positive, sig, 0)
        if positive:
            return sig
        # `-0` and magnitudes beyond i64 become floats.
        if sig == 0 or sig > (1 << 63):
            return -float(sig)
        return -sig

    def _long_integer(self, positive, sig):
        exponent = 0
        while True:
            c = self.peek_or_null()
            if 0x30 <= c <= 0x39:
                self.i += 1
                exponent += 1
            elif c == 0x2E:
                return self._decimal(positive, sig, exponent)
            elif c == 0x65 or c == 0x45:
                return self._exponent(positive, sig, exponent)
            else:
                return self._from_parts(positive, sig, exponent)

    def _decimal(self, positive, sig, before):
        self.i += 1
        after = 0
        while True:
            c = self.peek_or_null()
            if not 0x30 <= c <= 0x39:
                break
            d = c - 0x30
            if sig >= _U64_DIV10 and (sig > _U64_DIV10 or d > _U64_MOD10):
                # The digits that would overflow are ignored.
                while 0x30 <= self.peek_or_null() <= 0x39:
                    self.i += 1
                c = self.peek_or_null()
                if c == 0x65 or c == 0x45:
                    return self._exponent(positive, sig, before + after)
                return self._from_parts(positive, sig, before + after)
            self.i += 1
            sig = sig * 10 + d
            after -= 1
        if after == 0:
            if self.i < self.n:
                raise self.peek_error(INVALID_NUMBER)
            raise self.peek_error(EOF_VALUE)
        c = self.peek_or_null()
        if c == 0x65 or c == 0x45:
            return self._exponent(positive, sig, before + after)
        return self._from_parts(positive, sig, before + after)

    def _exponent(self, positive, sig, starting):
        self.i += 1
        c = self.peek_or_null()
        positive_exp = True
        if c == 0x2B:
            self.i += 1
        elif c == 0x2D:
            self.i += 1
            positive_exp = False
        if self.i >= self.n:
            raise self.error(EOF_VALUE)
        c = self.b[self.i]
        self.i += 1
        if not 0x30 <= c <= 0x39:
            raise self.error(INVALID_NUMBER)
        exp = c - 0x30
        while True:
            c = self.peek_or_null()
            if not 0x30 <= c <= 0x39:
                break
            self.i += 1
            d = c - 0x30
            if exp >= _I32_DIV10 and (exp > _I32_DIV10 or d > _I32_MOD10):
                if sig != 0 and positive_exp:
                    raise self.error(OUT_OF_RANGE)
                while 0x30 <= self.peek_or_null() <= 0x39:
                    self.i += 1
                return 0.0 if positive else -0.0
            exp = exp * 10 + d
        final = starting + exp if positive_exp else starting - exp
        final = max(_I32_MIN, min(_I32_MAX, final))
        return self._from_parts(positive, sig, final)

    def _from_parts(self, positive, sig, exponent):
        # serde_json without `float_roundtrip`: one multiplication or division
        # by a power of ten, not always the nearest double.
        f = float(sig)
        while True:
            a = -exponent if exponent < 0 else exponent
            if a <= 308:
                if exponent >= 0:
                    f *= _POW10[a]
                    if f == _INF:
                        raise self.error(OUT_OF_RANGE)
                else:
                    f /= _POW10[a]
                break
            if f == 0.0:
                break
            if exponent >= 0:
                raise self.error(OUT_OF_RANGE)
            f /= 1e308
            exponent += 308
        return f if positive else -f

    # -- strings ----------------------------------------------------------------

    def string(self):
        """After the opening quote: the string, escapes decoded, UTF-8 checked."""
        b, n = self.b, self.n
        start = self.i
        scratch = None
        while True:
            m = _STRING_STOP.search(b, self.i)
            if m is None:
                self.i = n
                raise self.error(EOF_STRING)
            j = m.start()
            c = b[j]
            if c == 0x22:
                if scratch is None:
                    raw = b[start:j]
                else:
                    scratch += b[start:j]
                    raw = scratch
                self.i = j + 1
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    line, column = self._at(self.i)
                    raise JsonError(INVALID_CODE_POINT, line, max(0, column - (len(raw) - e.start)))
            if c == 0x5C:
                if scratch is None:
                    scratch = bytearray()
                scratch += b[start:j]
                self.i = j + 1
                self._escape(scratch)
                start = self.i
            else:
                self.i = j + 1
                raise self.error(CONTROL_CHARACTER)

    def _escape(self, scratch):
        if self.i >= self.n:
            raise self.error(EOF_STRING)
        c = self.b[self.i]
        self.i += 1
        simple = _SIMPLE_ESCAPES.get(c)
        if simple is not None:
            scratch += simple
            return
        if c != 0x75:
            raise self.error(INVALID_ESCAPE)
        n1 = self._hex4()
        if 0xDC00 <= n1 <= 0xDFFF:
            raise self.error(LONE_SURROGATE)
        if not 0xD800 <= n1 <= 0xDBFF:
            scratch += chr(n1).encode()
            return
        for expected in (0x5C, 0x75):
            if self.i >= self.n:
                raise self.error(EOF_STRING)
            c = self.b[self.i]
            self.i += 1
            if c != expected:
                raise self.error(UNEXPECTED_END_OF_HEX_ESCAPE)
        n2 = self._hex4()
        if not 0xDC00 <= n2 <= 0xDFFF:
            raise self.error(LONE_SURROGATE)
        scratch += chr((((n1 - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000).encode()

    def _hex4(self):
        if self.n - self.i < 4:
            self.i = self.n
            raise self.error(EOF_STRING)
        digits = self.b[self.i : self.i + 4]
        self.i += 4
        v = 0
        for c in digits:
            h = _HEX.get(c)
            if h is None:
                raise self.error(INVALID_ESCAPE)
            v = v * 16 + h
        return v

    # -- containers: serde's SeqAccess / MapAccess ----------------------------

    def has_next_element(self, first):
        c = self.ws()
        if c is None:
            raise self.peek_error(EOF_LIST)
        if c == 0x5D:
            return False
        if first:
            return True
        if c == 0x2C:
            self.i += 1
            c = self.ws()
            if c == 0x5D:
                raise self.peek_error(TRAILING_COMMA)
            if c is None:
                raise self.peek_error(EOF_VALUE)
            return True
        raise self.peek_error(EXPECTED_LIST_COMMA_OR_END)

    def has_next_key(self, first):
        """Whether a key follows; on True the reader is at its opening quote."""
        c = self.ws()
        if c is None:
            raise self.peek_error(EOF_OBJECT)
        if c == 0x7D:
            return False
        if first:
            if c == 0x22:
                return True
            raise self.peek_error(KEY_MUST_BE_A_STRING)
        if c == 0x2C:
            self.i += 1
            c = self.ws()
            if c == 0x22:
                return True
            if c == 0x7D:
                raise self.peek_error(TRAILING_COMMA)
            if c is None:
                raise self.peek_error(EOF_VALUE)
            raise self.peek_error(KEY_MUST_BE_A_STRING)
        raise self.peek_error(EXPECTED_OBJECT_COMMA_OR_END)

    def end_seq(self):
        c = self.ws()
        if c == 0x5D:
            self.i += 1
        elif c == 0x2C:
            self.i += 1
            if self.ws() == 0x5D:
                raise self.peek_error(TRAILING_COMMA)
            raise self.peek_error(TRAILING_CHARACTERS)
        elif c is None:
            raise self.peek_error(EOF_LIST)
        else:
            raise self.peek_error(TRAILING_CHARACTERS)

    def end_map(self):
        c = self.ws()
        if c == 0x7D:
            self.i += 1
        elif c == 0x2C:
            raise self.peek_error(TRAILING_COMMA)
        elif c is None:
            raise self.peek_error(EOF_OBJECT)
        else:
            raise self.peek_error(TRAILING_CHARACTERS)

    def enter(self):
        """`check_recursion!`: one level deeper, refused at 128."""
        self.depth -= 1
        if self.depth == 0:
            raise self.peek_error(RECURSION_LIMIT)

    def invalid_type(self, expected):
        """`peek_invalid_type`: reads the value that is not what `expected`
        names and returns the positioned `invalid type` error."""
        c = self.peek_or_null()
        if c == 0x6E:
            self.i += 1
            self.ident(b"ull")
            what = "null"
        elif c == 0x74:
            self.i += 1
            self.ident(b"rue")
            what = "boolean `true`"
        elif c == 0x66:
            self.i += 1
            self.ident(b"alse")
            what = "boolean `false`"
        elif c == 0x2D:
            self.i += 1
            what = unexpected(self.integer(False))
        elif 0x30 <= c <= 0x39:
            what = unexpected(self.integer(True))
        elif c == 0x22:
            self.i += 1
            what = "string " + debug_str(self.string())
        elif c == 0x5B:
            what = "sequence"
        elif c == 0x7B:
            what = "map"
        else:
            raise self.peek_error(EXPECTED_VALUE)
        return self.fix(JsonError(f"invalid type: {what}, expected {expected}"))

    # -- serde_json::Value ----------------------------------------------------

    def value(self):
        """`Value::deserialize`: null, bools, ints and floats, str, list, dict
        (a repeated key keeps its last value)."""
        c = self.ws()
        if c is None:
            raise self.peek_error(EOF_VALUE)
        if c == 0x7B:
            self.enter()
            self.i += 1
            out = {}
            first = True
            while self.has_next_key(first):
                first = False
                self.i += 1
                key = self.string()
                self.colon()
                out[key] = self.value()
            self.depth += 1
            self.end_map()
            return out
        if c == 0x5B:
            self.enter()
            self.i += 1
            out = []
            first = True
            while self.has_next_element(first):
                first = False
                out.append(self.value())
            self.depth += 1
            self.end_seq()
            return out
        if c == 0x22:
            self.i += 1
            return self.string()
        if c == 0x2D:
            self.i += 1
            return self.integer(False)
        if 0x30 <= c <= 0x39:
            return self.integer(True)
        if c == 0x6E:
            self.i += 1
            self.ident(b"ull")
            return None
        if c == 0x74:
            self.i += 1
            self.ident(b"rue")
            return True
        if c == 0x66:
            self.i += 1
            self.ident(b"alse")
            return False
        raise self.peek_error(EXPECTED_VALUE)


def parse(data):
    """`serde_json::from_slice::<Value>`: the document, or JsonError."""
    p = Parser(data)
    v = p.value()
    p.end()
    return v


def _number(text):
    """A number the C scanner matched, valued as serde_json values it."""
    p = Parser(text.encode())
    if text[0] == "-":
        p.i = 1
        return p.integer(False)
    return p.integer(True)


def _int(text):
    if len(text) < 19 and text != "-0":
        return int(text)
    return _number(text)


def _float(text):
    # At most 15 digits and no exponent: serde's one division by an exact power
    # of ten is correctly rounded, as float() is.
    if len(text) < 17 and "e" not in text and "E" not in text:
        return float(text)
    return _number(text)


def _constant(name):
    raise ValueError(name)


_scan = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant).scan_once


def loads(data):
    """A record value (bytes) as `serde_json::from_slice::<Value>` reads it:
    the document, or JsonError with serde's message."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return parse(data)
    if "\\ud" in text or "\\uD" in text or text.count("[") + text.count("{") > 127:
        return parse(data)
    start = 0
    if text[:1] in (" ", "\t", "\n", "\r"):
        start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        doc, end = _scan(text, start)
    except Exception:
        return parse(data)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return parse(data)
    return doc
