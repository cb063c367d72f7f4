"""Interop: every Parquet column type, written by weir and read by pyarrow.

`weir broker` in one process; Python confluent-kafka produces JSON records to
a topic (good ones, and ones that do not fit: a decimal with too many places,
a date that does not exist, a timestamp finer than a millisecond, an int32 out
of range, a missing non-nullable field); `weir run` reads the topic into a
Parquet sink partitioned by a date column and exits at the end. pyarrow must
read the declared Arrow types (decimal128(12, 2), date32, timestamp[ms] in
+01:00, int32, int64, float64, bool, string) and exactly the values sent, and
every misfit must be in the DLQ with the column named in its reason."""

import datetime as dt
import decimal
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid

import pyarrow.dataset as ds
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from weir_broker import weir_broker

WEIR = sys.argv[1]
ROOT = pathlib.Path(__file__).resolve().parents[3]
TOPIC = "typed"

CONNECTOR = """
name = "typed"
[source.kafka]
topic = "typed"
group_id = "typed-parquet"
[sink.parquet]
path = "{out}"
partition_by = ["day"]
columns = [
  {{ name = "id", type = "int64", nullable = false }},
  {{ name = "day", type = "date32", nullable = false }},
  {{ name = "amount", type = "decimal128", precision = 12, scale = 2, nullable = false }},
  {{ name = "at", type = "timestamp_ms", timezone = "+01:00" }},
  {{ name = "born", type = "date32" }},
  {{ name = "qty", type = "int32" }},
  {{ name = "ratio", type = "float64" }},
  {{ name = "ok", type = "boolean" }},
  {{ name = "note", type = "string" }},
  {{ name = "location", type = "struct", fields = [
      {{ name = "city", type = "string", nullable = false }},
      {{ name = "zip", type = "int32" }},
  ] }},
  {{ name = "tags", type = "list", items = {{ type = "string" }} }},
  {{ name = "lines", type = "list", items = {{ type = "struct", fields = [
      {{ name = "sku", type = "string", nullable = false }},
      {{ name = "qty", type = "int32", nullable = false }},
  ] }} }},
]
[kafka]
bootstrap_servers = "{bootstrap}"
"""

GOOD = [
    {"id": 1, "day": "2026-12-07", "amount": "1234567890.12", "at": "2026-12-07T10:00:00.250+01:00",
     "born": "1969-07-20", "qty": 2147483647, "ratio": 0.5, "ok": True, "note": "é/ü \"q\"",
     "location": {"city": "Lyon", "zip": 69001, "extra": 1}, "tags": ["a", None, "c"],
     "lines": [{"sku": "x-1", "qty": 2}, {"sku": "y", "qty": 1}]},
    {"id": 2, "day": "2026-12-07", "amount": 12.34, "at": 1_765_098_000_000, "born": 0,
     "qty": -5, "ratio": 1, "ok": False, "note": None, "extra": {"ignored": [1, 2]}},
    {"id": 3, "day": 20_429, "amount": -0.5, "at": None, "qty": None, "location": None,
     "tags": [], "lines": None},
    {"id": 4, "day": "2026-12-08", "amount": "1.5e3", "note": ""},
]
BAD = {
    5: ({"id": 5, "day": "2026-12-07", "amount": "0.125"}, "column `amount`"),
    6: ({"id": 6, "day": "2026-02-30", "amount": 1}, "column `day`"),
    7: ({"id": 7, "day": "2026-12-07", "amount": 1, "at": "2026-12-07T10:00:00.0001Z"}, "column `at`"),
    8: ({"id": 8, "day": "2026-12-07", "amount": 1, "qty": 2147483648}, "column `qty`"),
    9: ({"id": 9, "day": "2026-12-07"}, "column `amount`"),
    10: ({"id": 10, "day": "2026-12-07", "amount": 1, "ok": "yes"}, "column `ok`"),
    11: ({"id": 11, "day": "2026-12-07", "amount": 1, "location": {"zip": 1}},
         "column `location`: expected struct, got {\"zip\":1}: field `city`: missing or null, but it is not nullable"),
    12: ({"id": 12, "day": "2026-12-07", "amount": 1, "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "x"}]},
         "column `lines`: expected list<struct>"),
    13: ({"id": 13, "day": "2026-12-07", "amount": 1, "tags": "a,b"}, "column `tags`: expected list<string>, got \"a,b\""),
}


def produce(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(TOPIC, 1, 1)]).values():
        f.result(timeout=30)
    p = Producer({"bootstrap.servers": bootstrap})
    records = GOOD + [v for v, _ in BAD.values()]
    for r in records:
        p.produce(TOPIC, key=str(r["id"]).encode(), value=json.dumps(r).encode())
    assert p.flush(30) == 0, "records left unsent"


