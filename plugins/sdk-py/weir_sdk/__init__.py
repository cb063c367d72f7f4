"""The weir guest SDK for Python: write a plugin as a plain class.

    from weir_sdk import Transform

    class Upper(Transform):
        def __init__(self, config):
            self.field = config.get("field", "name")

        def process(self, records, out):
            for i, r in enumerate(records):
                doc = r.json()
                ...
                out.emit(i, r.key, new_value, r.headers, r.timestamp_ms)

`app.py` defines one subclass of `Transform`, `Source` or `Aggregator`;
`just plugin NAME` builds it into a component (componentize-py). The batch
layout of the contract (one byte buffer plus offset lists) stays inside this
package: plugins see `Record`s, and write through `Outcome` and `Batch`.
"""

import json
import time

from .flat import ABSENT, Batch, Outcome, Record, decode

__all__ = [
    "ABSENT",
    "Aggregator",
    "Batch",
    "Outcome",
    "PluginError",
    "REQUIRED",
    "Record",
    "Source",
    "Transform",
    "decode",
    "dumps",
    "log",
    "missing_fields",
    "now_ms",
    "parse_config",
    "MALFORMED_JSON",
    "MISSING_FIELD",
    "WRONG_TYPE",
]

# Failure codes any plugin may use (the same as the Rust SDK's `codes`): the host
# counts DLQ records per code, so one defect has one name in every pipeline.
MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"


class PluginError(Exception):
    """An error whose message is shown as it is: raise it (or `ValueError`) to
    refuse a config in `__init__`, or to fail a whole batch."""


class _Plugin:
    """What every world shares: built from the connector's config table."""

    def __init__(self, config):
        pass

    @classmethod
    def from_config(cls, text):
        """Builds the plugin from the connector's config table (JSON text),
        calling `cls(config)` with it parsed. Override to read the text yourself."""
        return cls(json.loads(text) if text else {})


class Transform(_Plugin):
    """A plugin that maps each input record to outputs, a pass, or a failure
    (the `transform` world). Inputs it says nothing about are dropped."""

    def process(self, records, out):
        raise NotImplementedError("process is not written yet")

    def snapshot(self):
        """State kept between batches, checkpointed with the source positions."""
        return b""

    def restore(self, state):
        """Resumes from `snapshot`'s bytes (empty bytes: start afresh)."""


class Source(_Plugin):
    """A plugin that makes records (the `source` world)."""

    def next_batch(self, max_records, out):
        """Appends up to `max_records` records to `out` (a `Batch`); none means
        "nothing right now"."""
        raise NotImplementedError("next_batch is not written yet")

    def snapshot(self):
        return b""

    def restore(self, state):
        pass


class Aggregator(_Plugin):
    """A stateful plugin the host checkpoints (the `aggregator` world)."""

    def update(self, records, out):
        raise NotImplementedError("update is not written yet")

    def tick(self, watermark_ms, now_ms, out):
        """Emits into `out` (a `Batch`) what the watermark has completed."""

    def snapshot(self):
        raise NotImplementedError("an aggregator must write its state in snapshot")

    def restore(self, state):
        raise NotImplementedError("an aggregator must read its state in restore")


_LEVELS = ("trace", "debug", "info", "warn", "error")
_logger = None


def log(level, message):
    """Writes a line into the host's log, tagged with the plugin and connector.
    `level` is one of trace, debug, info, warn, error."""
    if level not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    if _logger is not None:
        _logger(level, str(message))


def now_ms():
    """The wall clock in milliseconds since the Unix epoch (virtual in
    conformance runs)."""
    return time.time_ns() // 1_000_000


def dumps(value):
    """Compact JSON, non-ASCII kept as UTF-8: the bytes a record value carries."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


_REQUIRED = object()
REQUIRED = _REQUIRED
"""A default that makes a setting required (`parse_config`)."""


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    return "a table"


def parse_config(plugin, config, defaults):
    """The config table with `defaults` filled in, worded as the Rust and
    JavaScript SDKs word it: a setting not in `defaults`, one of another type
    than its default, or a `REQUIRED` one left out refuses the config with
    `"{plugin} config: …"`."""

    def fail(why):
        raise PluginError(f"{plugin} config: {why}")

    if not isinstance(config, dict):
        fail(f"invalid type: {_json_type(config)}, expected a table")
    listed = [f"`{k}`" for k in defaults]
    if not listed:
        expected = "there are no fields"
    elif len(listed) == 1:
        expected = f"expected {listed[0]}"
    elif len(listed) == 2:
        expected = f"expected {listed[0]} or {listed[1]}"
    else:
        expected = f"expected one of {', '.join(listed)}"
    out = {}
    for k, v in config.items():
        if k not in defaults:
            fail(f"unknown field `{k}`, {expected}")
        d = defaults[k]
        if d is not _REQUIRED and d is not None and _json_type(v) != _json_type(d):
            fail(f"invalid type for `{k}`: {_json_type(v)}, expected {_json_type(d)}")
        out[k] = v
    for k, d in defaults.items():
        if k not in out:
            if d is _REQUIRED:
                fail(f"missing field `{k}`")
            out[k] = d
    return out


def missing_fields(names):
    """`required field(s) a, b is/are missing`, worded as in every plugin."""
    s, verb = ("", "is") if len(names) == 1 else ("s", "are")
    return f"required field{s} {', '.join(names)} {verb} missing"
