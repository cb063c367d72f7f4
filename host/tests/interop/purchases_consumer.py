"""Interop: `weir broker` in one process, `weir run purchases-gen --max-records 10000`
in another, and Python confluent-kafka (an independent client) reads exactly
10,000 valid JSON purchase events keyed by customer_id."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer

WEIR = sys.argv[1]
N = 10_000
FIELDS = {
    "event_id", "timestamp", "customer_id", "customer_segment", "product_id",
    "product_name", "product_category", "quantity", "unit_price", "total_amount",
    "currency", "payment_method", "order_source", "location", "discount_percentage",
    "is_new_customer", "device_type",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    addr = f"127.0.0.1:{free_port()}"
    broker = subprocess.Popen([WEIR, "broker", "--listen", addr, "--registry-listen", "127.0.0.1:0"])
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(addr.split(":"), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("weir broker did not start")
                time.sleep(0.1)
        run = subprocess.run(
            [WEIR, "run", "connectors/purchases-gen.toml", "--bootstrap-servers", addr,
             "--max-records", str(N)],
            # Clean events only (the demo default injects a few bad ones), and a
            # throwaway state dir so the run starts from sequence 0.
            env={**os.environ, "EVENTS_PER_SEC": "0", "INVALID_RATIO": "0",
                 "DUPLICATE_RATIO": "0", "WEIR_STATE_DIR": tempfile.mkdtemp()},
            timeout=300,
        )
        assert run.returncode == 0, f"weir run exited {run.returncode}"

        consumer = Consumer({
            "bootstrap.servers": addr,
            "group.id": f"interop-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
        consumer.subscribe(["purchases"])
        seen, ids = 0, set()
        idle_until = time.time() + 15
        while time.time() < idle_until:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise SystemExit(f"consumer error: {msg.error()}")
            event = json.loads(msg.value())
            missing = FIELDS - event.keys()
            assert not missing, f"missing fields {missing} in {event}"
            assert msg.key().decode() == event["customer_id"], "key must be customer_id"
            assert set(event["location"]) == {"country", "city"}
            ids.add(event["event_id"])
            seen += 1
            idle_until = time.time() + 3
        consumer.close()
        assert seen == N, f"expected exactly {N} events, got {seen}"
        assert len(ids) == N, f"{N - len(ids)} duplicate event ids"
        print(f"interop ok: confluent-kafka read exactly {seen} purchase events, keyed by customer_id")
    finally:
        broker.terminate()
        broker.wait(timeout=10)


if __name__ == "__main__":
    main()
