"""Peer of weir's GTFS-RT plugin: a feed decoded with gtfs-realtime-bindings and
one JSON record per entity made with protobuf's json_format, ROUNDS times.
Prints seconds and records as JSON.

    python gtfs_decode.py FEED.pb ROUNDS
"""

import json
import sys
import time

from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2


def main() -> None:
    data = open(sys.argv[1], "rb").read()
    rounds = int(sys.argv[2])
    start = time.process_time()
    records = 0
    for _ in range(rounds):
        feed = gtfs_realtime_pb2.FeedMessage()
        feed.ParseFromString(data)
        for entity in feed.entity:
            json.dumps(json_format.MessageToDict(entity))
            records += 1
    print(json.dumps({"seconds": time.process_time() - start, "records": records}))


if __name__ == "__main__":
    main()
