"""Peer of weir's campaign-minute connector: every view of TOPIC consumed with
confluent-kafka, counted and averaged per (campaign, start minute) with the
campaigns CSV joined for the network, written as Hive-partitioned Parquet
(network_id, minute_timestamp) with pyarrow. No late-data handling: the whole
topic is one batch, which favours the peer.

    python aggregate_parquet.py BOOTSTRAP TOPIC COUNT CAMPAIGNS.csv OUT
"""

import csv
import json
import sys
import time
import uuid
from collections import defaultdict

import pyarrow as pa
import pyarrow.dataset as ds
from confluent_kafka import Consumer


def main() -> None:
    bootstrap, topic, count, campaigns, out = sys.argv[1:6]
    count = int(count)
    networks = {}
    with open(campaigns) as f:
        for row in csv.DictReader(f):
            networks[int(row["campaign_id"])] = int(row["network_id"])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peer-{uuid.uuid4()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    windows = defaultdict(lambda: [0, 0])
    seen = 0
    while seen < count:
        for m in c.consume(1000, 1.0):
            if m.error():
                continue
            v = json.loads(m.value())
            seen += 1
            if v["campaign_id"] not in networks:
                continue
            w = windows[(v["campaign_id"], v["start_timestamp"] // 60000)]
            w[0] += 1
            w[1] += v["end_timestamp"] - v["start_timestamp"]
    c.close()
    rows = {"campaign_id": [], "network_id": [], "minute_timestamp": [], "view_count": [],
            "avg_duration_s": [], "total_duration_ms": []}
    for (campaign, minute), (n, total) in sorted(windows.items()):
        rows["campaign_id"].append(campaign)
        rows["network_id"].append(networks[campaign])
        rows["minute_timestamp"].append(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(minute * 60)))
        rows["view_count"].append(n)
        rows["avg_duration_s"].append(total / n / 1000.0)
        rows["total_duration_ms"].append(total)
    ds.write_dataset(pa.table(rows), out, format="parquet", partitioning=["network_id", "minute_timestamp"],
                     partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore")


if __name__ == "__main__":
    main()
