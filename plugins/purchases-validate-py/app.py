"""`purchases-validate-py`: the Python port of `purchases-validate`. Valid purchase
events pass through unchanged (by index, never copied); the others are
rejected with `code[,code…]: message`, the codes naming every rule the event
breaks. Same config, same reasons byte for byte, and the same snapshot format
(`wdedup2`), so a pipeline can switch between the two implementations.

Modules beside this one: `rules` (the rules and their messages), `dedup` (the
memory of event ids), `config` (the settings), `sjson` (JSON as serde_json
reads it), `timestamps`, `money`, `rustfmt` (Rust's ways of writing values).
"""

import json

import rules
import sjson
from config import Config, ConfigError
from dedup import Seen, SnapshotError
from weir_sdk import PluginError, Transform

_TOMBSTONE = ([rules.MALFORMED_JSON], "record has no value (a tombstone)")


class PurchasesValidate(Transform):
    def __init__(self, config=None):
        """`config`: a `Config`, or its settings as a dict or JSON text."""
        if not isinstance(config, Config):
            if config is None or isinstance(config, dict):
                config = json.dumps(config or {}, separators=(",", ":"))
            try:
                config = Config.parse(config)
            except ConfigError as e:
                raise PluginError(str(e)) from None
        self.config = config
        self.seen = Seen(config.dedup_retention_ms, config.dedup_max_ids)

    @classmethod
    def from_config(cls, text):
        # The text itself: serde's errors quote its positions.
        return cls(text or "")

    def process(self, records, out):
        validate = self.validate
        passed = out.pass_
        reject = out.reject
        for i, r in enumerate(records):
            verdict = validate(r.value, r.timestamp_ms)
            if verdict is None:
                passed(i)
            else:
                reject(i, verdict[0], verdict[1])

    def validate(self, value, at):
        """None for a valid event (then remembered for duplicate detection),
        else (codes, reason)."""
        if value is None:
            return _TOMBSTONE
        try:
            ev = sjson.loads(value)
        except sjson.JsonError as e:
            return [rules.MALFORMED_JSON], f"value is not valid JSON: {e}"
        if type(ev) is not dict:
            return [rules.MALFORMED_JSON], f"value is {rules.kind(ev)}, not a JSON object"
        seen = self.seen
        event_id = rules.valid_event_id(ev, at, self.config)
        if event_id is not None and not seen.contains(event_id, at):
            seen.remember(event_id, at)
            return None
        violations, event_id = rules.check(ev, at, self.config)
        if event_id is not None:
            if seen.contains(event_id, at):
                violations.append(
                    (rules.DUPLICATE_EVENT_ID, f"event_id {event_id} was already seen")
                )
            elif not violations:
                seen.remember(event_id, at)
                return None
        return rules.rejection(violations)

    def snapshot(self):
        return self.seen.snapshot()

    def restore(self, state):
        try:
            self.seen.restore(state)
        except SnapshotError as e:
            raise PluginError(str(e)) from None
