"""Pure-CPython tests of purchases-validate-py (no wasm):

    .venv/bin/python -m unittest discover -s plugins/purchases-validate-py/tests -t plugins/purchases-validate-py

The byte-for-byte checks against the Rust plugin are its fixtures
(`weir conformance purchases-validate-py`); these cover the pieces quickly.
"""

import json
import struct
import sys
import unittest
from pathlib import Path

PLUGIN = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PLUGIN.parent / "sdk-py"), str(PLUGIN)]

import app  # noqa: E402
import sjson  # noqa: E402
from config import Config, ConfigError  # noqa: E402
from dedup import MAGIC, MAGIC_V1, Seen, SnapshotError  # noqa: E402
from weir_sdk import Outcome, PluginError, Record  # noqa: E402

AT = 1_795_460_082_123  # 2026-11-23T18:54:42.123Z


def event(**changes):
    e = {
        "event_id": "e-1",
        "timestamp": "2026-11-23T18:54:42.123Z",
        "customer_id": "CUST-000001",
        "product_category": "Books",
        "quantity": 3,
        "unit_price": 9.99,
        "total_amount": 29.97,
        "currency": "USD",
        "discount_percentage": 0,
        "is_new_customer": False,
    }
    for k, v in changes.items():
        if v is ...:
            del e[k]
        else:
            e[k] = v
    return json.dumps(e).encode()


def run(plugin, values, at=AT):
    out = Outcome()
    plugin.process([Record(b"k", v, [], at) for v in values], out)
    out.check(len(values))
    return out


def reasons(out):
    return [(i, Outcome.text(codes, reason)) for i, codes, reason in out.failures]


class Rules(unittest.TestCase):
    def test_a_valid_event_passes_by_index(self):
        p = app.PurchasesValidate()
        out = run(p, [event(), event(event_id="e-2", discount_percentage=10, total_amount=26.97)])
        self.assertEqual(out.passed, [0, 1])
        self.assertEqual(len(out.output), 0, "nothing is re-emitted")
        self.assertEqual(out.failures, [])

    def test_rule_failures_name_codes_and_reasons(self):
        p = app.PurchasesValidate()
        out = run(
            p,
            [
                event(quantity=0, total_amount=0),
                event(event_id="b", currency="BTC"),
                event(event_id="c", total_amount=30),
                event(event_id="d", customer_id=..., currency=None),
                event(event_id="e", quantity="3", is_new_customer="no"),
                event(event_id="f", timestamp="2026-11-25T18:54:42.123Z"),
                b"{oops",
                None,
                b"[1]",
            ],
        )
        self.assertEqual(out.passed, [])
        self.assertEqual(
            reasons(out),
            [
                (0, "quantity_positive: quantity is 0, must be at least 1"),
                (1, 'currency_allowed: currency "BTC" is not one of USD, EUR, GBP, CAD, JPY'),
                (2, "total_mismatch: total_amount 30.00 does not equal 3 × 9.99 = 29.97"),
                (3, "missing_field: required fields customer_id, currency are missing"),
                (
                    4,
                    'wrong_type: quantity is a string ("3"), expected an integer; '
                    'is_new_customer is a string ("no"), expected a boolean',
                ),
                (
                    5,
                    "timestamp_range: timestamp 2026-11-25T18:54:42.123Z is 2d 0h ahead of the "
                    "record time (at most 5m 0s allowed)",
                ),
                (6, "malformed_json: value is not valid JSON: key must be a string at line 1 column 2"),
                (7, "malformed_json: record has no value (a tombstone)"),
                (8, "malformed_json: value is an array, not a JSON object"),
            ],
        )

    def test_several_rules_at_once_sort_by_code(self):
        p = app.PurchasesValidate()
        run(p, [event()])
        out = run(p, [event(quantity=-1, unit_price=-5.0, total_amount=99.99, currency="BTC")])
        codes = out.failures[0][1]
        self.assertEqual(
            codes,
            [
                "currency_allowed",
                "duplicate_event_id",
                "quantity_positive",
                "total_mismatch",
                "unit_price_positive",
            ],
        )
        self.assertIn("total_amount 99.99 does not equal -1 × -5.00 = 5.00", out.failures[0][2])

    def test_duplicates_within_retention_only_valid_ones_remembered(self):
        p = app.PurchasesValidate({"dedup_retention_ms": 60_000})
        out = run(p, [event(currency="BTC"), event(), event()])
        self.assertEqual(out.passed, [1])
        self.assertEqual(out.failures[1][:2], (2, ["duplicate_event_id"]))
        self.assertEqual(run(p, [event()], AT + 60_000).passed, [], "exactly the retention away")
        self.assertEqual(run(p, [event()], AT + 60_000 + 60_001).passed, [0])

    def test_serde_number_and_string_forms(self):
        self.assertEqual(sjson.loads(b'{"a":-0,"b":1e2,"c":18446744073709551615}'), {"a": -0.0, "b": 100.0, "c": 2**64 - 1})
        self.assertEqual(sjson.loads(b"18446744073709551616"), 1.8446744073709552e19)
        for text, message in [
            (b"1e400", "number out of range at line 1 column 5"),
            (b'"\\ud800"', "unexpected end of hex escape at line 1 column 8"),
            (b"NaN", "expected value at line 1 column 1"),
            (b"[" * 128 + b"]" * 128, "recursion limit exceeded at line 1 column 128"),
            (b'{"a":"\xc3"}', "invalid unicode code point at line 1 column 7"),
        ]:
            with self.assertRaises(sjson.JsonError) as e:
                sjson.loads(text)
            self.assertEqual(str(e.exception), message)


