"""The contract's flat batch layout, in plain Python (no component bindings), so
it can be tested with any CPython.

Record `i` of a batch owns `data[keys[2i] : keys[2i] + keys[2i+1]]` as key
(absent when the length is 0xffffffff), the same for its value, the next
`header_counts[i]` headers (four numbers each: name start, name length, value
start, value length) and `timestamps[i]`.
"""

import json

ABSENT = 0xFFFFFFFF


class Record:
    """One input record: `key` and `value` are bytes or None (None value: a
    tombstone), `headers` a list of (name, bytes), `timestamp_ms` event time."""

    __slots__ = ("key", "value", "headers", "timestamp_ms")

    def __init__(self, key, value, headers, timestamp_ms):
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp_ms = timestamp_ms

    def header(self, name):
        """The first header called `name`, or None."""
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def json(self):
        """The value parsed as JSON; raises ValueError for a tombstone or bytes
        that are not JSON."""
        if self.value is None:
            raise ValueError("the record has no value (a tombstone)")
        return json.loads(self.value)

    def __repr__(self):
        return (
            f"Record(key={self.key!r}, value={self.value!r}, "
            f"headers={self.headers!r}, timestamp_ms={self.timestamp_ms})"
        )


class LayoutError(ValueError):
    """A batch whose offsets do not describe its bytes."""


def _outside(i, start, length, size):
    return LayoutError(f"record {i}: span {start}+{length} is outside {size} bytes")


def decode(data, keys, values, header_counts, headers, timestamps):
    """The records of a flat batch, as a list of `Record`s. One pass, no call
    per record beyond the `Record` itself: this is every Python plugin's hot path."""
    n = len(timestamps)
    if len(keys) != 2 * n or len(values) != 2 * n or len(header_counts) != n:
        raise LayoutError(f"column lengths do not match {n} timestamps")
    if len(headers) != 4 * sum(header_counts):
        raise LayoutError("header spans do not match the header counts")
    size = len(data)
    records = []
    push = records.append
    h = 0
    columns = zip(keys[0::2], keys[1::2], values[0::2], values[1::2], header_counts, timestamps)
    for i, (ks, kl, vs, vl, hc, ts) in enumerate(columns):
        if kl == ABSENT:
            key = None
        elif ks + kl > size:
            raise _outside(i, ks, kl, size)
        else:
            key = data[ks : ks + kl]
        if vl == ABSENT:
            value = None
        elif vs + vl > size:
            raise _outside(i, vs, vl, size)
        else:
            value = data[vs : vs + vl]
        hs = []
        for _ in range(hc):
            ns, nl, hvs, hvl = headers[h : h + 4]
            h += 4
            if ns + nl > size or hvs + hvl > size:
                raise _outside(i, ns, nl, size)
            hs.append((bytes(data[ns : ns + nl]).decode(), data[hvs : hvs + hvl]))
        push(Record(key, value, hs, ts))
    return records


class Batch:
    """New records, in the flat layout: what a source or a tick emits."""

    __slots__ = ("data", "keys", "values", "header_counts", "headers", "timestamps")

    def __init__(self):
        self.data = bytearray()
        self.keys = []
        self.values = []
        self.header_counts = []
        self.headers = []
        self.timestamps = []

    def __len__(self):
        return len(self.timestamps)

    def _put(self, b, out):
        if b is None:
            out += (0, ABSENT)
            return
        if isinstance(b, str):
            b = b.encode()
        out += (len(self.data), len(b))
        self.data += b

    def push(self, key, value, headers=(), timestamp_ms=0):
        """Appends a record. `key` and `value` are bytes, str (written as UTF-8)
        or None; `headers` (name, bytes-or-str) pairs."""
        self._put(key, self.keys)
        self._put(value, self.values)
        self.header_counts.append(len(headers))
        for name, v in headers:
            name = name.encode()
            if isinstance(v, str):
                v = v.encode()
            self.headers += (len(self.data), len(name), len(self.data) + len(name), len(v))
            self.data += name
            self.data += v
        self.timestamps.append(int(timestamp_ms))

    def records(self):
        """The records pushed so far (for tests)."""
        return decode(
            bytes(self.data), self.keys, self.values, self.header_counts, self.headers, self.timestamps
        )


class Outcome:
    """What a transform or aggregator made of an input batch: new records (each
    naming the input it came from), inputs passed on unchanged, and rejected
    inputs with their codes and reasons. Inputs with none of these are dropped."""

    __slots__ = ("output", "origins", "passed", "failures")

    def __init__(self):
        self.output = Batch()
        self.origins = []
        self.passed = []
        self.failures = []

    def emit(self, origin, key, value, headers=(), timestamp_ms=0):
        """Emits a new record made from input `origin`."""
        self.output.push(key, value, headers, timestamp_ms)
        self.origins.append(origin)

    def pass_(self, index):
        """Passes input `index` on unchanged: the host forwards the record it
        sent, nothing is copied back. Call it in input order."""
        self.passed.append(index)

    def fail(self, index, code, reason):
        """Rejects input `index` for breaking rule `code` (lower-case letters and
        `_`); the host sends it to the DLQ with `reason`."""
        self.failures.append((index, [code], str(reason)))

    def reject(self, index, codes, reason):
        """Rejects input `index` for several rules at once."""
        self.failures.append((index, list(codes), str(reason)))

    def check(self, inputs):
        """Raises LayoutError when the host would refuse this outcome."""
        if any(not 0 <= i < inputs for i in self.origins + self.passed + [f[0] for f in self.failures]):
            raise LayoutError(f"the outcome names input records that do not exist (the batch has {inputs})")
        if any(a >= b for a, b in zip(self.passed, self.passed[1:])):
            raise LayoutError("passed inputs are not in ascending order")
        if self.passed and any(a > b for a, b in zip(self.origins, self.origins[1:])):
            raise LayoutError("records emitted beside passed inputs are not in input order")

    @staticmethod
    def text(codes, reason):
        """`code[,code…]: reason`, the text a DLQ entry carries."""
        return f"{','.join(codes)}: {reason}" if codes else reason
