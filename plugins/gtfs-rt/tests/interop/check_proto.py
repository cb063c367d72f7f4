#!/usr/bin/env python3
"""Checks schemas/gtfs-realtime.proto against the official GTFS-realtime schema.

The official side is the descriptor compiled into Python's `gtfs-realtime-bindings`
(`google.transit.gtfs_realtime_pb2.DESCRIPTOR`); our side is the descriptor set
that `protox` compiles from our file in plugins/gtfs-rt/build.rs, written out by
`cargo run -p gtfs-rt --example descriptor_set`. Every message, field and enum
of the official schema must exist in ours with the same name, number, type,
label, type name, default and deprecation; enums must have the same values.
Ours may have more (a newer spec than the bindings): those are listed.

Usage (from the workspace root, CARGO_TARGET_DIR set):
    .venv/bin/python plugins/gtfs-rt/tests/interop/check_proto.py [OURS.fds]
Without an argument it runs the cargo example itself.
"""

import subprocess
import sys

from google.protobuf import descriptor_pb2
from google.transit import gtfs_realtime_pb2

FIELD_ATTRS = ("name", "number", "label", "type", "type_name", "default_value", "extendee", "oneof_index")


def load_ours(argv):
    if len(argv) > 1:
        with open(argv[1], "rb") as f:
            data = f.read()
    else:
        data = subprocess.run(
            ["cargo", "run", "-q", "-p", "gtfs-rt", "--example", "descriptor_set"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    files = [f for f in fds.file if f.package == "transit_realtime"]
    if len(files) != 1:
        sys.exit(f"expected one transit_realtime file in our descriptor set, got {len(files)}")
    return files[0]


def walk(prefix, messages, enums, out_msgs, out_enums):
    for e in enums:
        out_enums[f"{prefix}.{e.name}"] = e
    for m in messages:
        name = f"{prefix}.{m.name}"
        out_msgs[name] = m
        walk(name, m.nested_type, m.enum_type, out_msgs, out_enums)


def index(fdp):
    msgs, enums = {}, {}
    walk("." + fdp.package, fdp.message_type, fdp.enum_type, msgs, enums)
    return msgs, enums


def main(argv):
    official = descriptor_pb2.FileDescriptorProto()
    gtfs_realtime_pb2.DESCRIPTOR.CopyToProto(official)
    ours = load_ours(argv)
    problems, checks = [], 0

    for attr in ("package", "syntax"):
        checks += 1
        if getattr(official, attr) != getattr(ours, attr):
            problems.append(f"file {attr}: official {getattr(official, attr)!r}, ours {getattr(ours, attr)!r}")

    off_msgs, off_enums = index(official)
    our_msgs, our_enums = index(ours)

    for name, om in off_msgs.items():
        checks += 1
        m = our_msgs.get(name)
        if m is None:
            problems.append(f"message {name}: missing")
            continue
        our_fields = {f.number: f for f in m.field}
        for of in om.field:
            checks += 1
            f = our_fields.get(of.number)
            if f is None:
                problems.append(f"{name}: field {of.name} = {of.number} missing")
                continue
            for attr in FIELD_ATTRS:
                if getattr(of, attr) != getattr(f, attr):
                    problems.append(
                        f"{name}.{of.name} ({of.number}): {attr} official {getattr(of, attr)!r}, ours {getattr(f, attr)!r}"
                    )
            if of.options.deprecated != f.options.deprecated:
                problems.append(f"{name}.{of.name}: deprecated official {of.options.deprecated}, ours {f.options.deprecated}")
        extra = sorted(set(our_fields) - {f.number for f in om.field})
        if extra:
            print(f"note: {name} has fields newer than the bindings: " + ", ".join(f"{our_fields[n].name} = {n}" for n in extra))
        checks += 1
        off_ranges = [(r.start, r.end) for r in om.extension_range]
        our_ranges = [(r.start, r.end) for r in m.extension_range]
        if off_ranges != our_ranges:
            problems.append(f"{name}: extension ranges official {off_ranges}, ours {our_ranges}")

    for name, oe in off_enums.items():
        checks += 1
        e = our_enums.get(name)
        if e is None:
            problems.append(f"enum {name}: missing")
            continue
        ours_values = {v.name: v.number for v in e.value}
        for v in oe.value:
            checks += 1
            if ours_values.get(v.name) != v.number:
                problems.append(f"enum {name}.{v.name}: official {v.number}, ours {ours_values.get(v.name)}")
        extra = sorted(set(ours_values) - {v.name for v in oe.value})
        if extra:
            print(f"note: enum {name} has values newer than the bindings: {', '.join(extra)}")

    for name in sorted(set(our_msgs) - set(off_msgs)):
        print(f"note: message {name} is newer than the bindings")
    for name in sorted(set(our_enums) - set(off_enums)):
        print(f"note: enum {name} is newer than the bindings")

    for p in problems:
        print(f"MISMATCH {p}")
    print(f"check_proto: {len(off_msgs)} messages, {len(off_enums)} enums compared")
    print(f"{checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
