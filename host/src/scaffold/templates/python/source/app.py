"""`{{name}}`: a source plugin. It counts: each record is `{"id": "PREFIX-N",
"n": N}` keyed by N, stamped with the guest's clock. Its position is its state,
so a restart continues the count. Replace the logic in `next_batch`."""

import struct

from weir_sdk import Source, dumps, now_ms, parse_config


class {{Type}}(Source):
    def __init__(self, config):
        # `prefix = "event"`: the start of every id.
        self.prefix = parse_config("{{name}}", config, {"prefix": "event"})["prefix"]
        self.next = 0

    def next_batch(self, max_records, out):
        now = now_ms()
        for _ in range(max_records):
            n = self.next
            self.next += 1
            out.push(str(n), dumps({"id": f"{self.prefix}-{n}", "n": n}), (), now)

    def snapshot(self):
        return struct.pack("<Q", self.next)

    def restore(self, state):
        if len(state) != 8:
            raise ValueError(f"{{name}} snapshot: expected 8 bytes, got {len(state)}")
        (self.next,) = struct.unpack("<Q", state)
