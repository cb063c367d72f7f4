"""Interop: the campaign pipeline as an operator runs it, checked by independent
tools. `weir broker` in one process; `weir run connectors/campaign-views.toml`
generates view logs (simulated event time, late and unknown-campaign views
injected); `weir run connectors/campaign-minute.toml --exit-at-end` aggregates
them to Hive-partitioned Parquet. Then Python confluent-kafka reads the raw
topic and the DLQ, computes the per-minute aggregation itself, and pyarrow
(`pyarrow.dataset`, hive partitioning) reads weir's output: every (campaign,
minute) once, equal counts, averages within 1e-9, network ids from the CSV,
late and unknown-campaign views in the DLQ with their reasons, no temporary
files.

The topic has three partitions. Views are keyed by campaign and the shipped
connector aggregates each partition on its own, with its own watermark, so which
views are late does not depend on how a broker interleaves partitions: every
view generated late (600-900 s behind, after a warm-up) must be in the DLQ as
`late`, and no other.

With `--s3` the dataset goes to a bucket of a local S3 server (moto): `weir
plan` must name the missing bucket; the run starts before the bucket exists
(it must pause, not fail or drop rows), the bucket appears, the run is
stopped once objects land, and a second run finishes the job. pyarrow reads
the bucket through `pyarrow.fs.S3FileSystem`, and the same checks hold:
every (campaign, minute) exactly once, no temporary or partial object."""

import csv
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

import signal
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from confluent_kafka import Consumer

WEIR = sys.argv[1]
S3 = "--s3" in sys.argv[2:]
BUCKET = "lake"
ROOT = pathlib.Path(__file__).resolve().parents[3]
VIEWS = 40_000
RATE = 100  # simulated views per second of event time: ~7 minutes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_topic(bootstrap: str, topic: str, idle: float = 3.0):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"interop-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    out, last = [], time.time()
    while time.time() - last < idle:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(m.error())
        out.append(m)
        last = time.time()
    c.close()
    return out


