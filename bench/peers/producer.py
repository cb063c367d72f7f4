"""What every producing peer shares: the topic created first (as weir does; the
embedded broker does not create topics on produce) and a producer with weir's
settings (idempotent, acks=all, zstd, linger 5 ms) that waits when its queue is
full."""

import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


class PeerProducer:
    def __init__(self, bootstrap: str, topic: str, partitions: int):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            f.result()
        self.topic = topic
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                           "compression.type": "zstd", "linger.ms": 5})

    def send(self, value: bytes, key: bytes | None = None) -> None:
        while True:
            try:
                self.p.produce(self.topic, value, key=key)
                break
            except BufferError:
                self.p.poll(0.05)
        self.p.poll(0)

    def finish(self) -> None:
        left = self.p.flush(60)
        if left:
            sys.exit(f"{left} records not delivered")
