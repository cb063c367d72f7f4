"""`test-py-random`: each record holds what Python's own sources of time and
chance gave (`random`, `uuid.uuid4`, `os.urandom`, `time.time`). Its fixtures
prove the harness drives them: each case runs twice with the same bytes, and
two seeds give different numbers."""

import os
import random
import time
import uuid

from weir_sdk import Source, dumps, now_ms


class TestPyRandom(Source):
    def next_batch(self, max_records, out):
        for _ in range(max_records):
            record = {
                "random": random.random(),
                "randint": random.randint(0, 1_000_000),
                "uuid4": str(uuid.uuid4()),
                "urandom": os.urandom(4).hex(),
                "time": time.time(),
            }
            out.push(None, dumps(record), (), now_ms())