def dead_letters(bootstrap: str) -> dict:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["typed.dlq"])
    out, last = {}, time.time()
    while time.time() - last < 3:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(m.error())
        headers = {k: v.decode() for k, v in (m.headers() or [])}
        out[json.loads(m.value())["id"]] = headers["weir.dlq.reason"]
        last = time.time()
    c.close()
    return out


def check(out: str, bootstrap: str) -> None:
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    types = {f.name: str(f.type) for f in table.schema}
    expected_types = {
        "id": "int64", "amount": "decimal128(12, 2)", "at": "timestamp[ms, tz=+01:00]",
        "born": "date32[day]", "qty": "int32", "ratio": "double", "ok": "bool", "note": "string",
        "location": "struct<city: string not null, zip: int32>", "tags": "list<item: string>",
        "lines": "list<item: struct<sku: string not null, qty: int32 not null>>",
    }
    for name, t in expected_types.items():
        assert types[name] == t, (name, types[name], t)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert sorted(rows) == [1, 2, 3, 4], sorted(rows)
    d = decimal.Decimal
    utc = dt.timezone.utc
    assert rows[1]["amount"] == d("1234567890.12")
    assert rows[2]["amount"] == d("12.34")
    assert rows[3]["amount"] == d("-0.50")
    assert rows[4]["amount"] == d("1500.00")
    assert rows[1]["at"] == dt.datetime(2026, 12, 7, 9, 0, 0, 250_000, tzinfo=utc), rows[1]["at"]
    assert rows[2]["at"] == dt.datetime.fromtimestamp(1_765_098_000, utc), rows[2]["at"]
    assert rows[1]["at"].utcoffset() == dt.timedelta(hours=1), "shown in the column's zone"
    assert rows[3]["at"] is None and rows[4]["at"] is None
    assert rows[1]["born"] == dt.date(1969, 7, 20) and rows[2]["born"] == dt.date(1970, 1, 1)
    assert rows[1]["qty"] == 2147483647 and rows[2]["qty"] == -5 and rows[3]["qty"] is None
    assert rows[2]["ratio"] == 1.0 and rows[1]["ok"] is True and rows[2]["ok"] is False
    assert rows[1]["note"] == 'é/ü "q"' and rows[2]["note"] is None and rows[4]["note"] == ""
    assert rows[1]["location"] == {"city": "Lyon", "zip": 69001}, rows[1]["location"]
    assert rows[1]["tags"] == ["a", None, "c"] and rows[3]["tags"] == [] and rows[2]["tags"] is None
    assert rows[1]["lines"] == [{"sku": "x-1", "qty": 2}, {"sku": "y", "qty": 1}], rows[1]["lines"]
    assert rows[2]["location"] is None and rows[3]["location"] is None and rows[3]["lines"] is None
    days = sorted(p.name for p in pathlib.Path(out).iterdir() if p.name.startswith("day="))
    # The folder holds the value as sent: a date string, or days since 1970.
    assert days == ["day=2026-12-07", "day=2026-12-08", "day=20429"], days
    dlq = dead_letters(bootstrap)
    assert sorted(dlq) == sorted(BAD), (sorted(dlq), dlq)
    for id_, (_, column) in BAD.items():
        assert column in dlq[id_], (id_, dlq[id_])
    print(f"parquet types: {len(rows)} rows read back by pyarrow with their declared types; "
          f"{len(dlq)} misfits in the DLQ, each naming its column")
    for id_ in sorted(dlq):
        print(f"  {id_}: {dlq[id_]}")


def main() -> None:
    with weir_broker(WEIR) as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
        produce(bootstrap)
        connector = pathlib.Path(tmp) / "typed.toml"
        out = f"{tmp}/out"
        connector.write_text(CONNECTOR.format(out=out, bootstrap=bootstrap))
        p = subprocess.run([WEIR, "run", str(connector), "--exit-at-end",
                            "--state-dir", f"{tmp}/state"],
                           env=dict(os.environ, WEIR_LOG="info"), cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            sys.exit(f"weir run failed:\n{p.stderr}")
        check(out, bootstrap)


if __name__ == "__main__":
    main()
