"""The memory of seen event ids behind `duplicate_event_id`, and its snapshot:
the Rust plugin's `Seen`, entry for entry, so the snapshot bytes are the same
and either implementation restores the other's.

Snapshot format `wdedup2`: `wdedup2\\n`, the entry count (u32), then per entry
in the order remembered: record time (i64), id length (u32), id bytes (UTF-8);
integers little-endian. An id remembered again leaves its older entry in the
log until it reaches the front (restore lets the later entry win). `wdedup1`,
an earlier release's format, is the same with every id at most once.
"""

import struct
from collections import deque

from rustfmt import debug_str

MAGIC = b"wdedup2\n"
MAGIC_V1 = b"wdedup1\n"
PLUGIN = "purchases-validate"
# Bytes of an entry besides its id: record time (i64) and id length (u32).
_HEAD = struct.Struct("<qI")
_TIME = struct.Struct("<q")
_COUNT = struct.Struct("<I")
# The log drops its forgotten front once it is this long and a quarter of it.
COMPACT_AT = 1 << 16
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


class SnapshotError(ValueError):
    pass


class Seen:
    """Event ids of valid events with the record time they were seen at,
    forgotten oldest first once past the retention or the size cap.

    The log is a bytearray in the snapshot's own encoding (a snapshot is one
    copy of it); `latest` maps each remembered id to the position of its latest
    entry (counted from the memory's beginning); `ids` holds the id of every
    entry still in the log, oldest first, so forgetting need not decode it.
    """

    __slots__ = ("latest", "ids", "log", "start", "base", "clock", "retention_ms", "max_ids")

    def __init__(self, retention_ms, max_ids):
        self.latest = {}
        self.ids = deque()
        self.log = bytearray()
        self.start = 0
        self.base = 0
        self.clock = I64_MIN
        self.retention_ms = min(retention_ms, I64_MAX)
        self.max_ids = max_ids

    def __len__(self):
        return len(self.latest)

    def time_of(self, event_id):
        """The record time `event_id` was last remembered at, or None."""
        at = self.latest.get(event_id)
        if at is None:
            return None
        return _TIME.unpack_from(self.log, at - self.base)[0]

    def contains(self, event_id, at_ms):
        """Whether `event_id` was remembered at most the retention away from `at_ms`."""
        at = self.latest.get(event_id)
        if at is None:
            return False
        return abs(at_ms - _TIME.unpack_from(self.log, at - self.base)[0]) <= self.retention_ms

    def remember(self, event_id, at_ms):
        """Remembers `event_id` as seen at `at_ms`, then forgets what is too old
        or too much."""
        if self.max_ids == 0:
            return
        raw = event_id.encode()
        log = self.log
        self.latest[event_id] = self.base + len(log)
        log += _HEAD.pack(at_ms, len(raw))
        log += raw
        self.ids.append(event_id)
        if at_ms > self.clock:
            self.clock = at_ms
        self._forget()

    def _forget(self):
        horizon = max(I64_MIN, self.clock - self.retention_ms)
        latest, ids, log, max_ids = self.latest, self.ids, self.log, self.max_ids
        start = self.start
        here = self.base + start
        # The oldest entry is live when `latest` points at it.
        while ids:
            event_id = ids[0]
            t, n = _HEAD.unpack_from(log, start)
            live = latest.get(event_id) == here
            if live and t >= horizon and len(latest) <= max_ids:
                break
            if live:
                del latest[event_id]
            ids.popleft()
            start += 12 + n
            here += 12 + n
        if start >= COMPACT_AT and start * 4 >= len(log):
            del log[:start]
            self.base += start
            start = 0
        self.start = start

    def snapshot(self):
        """`wdedup2`: one copy of the log."""
        return b"".join((MAGIC, _COUNT.pack(len(self.ids)), memoryview(self.log)[self.start :]))

    def restore(self, state):
        """Replaces the memory with a snapshot (`wdedup2`, or `wdedup1`); empty
        bytes are an empty memory. The current retention and cap apply to what
        is restored. SnapshotError for bytes that are not a snapshot."""
        entries = decode(state) if state else ()
        fresh = Seen(self.retention_ms, self.max_ids)
        for t, event_id in entries:
            fresh.remember(event_id, t)
        for name in Seen.__slots__:
            setattr(self, name, getattr(fresh, name))


def decode(state):
    """The (record time, id) entries of a snapshot, in order."""
    state = bytes(state)
    size = len(state)
    at = 0

    def take(n):
        nonlocal at
        end = at + n
        if end > size:
            raise SnapshotError(
                f"{PLUGIN} snapshot: truncated: needs {n} bytes at offset {at} of {size}"
            )
        piece = state[at:end]
        at = end
        return piece

    magic = take(8)
    if magic == MAGIC:
        repeats_allowed = True
    elif magic == MAGIC_V1:
        repeats_allowed = False
    else:
        raise SnapshotError(f"{PLUGIN} snapshot: not a duplicate-filter snapshot (bad header)")
    (count,) = _COUNT.unpack(take(4))
    entries = []
    ids = set()
    for i in range(count):
        (t,) = _TIME.unpack(take(8))
        (n,) = _COUNT.unpack(take(4))
        try:
            event_id = take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(f"{PLUGIN} snapshot: event id #{i} is not UTF-8") from None
        if not repeats_allowed:
            if event_id in ids:
                raise SnapshotError(f"{PLUGIN} snapshot: event id {debug_str(event_id)} appears twice")
            ids.add(event_id)
        entries.append((t, event_id))
    if at != size:
        raise SnapshotError(f"{PLUGIN} snapshot: {size - at} bytes left after {count} event ids")
    return entries
