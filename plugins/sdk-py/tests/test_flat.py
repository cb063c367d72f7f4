"""The SDK's flat layout and outcome rules, in plain CPython (no component)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weir_sdk import REQUIRED, Batch, Outcome, PluginError, dumps, missing_fields, parse_config  # noqa: E402
from weir_sdk.flat import ABSENT, LayoutError, decode  # noqa: E402


class FlatLayout(unittest.TestCase):
    def test_a_batch_round_trips_every_part(self):
        b = Batch()
        b.push(b"k1", b'{"a":1}', [("trace", b"x"), ("h", "é")], 7)
        b.push(None, None, (), -1)
        b.push("", "v", (), 2**40)
        r = b.records()
        self.assertEqual(len(r), 3)
        self.assertEqual((r[0].key, r[0].value, r[0].timestamp_ms), (b"k1", b'{"a":1}', 7))
        self.assertEqual(r[0].headers, [("trace", b"x"), ("h", "é".encode())])
        self.assertEqual(r[0].header("h"), "é".encode())
        self.assertIsNone(r[0].header("nope"))
        self.assertEqual(r[0].json(), {"a": 1})
        self.assertEqual((r[1].key, r[1].value, r[1].timestamp_ms), (None, None, -1))
        self.assertEqual(b.keys[2:4], [0, ABSENT])
        self.assertEqual((r[2].key, r[2].value), (b"", b"v"))
        with self.assertRaises(ValueError):
            r[1].json()

    def test_spans_outside_the_bytes_are_refused(self):
        with self.assertRaises(LayoutError):
            decode(b"ab", [0, 5], [0, ABSENT], [0], [], [0])
        with self.assertRaises(LayoutError):
            decode(b"ab", [0, 1], [0, 1], [0], [], [0, 1])

    def test_an_outcome_keeps_the_contract(self):
        o = Outcome()
        o.pass_(0)
        o.emit(1, b"k", b"v")
        o.fail(2, "missing_field", "required field a is missing")
        o.reject(3, ["a", "b"], "two rules")
        o.check(4)
        self.assertEqual(o.passed, [0])
        self.assertEqual(o.origins, [1])
        self.assertEqual(Outcome.text(*o.failures[1][1:]), "a,b: two rules")
        with self.assertRaises(LayoutError):
            o.check(3)
        bad = Outcome()
        bad.pass_(2)
        bad.pass_(1)
        with self.assertRaises(LayoutError):
            bad.check(3)

    def test_helpers_word_things_as_the_rust_sdk(self):
        self.assertEqual(dumps({"b": "é", "a": [1, 2]}), '{"b":"é","a":[1,2]}'.encode())
        self.assertEqual(missing_fields(["a"]), "required field a is missing")
        self.assertEqual(missing_fields(["a", "b"]), "required fields a, b are missing")


class Config(unittest.TestCase):
    def test_defaults_fill_in_and_mistakes_are_named(self):
        self.assertEqual(parse_config("p", {}, {"field": "name"}), {"field": "name"})
        self.assertEqual(parse_config("p", {"field": "x"}, {"field": "name"}), {"field": "x"})
        cases = [
            ({"fied": 1}, {"field": "name"}, "p config: unknown field `fied`, expected `field`"),
            ({"a": 1}, {"b": 1, "c": 2, "d": 3}, "p config: unknown field `a`, expected one of `b`, `c`, `d`"),
            ({"field": 1}, {"field": "name"}, "p config: invalid type for `field`: a number, expected a string"),
            ({}, {"field": REQUIRED}, "p config: missing field `field`"),
            ({"x": 1}, {}, "p config: unknown field `x`, there are no fields"),
        ]
        for config, defaults, message in cases:
            with self.assertRaises(PluginError) as e:
                parse_config("p", config, defaults)
            self.assertEqual(str(e.exception), message)


if __name__ == "__main__":
    unittest.main()
