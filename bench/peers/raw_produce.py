"""Peer of weir's Kafka sink: COUNT records of SIZE bytes produced with Python
confluent-kafka with weir's producer settings (idempotent, acks=all, zstd,
linger 5 ms).

    python raw_produce.py BOOTSTRAP TOPIC SIZE COUNT
"""

import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def main() -> None:
    bootstrap, topic, size, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    payload = b"x" * size
    # Like weir, create the topic first (the embedded broker does not on produce).
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics(
            [NewTopic(topic, 1, 1)]).values():
        f.result()
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "compression.type": "zstd", "linger.ms": 5})
    for _ in range(count):
        while True:
            try:
                p.produce(topic, payload)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    if p.flush(60):
        sys.exit("not every record was delivered")


if __name__ == "__main__":
    main()
