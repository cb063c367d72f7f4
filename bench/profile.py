#!/usr/bin/env python3
"""Profiles Kafka → validate (WASM) → Kafka with `perf record`: where the CPU of
the validating host goes, by shared object (the weir binary, the JIT-compiled
plugin, libc, the kernel) and by symbol. The plugin's frames are named through
wasmtime's perf map (`WEIR_PERFMAP=1`).

    python bench/profile.py WEIR [RECORDS]

Prints `perf report --sort dso` and the top symbols; the data stays in
`perf.data` under a temporary folder printed at the end. Needs `perf` (Debian's
linux-perf) and a kernel that lets it sample (perf_event_paranoid ≤ 1 or root).
"""

import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host/tests/interop"))
from weir_broker import weir_broker  # noqa: E402

WEIR = sys.argv[1]
RECORDS = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000

VALIDATE = """
name = "profile"
[source.kafka]
topic = "profile-in"
group_id = "profile"
batch_size = 1000
batch_timeout_ms = 100
[[transform]]
plugin = "purchases-validate"
[sink.kafka]
topic = "profile-valid"
partitions = 3
"""


def env(bootstrap, registry, state, **extra):
    e = dict(os.environ, WEIR_BOOTSTRAP_SERVERS=bootstrap, WEIR_SCHEMA_REGISTRY_URL=registry,
             WEIR_STATE_DIR=state, WEIR_LOG="warn")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="weir-profile-"))
    data = tmp / "perf.data"
    with weir_broker(WEIR) as (bootstrap, registry):
        subprocess.run([WEIR, "run", "connectors/purchases-gen.toml", "--max-records", str(RECORDS)], cwd=ROOT,
                       env=env(bootstrap, registry, str(tmp / "fill"), EVENTS_PER_SEC=0, KAFKA_TOPIC="profile-in"),
                       check=True, stdout=subprocess.DEVNULL)
        toml = tmp / "validate.toml"
        toml.write_text(VALIDATE)
        subprocess.run(["perf", "record", "-F", "999", "-o", str(data), "--", WEIR, "run", str(toml),
                        "--exit-at-end", "--plugin-dir", str(ROOT / "target/plugins")], cwd=ROOT,
                       env=env(bootstrap, registry, str(tmp / "state"), WEIR_PERFMAP=1),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for sort in ("dso", "dso,sym"):
        report = subprocess.run(["perf", "report", "-i", str(data), "--sort", sort, "--stdio", "--percent-limit",
                                 "0.7" if sort == "dso,sym" else "0.5"],
                                capture_output=True, text=True, check=True).stdout
        print("\n".join(line for line in report.splitlines() if line and not line.startswith("#")))
        print()
    print(f"perf data: {data}")


if __name__ == "__main__":
    main()
