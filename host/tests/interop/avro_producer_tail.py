"""Interop, the other direction: Python's confluent-kafka `AvroSerializer`
registers schemas/user_event.v1.avsc in weir's embedded registry (`weir
broker`) and produces 50 UserEvents; `weir tail --from-beginning --max 50`
decodes them through the registry and must print the same values."""

import json
import pathlib
import subprocess
import sys
import uuid
from datetime import datetime, timezone

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from weir_broker import weir_broker

WEIR = sys.argv[1]
ROOT = pathlib.Path(__file__).resolve().parents[3]
TOPIC = "customer_events_py"
N = 50






def event(i: int) -> dict:
    at = 1_795_460_082_000 + i * 1000
    kind = ["content_play", "search", "browse"][i % 3]
    return {
        "event_id": str(uuid.UUID(int=i + 1, version=4)),
        "event_type": kind,
        "event_timestamp": at,
        "user_id": f"user-{i % 7:06}",
        "session_id": f"sess-{i}",
        "device": {"device_type": "smart_tv", "os": "webOS 24", "model": None,
                   "app_version": "7.1.0", "ip_address": "203.0.113.9"},
        "location": {"country": "DE", "region": "Berlin", "city": "Berlin",
                     "timezone": "Europe/Berlin", "latitude": 52.52, "longitude": 13.4},
        "content": None if kind != "content_play" else {
            "content_id": "s-2002", "title": "Orbital", "content_type": "series",
            "genres": ["sci-fi"], "season": 2, "episode": i % 10 + 1,
            "duration_seconds": 3060, "release_year": 2024, "maturity_rating": "PG-13"},
        "subscription": {"plan": "premium", "status": "active", "started_at": at - 86_400_000,
                         "renewal_date": 20_800, "auto_renew": True,
                         "monthly_price_cents": 2299, "currency": "EUR"},
        "details": {"playback_position_seconds": i * 10 if kind == "content_play" else None,
                    "quality": "UHD" if kind == "content_play" else None,
                    "bitrate_kbps": 16000 if kind == "content_play" else None,
                    "buffering_events": 0 if kind == "content_play" else None,
                    "buffering_ms": 0 if kind == "content_play" else None,
                    "search_query": "orbital" if kind == "search" else None,
                    "results_count": 3 if kind == "search" else None,
                    "page": "home" if kind == "browse" else None, "referrer": None},
        "actions": [{"action": "play", "at": at - 5000, "position_seconds": 0, "value": None}]
        if kind == "content_play" else [],
        "recommendations": [{"content_id": "m-1002", "title": "Neon Drift", "score": 0.875,
                             "rank": 1, "algorithm": "trending", "clicked": False}],
        "search_history": [{"query": "orbital", "searched_at": at - 60_000, "results_count": 3,
                            "clicked_content_id": None}] if kind == "search" else [],
    }


def main() -> None:
    with weir_broker(WEIR) as (bootstrap, url):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result()
        schema = (ROOT / "schemas/user_event.v1.avsc").read_text()
        serialize = AvroSerializer(SchemaRegistryClient({"url": url}), schema)
        producer = Producer({"bootstrap.servers": bootstrap})
        sent = [event(i) for i in range(N)]
        for e in sent:
            producer.produce(TOPIC, key=e["user_id"].encode(),
                             value=serialize(e, SerializationContext(TOPIC, MessageField.VALUE)))
        assert producer.flush(10) == 0
        out = subprocess.run([WEIR, "tail", TOPIC, "--bootstrap-servers", bootstrap,
                              "--schema-registry-url", url, "--from-beginning",
                              "--max", str(N), "--idle", "20"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            sys.exit(f"weir tail failed:\n{out.stderr}")
        lines = [json.loads(l) for l in out.stdout.splitlines()]
        assert len(lines) == N, f"{len(lines)} lines"
        for got, want in zip(lines, sent):
            assert got["key"] == want["user_id"], (got["key"], want["user_id"])
            assert got["value"] == want, (got["value"], want)
        print(f"avro producer -> weir tail interop ok: {N} UserEvents decoded equal")


if __name__ == "__main__":
    main()
