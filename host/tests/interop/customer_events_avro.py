"""Interop: `weir broker` (Kafka + schema registry) in one process, `weir run
connectors/customer-events.toml --max-records 5000` in another, then Python's
confluent-kafka reads the topic with its own `AvroDeserializer`, which fetches
the writer schema from the registry by the id in each record's Confluent
framing: every event decodes, keyed by user_id, with the UserEvent shape."""

import os
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from weir_broker import weir_broker

WEIR = sys.argv[1]
N = 5_000






def main() -> None:
    with weir_broker(WEIR) as (bootstrap, url):
        state = f"/tmp/weir-interop-{uuid.uuid4()}"
        run = subprocess.run(
            [WEIR, "run", "connectors/customer-events.toml", "--bootstrap-servers", bootstrap,
             "--schema-registry-url", url, "--max-records", str(N), "--state-dir", state],
            env=dict(os.environ, EVENTS_PER_SEC="0"), capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            sys.exit(f"weir run failed:\n{run.stderr}")
        check(bootstrap, url)


def check(bootstrap: str, url: str) -> None:
    sr = SchemaRegistryClient({"url": url})
    latest = sr.get_latest_version("customer_events-value")
    assert latest.version == 1, latest.version
    deserialize = AvroDeserializer(sr)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"interop-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["customer_events"])
    seen, kinds, last = 0, {}, time.time()
    while seen < N and time.time() - last < 10:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(m.error())
        last = time.time()
        raw = m.value()
        assert raw[0] == 0 and int.from_bytes(raw[1:5], "big") == latest.schema_id, raw[:5]
        e = deserialize(raw, SerializationContext("customer_events", MessageField.VALUE))
        assert m.key().decode() == e["user_id"], (m.key(), e["user_id"])
        assert e["event_type"] in ("content_play", "search", "browse"), e["event_type"]
        assert e["device"]["device_type"] and e["location"]["timezone"], e
        if e["event_type"] == "content_play":
            assert e["content"]["title"] and e["actions"][0]["action"] == "play", e
            assert e["details"]["quality"] in ("SD", "HD", "FHD", "UHD"), e["details"]
        elif e["event_type"] == "search":
            assert e["details"]["search_query"], e["details"]
        # timestamp-millis comes back as an aware datetime
        assert e["event_timestamp"].tzinfo is not None, e["event_timestamp"]
        kinds[e["event_type"]] = kinds.get(e["event_type"], 0) + 1
        seen += 1
    consumer.close()
    assert seen == N, f"read {seen} of {N}"
    assert len(kinds) == 3, kinds
    print(f"customer-events avro interop ok: {seen} events, schema id {latest.schema_id}, {kinds}")


if __name__ == "__main__":
    main()