class Configs(unittest.TestCase):
    def test_defaults_and_serde_errors(self):
        self.assertEqual(Config.parse("{}"), Config())
        c = Config.parse('{"tolerance_cents":5,"allowed_currencies":["CHF"]}')
        self.assertEqual((c.tolerance_cents, c.allowed_currencies, c.max_past_ms), (5, ["CHF"], 604_800_000))
        for text, message in [
            (
                '{"tolerance":1}',
                "unknown field `tolerance`, expected one of `tolerance_cents`, `allowed_currencies`, "
                "`max_future_ms`, `max_past_ms`, `dedup_retention_ms`, `dedup_max_ids` at line 1 column 12",
            ),
            ('{"max_past_ms":-1}', "invalid value: integer `-1`, expected u64 at line 1 column 17"),
            ('{"dedup_max_ids":4294967296}', "invalid value: integer `4294967296`, expected u32 at line 1 column 27"),
            ('{"tolerance_cents":1.5}', "invalid type: floating point `1.5`, expected u32 at line 1 column 22"),
            ('{"allowed_currencies":"USD"}', 'invalid type: string "USD", expected a sequence at line 1 column 27'),
            ('{"allowed_currencies":[]}', "allowed_currencies is empty, so every event would fail"),
            ('{"max_future_ms":18446744073709551615}', "max_future_ms = 18446744073709551615 is too large"),
        ]:
            with self.assertRaises(ConfigError) as e:
                Config.parse(text)
            self.assertEqual(str(e.exception), "purchases-validate config: " + message)
        with self.assertRaises(PluginError):
            app.PurchasesValidate.from_config('{"tolerance_cent":1}')


class Snapshots(unittest.TestCase):
    def test_round_trip_is_exact_and_continues_the_memory(self):
        ids = [f"id-{i}-é" for i in range(100)]
        first = app.PurchasesValidate()
        run(first, [event(event_id=i) for i in ids[:60]])
        state = first.snapshot()
        self.assertTrue(state.startswith(MAGIC))
        self.assertEqual(struct.unpack_from("<I", state, 8)[0], 60)
        second = app.PurchasesValidate()
        second.restore(state)
        self.assertEqual(second.snapshot(), state)
        out = run(second, [event(event_id=i) for i in ids[40:]])
        self.assertEqual(out.passed, list(range(20, 60)))
        self.assertEqual(len(out.failures), 20)
        with self.assertRaises(PluginError) as e:
            second.restore(b"garbage!")
        self.assertTrue(str(e.exception).startswith("purchases-validate snapshot:"))

    def test_cap_retention_and_repeated_ids_match_the_rust_log(self):
        s = Seen(100, 10)
        for event_id, t in [("b", 0), ("a", 5), ("c", 8), ("a", 10)]:
            s.remember(event_id, t)
        self.assertEqual(struct.unpack_from("<I", s.snapshot(), 8)[0], 4, "the older `a` stays in the log")
        t = Seen(100, 10)
        t.restore(s.snapshot())
        self.assertEqual((len(t), t.time_of("a")), (3, 10))
        self.assertEqual(t.snapshot(), s.snapshot())
        capped = Seen(2**63, 3)
        for i, event_id in enumerate("abcd"):
            capped.remember(event_id, i)
        self.assertEqual(len(capped), 3)
        self.assertFalse(capped.contains("a", 3))
        small = Seen(10_000, 10)
        small.restore(_v2([(1000 + i, f"x{i}") for i in range(50)]))
        self.assertEqual(len(small), 10, "the cap applies to a restored memory")

    def test_restores_version_1_and_refuses_garbage_readably(self):
        v1 = MAGIC_V1 + _v2([(1, "a"), (2, "b")])[8:]
        s = Seen(1_000, 10)
        s.restore(v1)
        self.assertTrue(s.contains("a", 1) and s.contains("b", 2))
        self.assertEqual(s.snapshot(), _v2([(1, "a"), (2, "b")]), "written back as wdedup2")
        good = _v2([(1, "a"), (2, "b")])
        for state, message in [
            (b'{"ids":[]}', "not a duplicate-filter snapshot (bad header)"),
            (good[:-1], "truncated: needs 1 bytes at offset 37 of 37"),
            (good + b"\0", "1 bytes left after 2 event ids"),
            (good[:-1] + b"\xff", "event id #1 is not UTF-8"),
            (MAGIC_V1 + _v2([(1, "a"), (2, "a")])[8:], 'event id "a" appears twice'),
        ]:
            with self.assertRaises(SnapshotError) as e:
                Seen(1_000, 10).restore(state)
            self.assertEqual(str(e.exception), "purchases-validate snapshot: " + message)
        empty = Seen(1_000, 10)
        empty.restore(b"")
        self.assertEqual(empty.snapshot(), MAGIC + b"\0\0\0\0")


def _v2(entries):
    body = b"".join(struct.pack("<qI", t, len(i.encode())) + i.encode() for t, i in entries)
    return MAGIC + struct.pack("<I", len(entries)) + body


if __name__ == "__main__":
    unittest.main()
