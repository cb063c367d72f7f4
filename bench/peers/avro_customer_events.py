"""Peer of weir's customer-events connector: what the original media-streaming
producer did — user events made with Faker, serialised with confluent-kafka's
AvroSerializer against the schema registry (Confluent framing, schema
registered as <topic>-value) and produced keyed by user id.

    python avro_customer_events.py BOOTSTRAP REGISTRY_URL TOPIC COUNT SCHEMA.avsc
"""

import random
import sys
import time
import uuid

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from faker import Faker
from producer import PeerProducer

DEVICES = ["smart_tv", "mobile", "tablet", "desktop", "console", "streaming_stick"]
OSES = ["Android 14", "iOS 17", "tvOS 17", "Windows 11", "macOS 14", "Tizen 7"]
TYPES = ["movie", "series", "documentary", "live", "short"]
GENRES = ["drama", "comedy", "thriller", "documentary", "kids", "sci-fi", "romance"]
PLANS = [("free", 0), ("basic", 799), ("standard", 1299), ("premium", 1799), ("family", 2299)]
ACTIONS = ["play", "pause", "resume", "seek", "stop", "skip_intro", "next_episode", "rate"]
QUALITIES = ["SD", "HD", "FHD", "UHD"]


def event(fake: Faker, users: int) -> dict:
    now = int(time.time() * 1000)
    kind = random.choices(["content_play", "search", "browse"], [0.6, 0.2, 0.2])[0]
    plan, price = random.choice(PLANS)
    content = None
    if kind != "search" or random.random() < 0.5:
        series = random.random() < 0.4
        content = {
            "content_id": f"c{random.randint(1, 20000)}", "title": fake.catch_phrase(),
            "content_type": "series" if series else random.choice(TYPES),
            "genres": random.sample(GENRES, random.randint(1, 3)),
            "season": random.randint(1, 8) if series else None,
            "episode": random.randint(1, 12) if series else None,
            "duration_seconds": random.randint(300, 9000), "release_year": random.randint(1970, 2025),
            "maturity_rating": random.choice(["G", "PG", "PG-13", "R", None]),
        }
    return {
        "event_id": str(uuid.uuid4()), "event_type": kind, "event_timestamp": now,
        "user_id": f"u{random.randint(1, users)}", "session_id": str(uuid.uuid4()),
        "device": {"device_type": random.choice(DEVICES), "os": random.choice(OSES),
                   "model": fake.word() if random.random() < 0.7 else None, "app_version": fake.numerify("#.##.#"),
                   "ip_address": fake.ipv4()},
        "location": {"country": fake.country_code(), "region": fake.state(), "city": fake.city(),
                     "timezone": fake.timezone(), "latitude": float(fake.latitude()),
                     "longitude": float(fake.longitude())},
        "content": content,
        "subscription": {"plan": plan, "status": "active", "started_at": now - random.randint(0, 10**10),
                         "renewal_date": None, "auto_renew": True, "monthly_price_cents": price, "currency": "USD"},
        "details": {"playback_position_seconds": random.randint(0, 5000) if kind == "content_play" else None,
                    "quality": random.choice(QUALITIES) if kind == "content_play" else None,
                    "bitrate_kbps": random.randint(800, 16000) if kind == "content_play" else None,
                    "buffering_events": random.randint(0, 4) if kind == "content_play" else None,
                    "buffering_ms": random.randint(0, 5000) if kind == "content_play" else None,
                    "search_query": " ".join(fake.words(2)) if kind == "search" else None,
                    "results_count": random.randint(0, 200) if kind == "search" else None,
                    "page": random.choice(["home", "movies", "series", "kids"]) if kind == "browse" else None,
                    "referrer": None},
        "actions": [{"action": random.choice(ACTIONS), "at": now - random.randint(0, 60000),
                     "position_seconds": random.randint(0, 5000), "value": None}
                    for _ in range(random.randint(0, 4))],
        "recommendations": [{"content_id": f"c{random.randint(1, 20000)}", "title": fake.catch_phrase(),
                             "score": random.random(), "rank": r + 1, "algorithm": "collaborative",
                             "clicked": random.random() < 0.1} for r in range(random.randint(0, 5))],
        "search_history": [],
    }


def main() -> None:
    bootstrap, registry, topic, count, schema_path = sys.argv[1:6]
    fake = Faker()
    serializer = AvroSerializer(SchemaRegistryClient({"url": registry}), open(schema_path).read())
    producer = PeerProducer(bootstrap, topic, 3)
    ctx = SerializationContext(topic, MessageField.VALUE)
    for _ in range(int(count)):
        e = event(fake, 5000)
        producer.send(serializer(e, ctx), key=e["user_id"].encode())
    producer.finish()


if __name__ == "__main__":
    main()
