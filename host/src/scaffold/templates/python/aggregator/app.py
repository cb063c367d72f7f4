"""`{{name}}`: an aggregator plugin. It counts records per key and, on every
tick, emits one `{"count": N, "key": K}` row per key. The counts are its
state, checkpointed by the host. Replace the logic in `update` and `tick`."""

import json

from weir_sdk import Aggregator, dumps, parse_config


class {{Type}}(Aggregator):
    def __init__(self, config):
        parse_config("{{name}}", config, {})  # no settings: any is refused
        self.counts = {}

    def update(self, records, out):
        for r in records:
            key = (r.key if r.key is not None else b"(none)").decode("utf-8", "replace")
            self.counts[key] = self.counts.get(key, 0) + 1

    def tick(self, watermark_ms, now_ms, out):
        for key in sorted(self.counts):
            out.push(key, dumps({"count": self.counts[key], "key": key}), (), now_ms)

    def snapshot(self):
        return dumps(dict(sorted(self.counts.items())))

    def restore(self, state):
        """An empty state starts afresh; anything else must be a snapshot of counts."""
        try:
            self.counts = json.loads(state) if state else {}
        except ValueError as e:
            raise ValueError(f"{{name}} snapshot: not a {{name}} snapshot: {e}") from None