def run(args, env):
    p = subprocess.run([WEIR, "run", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit(f"weir run {args} failed:\n{p.stderr}")
    return p.stderr


def wait_port(port: int) -> None:
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def main() -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = subprocess.Popen([WEIR, "broker", "--listen", bootstrap,
                               "--registry-listen", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    moto = None
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, WEIR_LOG="info", OUTPUT_DIR=f"{tmp}/out",
                       TRIGGER_MS="200", SIMULATED_VIEWS_PER_SEC=str(RATE),
                       LATE_MIN_MS="600000", LATE_MAX_MS="900000",
                       LATE_WARMUP_MS="150000", PARTITIONS="3")
            common = ["--bootstrap-servers", bootstrap, "--state-dir", f"{tmp}/state"]
            run(["connectors/campaign-views.toml", "--max-records", str(VIEWS), *common], env)
            if not S3:
                log = run(["connectors/campaign-minute.toml", "--exit-at-end",
                           "--duration", "240", *common], env)
                check(bootstrap, pafs.LocalFileSystem(), f"{tmp}/out", log)
                return
            s3_port = free_port()
            moto = subprocess.Popen([str(pathlib.Path(sys.executable).parent / "moto_server"),
                                     "-H", "127.0.0.1", "-p", str(s3_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(s3_port)
            env.update(OUTPUT_DIR=f"s3://{BUCKET}/campaign-minute", AWS_ACCESS_KEY_ID="weir",
                       AWS_SECRET_ACCESS_KEY="weir-secret", AWS_REGION="us-east-1",
                       AWS_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}", AWS_ALLOW_HTTP="true")
            log = s3_run(common, env, s3_port, tmp)
            fs = pafs.S3FileSystem(access_key="weir", secret_key="weir-secret", region="us-east-1",
                                   endpoint_override=f"127.0.0.1:{s3_port}", scheme="http")
            check(bootstrap, fs, f"{BUCKET}/campaign-minute", log)
    finally:
        broker.terminate()
        broker.wait(timeout=10)
        if moto:
            moto.terminate()
            moto.wait(timeout=10)


def s3_run(common, env, s3_port, tmp) -> str:
    """A missing bucket named by `weir plan`, a run that pauses until the
    bucket exists and is then stopped mid-run, and a run to the end.
    Returns both runs' logs."""
    import boto3
    minute = ROOT / "connectors/campaign-minute.toml"
    plan = subprocess.run([WEIR, "plan", str(minute), *common], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert plan.returncode != 0 and "NoSuchBucket" in plan.stdout + plan.stderr, (
        plan.returncode, plan.stdout[-2000:], plan.stderr[-2000:])
    assert "weir-secret" not in plan.stdout + plan.stderr, "a secret in plan's output"
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", aws_access_key_id="weir",
                      aws_secret_access_key="weir-secret", region_name="us-east-1")
    with tempfile.TemporaryFile("w+") as first_log:
        first = subprocess.Popen([WEIR, "run", str(minute),
                                  "--duration", "240", *common],
                                 env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=first_log,
                                 text=True)
        try:
            def log_has(text: str) -> bool:
                first_log.seek(0)
                return text in first_log.read()
            wait_for(lambda: log_has("reading pauses"), "the run to pause on the missing bucket",
                     log=first_log)
            s3.create_bucket(Bucket=BUCKET)
            wait_for(lambda: log_has("writes again"), "the run to write once the bucket exists",
                     log=first_log)
            wait_for(lambda: s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) >= 3,
                     "objects in the bucket", log=first_log)
            assert first.poll() is None, "the first run ended before the kill"
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=30)
        first_log.seek(0)
        first_text = first_log.read()
    assert "weir-secret" not in first_text, "a secret in the log"
    landed = s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    second = run([str(minute), "--exit-at-end", "--duration", "240",
                  *common], env)
    print(f"s3: plan named the missing bucket; the first run paused, wrote {landed} objects "
          f"once the bucket existed, and was stopped; the second run finished")
    return first_text + second


def wait_for(ok, what: str, seconds: float = 90, log=None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ok():
            return
        time.sleep(0.2)
    tail = ""
    if log is not None:
        log.seek(0)
        tail = log.read()[-4000:]
    sys.exit(f"gave up waiting for {what}\n{tail}")


def check(bootstrap: str, fs, out: str, log: str) -> None:
    networks = {}
    with open(ROOT / "connectors/data/campaigns.csv") as f:
        for row in csv.DictReader(f):
            networks[int(row["campaign_id"])] = int(row["network_id"])

    raw = read_topic(bootstrap, "campaign_views")
    assert len(raw) == VIEWS, f"{len(raw)} views in the topic"
    dead = defaultdict(set)
    for m in read_topic(bootstrap, "campaign-minute.dlq"):
        headers = {k: v.decode() for k, v in (m.headers() or [])}
        code = headers["weir.dlq.codes"]
        dead[code].add(json.loads(m.value())["view_id"])

    injected = defaultdict(set)
    expected = defaultdict(lambda: [0, 0])  # (campaign, minute) -> [count, total ms]
    for m in raw:
        v = json.loads(m.value())
        view_id = v["view_id"]
        assert m.key().decode() == str(v["campaign_id"]), "views are keyed by campaign"
        label = {k: val.decode() for k, val in (m.headers() or [])}.get("weir.injected")
        if label:
            injected[label].add(view_id)
        if any(view_id in ids for ids in dead.values()):
            continue
        minute = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(v["start_timestamp"] // 60000 * 60))
        e = expected[(v["campaign_id"], minute)]
        e[0] += 1
        e[1] += v["end_timestamp"] - v["start_timestamp"]

    # Late and unknown views land where the connector says: the DLQ, by reason.
    assert dead["unknown_campaign"] == injected["unknown_campaign"], (
        len(dead["unknown_campaign"]), len(injected["unknown_campaign"]))
    assert dead["late"] == injected["late"], (len(dead["late"]), len(injected["late"]))
    assert len(dead["late"]) > 50 and len(dead["unknown_campaign"]) > 50, dict(dead)
    assert set(dead) == {"late", "unknown_campaign"}, set(dead)

    files = [f for f in fs.get_file_info(pafs.FileSelector(out, recursive=True))
             if f.type == pafs.FileType.File]
    hidden = [f.path for f in files if f.base_name.startswith((".", "_"))]
    assert not hidden, hidden
    table = ds.dataset(out, filesystem=fs, format="parquet", partitioning="hive").to_table()
    got = {}
    for r in table.to_pylist():
        key = (r["campaign_id"], str(r["minute_timestamp"]))
        assert key not in got, f"{key} twice"
        got[key] = r
        assert r["network_id"] == networks[r["campaign_id"]], r
    assert set(got) == set(expected), (
        sorted(set(expected) - set(got))[:5], sorted(set(got) - set(expected))[:5])
    for key, (count, total) in expected.items():
        r = got[key]
        assert r["view_count"] == count, (key, r, count)
        assert r["total_duration_ms"] == total, (key, r, total)
        assert abs(r["avg_duration_s"] - total / count / 1000.0) <= 1e-9, (key, r)
    minutes = {k[1] for k in got}
    print(f"campaign interop ok{' (s3)' if S3 else ''}: {VIEWS} views, {len(got)} (campaign, minute) rows over "
          f"{len(minutes)} minutes, {len(dead['late'])} late and "
          f"{len(dead['unknown_campaign'])} unknown-campaign views in the DLQ")


if __name__ == "__main__":
    main()
