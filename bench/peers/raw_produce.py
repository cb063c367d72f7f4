"""Peer of weir's Kafka sink: COUNT records of SIZE bytes produced with Python
confluent-kafka with weir's producer settings (idempotent, acks=all, zstd,
linger 5 ms).

    python raw_produce.py BOOTSTRAP TOPIC SIZE COUNT
"""

import sys

from producer import PeerProducer


def main() -> None:
    bootstrap, topic, size, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    payload = b"x" * size
    p = PeerProducer(bootstrap, topic, 1)
    for _ in range(count):
        p.send(payload)
    p.finish()


if __name__ == "__main__":
    main()
