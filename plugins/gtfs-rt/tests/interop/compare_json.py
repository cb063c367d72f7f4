#!/usr/bin/env python3
"""Compares the gtfs-rt plugin's blessed JSON with Python's protobuf JSON mapping.

For every fixture case, each input feed is parsed with `gtfs-realtime-bindings`
and every record of expected/output.jsonl is checked field by field against
`json_format.MessageToDict` of the same bytes: `value.header` against the
FeedHeader, `value.entity` against the FeedEntity (with
`preserving_proto_field_name=True` when the case sets field_names = "proto"),
the key against vehicle.vehicle.id / the entity id, and the set of emitted
entities against the entities Python sees as valid. Inputs in expected/dlq.jsonl
must be rejected by Python too (a parse error or missing required fields).

    .venv/bin/python plugins/gtfs-rt/tests/interop/compare_json.py
"""

import json
import pathlib
import sys
import tomllib

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
PAYLOADS = ("trip_update", "vehicle", "alert", "shape", "stop", "trip_modifications")


def diff(path, want, got, out):
    """Appends one line per difference between two JSON values."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                out.append(f"{path}.{k}: missing, want {want[k]!r}")
            elif k not in want:
                out.append(f"{path}.{k}: unexpected {got[k]!r}")
            else:
                diff(f"{path}.{k}", want[k], got[k], out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            out.append(f"{path}: {len(got)} items, want {len(want)}")
        for i, (w, g) in enumerate(zip(want, got)):
            diff(f"{path}[{i}]", w, g, out)
    elif type(want) is not type(got) or want != got:
        out.append(f"{path}: got {got!r} ({type(got).__name__}), want {want!r} ({type(want).__name__})")


def valid(entity):
    if not entity.HasField("id") or not entity.id:
        return False
    return entity.is_deleted or any(entity.HasField(p) for p in PAYLOADS)


def key_of(entity):
    if entity.HasField("vehicle") and entity.vehicle.vehicle.id:
        return entity.vehicle.vehicle.id
    return entity.id


def parse(data):
    msg = rt.FeedMessage()
    msg.MergeFromString(data)  # partial: entities missing required fields are judged one by one
    return msg


def check_case(case, problems):
    lines = [json.loads(l) for l in (case / "input.jsonl").read_text().splitlines() if l.strip()]
    config = tomllib.loads((case / "case.toml").read_text()).get("config", {})
    proto_names = config.get("field_names") == "proto"
    outputs = [json.loads(l) for l in (case / "expected/output.jsonl").read_text().splitlines() if l.strip()]
    dlq = [json.loads(l) for l in (case / "expected/dlq.jsonl").read_text().splitlines() if l.strip()]
    failed = {d["index"] for d in dlq}
    skip_stale = config.get("skip_stale", True)
    last = {}
    checked = 0
    for index, line in enumerate(lines):
        where = f"{case.name} input {index}"
        data = (case / line["value_file"]).read_bytes() if "value_file" in line else None
        got = [o for o in outputs if o["origin"] == index]
        if index in failed:
            try:
                if data is None:
                    raise DecodeError("tombstone")
                msg = parse(data)
                if msg.header.IsInitialized() and msg.HasField("header"):
                    problems.append(f"{where}: the plugin rejected it but Python parses it")
            except DecodeError:
                pass
            if got:
                problems.append(f"{where}: rejected and emitted")
            checked += 1
            continue
        msg = parse(data)
        header = json_format.MessageToDict(msg.header, preserving_proto_field_name=proto_names)
        want = [e for e in msg.entity if valid(e)]
        # A feed whose header timestamp has not advanced for its URL is dropped.
        source = line.get("headers", {}).get("weir.http.url", line.get("key") or "")
        if skip_stale and msg.header.HasField("timestamp"):
            if source in last and msg.header.timestamp <= last[source]:
                want = []
            else:
                last[source] = msg.header.timestamp
        if len(want) != len(got):
            problems.append(f"{where}: {len(got)} records, Python sees {len(want)} valid entities")
        for n, (entity, record) in enumerate(zip(want, got)):
            out = []
            diff("value.header", header, record["value"]["header"], out)
            ent = json_format.MessageToDict(entity, preserving_proto_field_name=proto_names)
            diff("value.entity", ent, record["value"]["entity"], out)
            if set(record["value"]) != {"header", "entity"}:
                out.append(f"value: keys {sorted(record['value'])}")
            if record["key"] != key_of(entity):
                out.append(f"key: got {record['key']!r}, want {key_of(entity)!r}")
            problems += [f"{where} record {n}: {o}" for o in out]
            checked += 1
    return checked


def main():
    problems, checked, cases = [], 0, 0
    for case in sorted(FIXTURES.iterdir()):
        if not (case / "input.jsonl").exists():
            continue
        cases += 1
        checked += check_case(case, problems)
    for p in problems:
        print(f"MISMATCH {p}")
    print(f"compare_json: {cases} cases, {checked} records/rejections compared with MessageToDict")
    print(f"{checked - len(problems) if len(problems) <= checked else 0} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
