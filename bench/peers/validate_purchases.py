"""Peer of weir's Kafka → purchases-validate → Kafka pipeline: a plain Python
confluent-kafka consumer that `json.loads` each purchase, applies the same
rules (required fields and types, quantity and price positive, discount range,
total = quantity × price × (1 − discount) within a cent, allowed currency,
event time within 5 minutes ahead / 7 days behind the record time, duplicate
event ids within an hour), produces the valid ones unchanged to OUT and the
others to OUT.dlq with a reason header. Idempotent producer, acks=all, zstd:
the settings weir's Kafka sink uses.

    python validate_purchases.py BOOTSTRAP TOPIC OUT COUNT
"""

import json
import sys
import uuid
from datetime import datetime

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

REQUIRED = ("event_id", "timestamp", "customer_id", "product_category", "quantity", "unit_price",
            "total_amount", "currency")
CURRENCIES = {"USD", "EUR", "GBP", "CAD", "JPY"}
MAX_FUTURE_MS = 300_000
MAX_PAST_MS = 604_800_000
RETENTION_MS = 3_600_000


def violations(event, record_ms, seen):
    """The codes of the rules `event` breaks (empty when valid)."""
    if not isinstance(event, dict):
        return ["malformed_json"]
    codes = []
    if any(event.get(f) is None for f in REQUIRED):
        codes.append("missing_field")
    q, p, t = event.get("quantity"), event.get("unit_price"), event.get("total_amount")
    d = event.get("discount_percentage") or 0.0
    numbers_ok = isinstance(q, int) and all(isinstance(x, (int, float)) for x in (p, t, d))
    if not numbers_ok and not codes:
        codes.append("wrong_type")
    if isinstance(q, int) and q <= 0:
        codes.append("quantity_positive")
    if isinstance(p, (int, float)) and p <= 0:
        codes.append("unit_price_positive")
    if isinstance(d, (int, float)) and not 0 <= d < 100:
        codes.append("discount_range")
    if numbers_ok and abs(round(t * 100) - q * round(p * 100) * (1 - d / 100)) > 1:
        codes.append("total_mismatch")
    if event.get("currency") is not None and event["currency"] not in CURRENCIES:
        codes.append("currency_allowed")
    ts = event.get("timestamp")
    if isinstance(ts, str):
        try:
            ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
            if ms - record_ms > MAX_FUTURE_MS or record_ms - ms > MAX_PAST_MS:
                codes.append("timestamp_range")
        except ValueError:
            codes.append("wrong_type")
    event_id = event.get("event_id")
    if isinstance(event_id, str):
        at = seen.get(event_id)
        if at is not None and abs(record_ms - at) <= RETENTION_MS:
            codes.append("duplicate_event_id")
        elif not codes:
            seen[event_id] = record_ms
    return codes


def main() -> None:
    bootstrap, topic, out, count = sys.argv[1:5]
    count = int(count)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 3, 1) for t in (out, out + ".dlq")]).values():
        try:
            f.result()
        except Exception as e:  # an existing topic is fine
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peer-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "compression.type": "zstd", "linger.ms": 5})
    consumer.subscribe([topic])
    seen = {}
    done = 0
    while done < count:
        for m in consumer.consume(1000, 1.0):
            if m.error():
                continue
            done += 1
            record_ms = m.timestamp()[1]
            try:
                codes = violations(json.loads(m.value()), record_ms, seen)
            except ValueError:
                codes = ["malformed_json"]
            while True:
                try:
                    if codes:
                        producer.produce(out + ".dlq", m.value(), m.key(),
                                         headers=[("reason", ",".join(codes))])
                    else:
                        producer.produce(out, m.value(), m.key(), headers=m.headers(), timestamp=record_ms)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
        consumer.commit(asynchronous=True)
    producer.flush()
    consumer.close()


if __name__ == "__main__":
    main()
