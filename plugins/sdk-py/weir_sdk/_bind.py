"""The one binding site: the plugin class in `app.py` exported as the world's
interface (componentize-py looks for `TransformApi`, `SourceApi` or
`AggregatorApi` in the app module, which re-exports these). Only this module
touches the generated `wit_world` bindings."""

import os
import random
import traceback

from componentize_py_types import Err
from wit_world.imports import host, types

import weir_sdk
from weir_sdk import flat

import app

_LEVELS = {
    "trace": types.Level.TRACE,
    "debug": types.Level.DEBUG,
    "info": types.Level.INFO,
    "warn": types.Level.WARN,
    "error": types.Level.ERROR,
}


def _log(level, message):
    host.log(_LEVELS[level], message)


weir_sdk._logger = _log


def _plugin_class(base):
    found = [
        v
        for v in vars(app).values()
        if isinstance(v, type) and issubclass(v, base) and v is not base and v.__module__ == app.__name__
    ]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise Err(f"app.py must define exactly one subclass of weir_sdk.{base.__name__} (found {names})")
    return found[0]


def _message(e):
    """An exception as the text of a call's error: the message alone for the
    errors a plugin raises on purpose, else its type and where it came from."""
    if isinstance(e, (weir_sdk.PluginError, ValueError)) and type(e).__module__ != "json.decoder":
        return str(e)
    where = ""
    tb = traceback.extract_tb(e.__traceback__)
    if tb:
        frame = tb[-1]
        where = f" (at {os.path.basename(frame.filename)} line {frame.lineno}, in {frame.name})"
    return f"{type(e).__name__}: {e}{where}"


def _call(f, *args):
    """Calls into the plugin: an exception becomes the call's error (the
    batch goes to the DLQ, the instance stays)."""
    try:
        return f(*args)
    except Err:
        raise
    except Exception as e:
        raise Err(_message(e))


def _logged(f, *args):
    """Calls into the plugin where the contract has no error to return
    (`snapshot`): an exception is logged with its place, then traps."""
    try:
        return f(*args)
    except Exception as e:
        _log("error", _message(e))
        raise


def _records(batch):
    return flat.decode(
        batch.data, batch.keys, batch.values, batch.header_counts, batch.headers, batch.timestamps
    )


def _batch(b):
    return types.Batch(bytes(b.data), b.keys, b.values, b.header_counts, b.headers, b.timestamps)


def _outcome(o):
    return types.Outcome(
        _batch(o.output),
        o.origins,
        o.passed,
        [types.Failure(i, codes, reason) for i, codes, reason in o.failures],
    )


def _run(method, batch):
    """`method(records, out)` over a batch; the outcome it wrote."""
    out = flat.Outcome()
    method(_records(batch), out)
    return out


def _fill(method, *args):
    """`method(*args, out)`; the records it pushed."""
    out = flat.Batch()
    method(*args, out)
    return out


class _Api:
    """What every world shares: init with the config, snapshot, restore."""

    base = None
    plugin = None

    def init(self, config):
        # Python's own `random` was seeded when the component was built; seed it
        # from WASI randomness, which the conformance harness makes repeatable.
        random.seed(os.urandom(16))
        cls = _plugin_class(self.base)
        type(self).plugin = _call(cls.from_config, config)

    def snapshot(self):
        return _logged(lambda: bytes(self.plugin.snapshot() or b""))

    def restore(self, state):
        _call(lambda: self.plugin.restore(state))


class TransformApi(_Api):
    base = weir_sdk.Transform

    def process(self, input):
        return _call(lambda: _outcome(_run(self.plugin.process, input)))


class SourceApi(_Api):
    base = weir_sdk.Source

    def next_batch(self, max_records):
        return _call(lambda: _batch(_fill(self.plugin.next_batch, max_records)))


class AggregatorApi(_Api):
    base = weir_sdk.Aggregator

    def update(self, input):
        return _call(lambda: _outcome(_run(self.plugin.update, input)))

    def tick(self, watermark_ms, now_ms):
        return _call(lambda: _batch(_fill(self.plugin.tick, watermark_ms, now_ms)))
