"""Shared by the interop scripts: `weir broker` (Kafka + schema registry) on
free loopback ports, as a context manager."""

import contextlib
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, what: str) -> None:
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise SystemExit(f"{what} did not start on port {port}")
            time.sleep(0.1)


@contextlib.contextmanager
def weir_broker(weir: str):
    """Yields (bootstrap servers, registry URL) of a running `weir broker`."""
    kafka, registry = free_port(), free_port()
    broker = subprocess.Popen([weir, "broker", "--listen", f"127.0.0.1:{kafka}",
                               "--registry-listen", f"127.0.0.1:{registry}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(kafka, "weir broker")
        wait_for(registry, "weir broker's schema registry")
        yield f"127.0.0.1:{kafka}", f"http://127.0.0.1:{registry}"
    finally:
        broker.terminate()
        broker.wait(timeout=10)
