"""`just bench`: weir and a peer doing the same work, in one run, on this
machine. A `weir broker` (Kafka protocol + registry) runs pinned to the last
core; every client (weir or peer) runs pinned to core 0, one at a time, and is
measured from outside: wall time, CPU seconds (user + system, from wait4) and
peak RSS. Prints a table and writes bench/results/latest.md and latest.json
(`--quick`: small inputs, bench/results/quick.*, to check that everything runs).

    python bench/run.py WEIR WEIR_BENCH [--quick]
"""

import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host/tests/interop"))
from weir_broker import weir_broker  # noqa: E402

WEIR, BENCH = sys.argv[1], sys.argv[2]
QUICK = "--quick" in sys.argv
# `--only avro,latency`: just those workloads (results go to bench/results/only.*).
ONLY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "")
ONLY = set(ONLY.split(",")) if ONLY else set()
PY = sys.executable
CORES = os.cpu_count() or 1
CLIENT_CORE = "0"
BROKER_CORE = str(CORES - 1)
REPS = 1 if QUICK else 3

results = []
latencies = []
allocations = []
languages_in_process = []


def pinned(cmd):
    return ["taskset", "-c", CLIENT_CORE, *cmd] if shutil.which("taskset") else cmd


def measure(cmd, env=None, cwd=ROOT, fatal=True):
    """Runs cmd to the end; (wall s, cpu s, peak RSS MB, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen(pinned(cmd), cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            said = (out.read().decode()[-1500:] + err.read().decode()[-3000:]).strip()
            why = f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{said}"
            if fatal:
                sys.exit(why)
            raise RuntimeError(why)
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def best(runs):
    """The repetition with the least CPU (the least disturbed one)."""
    return min(runs, key=lambda r: r[1])


def add(workload, who, records, wall, cpu, rss, bytes_=None, note=""):
    results.append({
        "workload": workload, "who": who, "records": records, "wall_s": wall, "cpu_s": cpu,
        "rss_mb": rss, "records_per_s": records / wall if wall else None,
        "cpu_s_per_million": cpu / records * 1e6 if records else None,
        "records_per_cpu_s": records / cpu if cpu else None,
        "mb_per_s": bytes_ / wall / 1e6 if bytes_ and wall else None, "note": note,
    })
    r = results[-1]
    print(f"  {workload:28} {who:26} {records:>9} rec {wall:7.2f} s {cpu:7.2f} cpu-s "
          f"{r['records_per_cpu_s'] or 0:>11,.0f} rec/cpu-s {rss:7.1f} MB", flush=True)


def weir_env(bootstrap, registry, state, **extra):
    env = dict(os.environ, WEIR_BOOTSTRAP_SERVERS=bootstrap, WEIR_SCHEMA_REGISTRY_URL=registry,
               WEIR_STATE_DIR=state, WEIR_LOG="warn")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def bench_json(*args):
    """Runs weir-bench with `args` (in-process workloads): a dict per JSON line it prints."""
    _, _, _, out = measure([BENCH, *args])
    return [json.loads(line) for line in out.splitlines()]


def boundary():
    print("WASM boundary (in-process, no broker)")
    records = 20_000 if QUICK else 300_000
    for d in bench_json("boundary", "--records", str(records)):
        results.append({"workload": f"boundary {d['workload']} batch {d['batch']}", "who": d["variant"],
                        "records": d["records"], "wall_s": d["seconds"], "cpu_s": d["seconds"],
                        "rss_mb": None, "records_per_s": d["records_per_sec"],
                        "ns_per_record": d["ns_per_record"], "ns_per_call": d["ns_per_call"],
                        "records_per_cpu_s": d["records_per_sec"], "note": ""})
        print(f"  {d['workload']:12} batch {d['batch']:>6} {d['variant']:7} {d['ns_per_record']:9.0f} ns/record "
              f"{d['ns_per_call']:12.0f} ns/call")


def gtfs(tmp):
    print("GTFS-RT decode, 5,000 vehicles → JSON records")
    rounds = 3 if QUICK else 20
    for d in bench_json("gtfs", "--rounds", str(rounds)):
        add("gtfs decode 5k vehicles", f"weir {d['variant']}", d["records"], d["seconds"], d["seconds"], 0)
    feed = tmp / "feed.pb"
    measure([BENCH, "feed", "--out", str(feed)])
    _, _, rss, out = measure([PY, str(ROOT / "bench/peers/gtfs_decode.py"), str(feed), str(rounds)])
    d = json.loads(out)
    add("gtfs decode 5k vehicles", "python gtfs-realtime-bindings", d["records"], d["seconds"], d["seconds"], rss)


def parquet_rows():
    print("Parquet: campaign-minute rows through weir's sink vs a bare ArrowWriter (zstd, one file, fsynced)")
    rows = 50_000 if QUICK else 300_000
    for d in bench_json("parquet", "--rows", str(rows)):
        add("parquet rows", d["variant"], d["records"], d["seconds"], d["seconds"], 0,
            note="in-process; best of 3 rounds, the two writers taking turns; the sink checks JSON rows against the declared columns first")


def raw_produce(bootstrap):
    print("Raw produce, fixed payloads (idempotent, acks=all, zstd), then consume")
    count = 20_000 if QUICK else 200_000
    for size in (100, 500, 1000):
        w = f"produce {size} B"
        runs = []
        for i in range(REPS):
            # Topics exist before each client starts, as for the peers.
            topic = f"raw-weir-{size}-{i}"
            measure([BENCH, "produce", "--bootstrap", bootstrap, "--topic", topic, "--size", "1", "--count", "1"])
            runs.append(measure([BENCH, "produce", "--bootstrap", bootstrap, "--topic", topic, "--size", str(size),
                                 "--count", str(count)])[:3])
        add(w, "weir (Kafka sink)", count, *best(runs), count * size)
        add(w, "python confluent-kafka", count, *best([measure([PY, str(ROOT / "bench/peers/raw_produce.py"),
            bootstrap, f"raw-py-{size}-{i}", str(size), str(count)])[:3] for i in range(REPS)]), count * size)
        perf = rdkafka_performance()
        if perf:
            runs, failed = [], []
            for i in range(REPS):
                topic = f"raw-perf-{size}-{i}"
                measure([BENCH, "produce", "--bootstrap", bootstrap, "--topic", topic, "--size", "1", "--count", "1"])
                # Not quiet (-q): when a delivery fails the tool exits 1, and
                # its own lines say which message failed and why.
                try:
                    runs.append(measure([perf, "-P", "-t", topic, "-p", "0", "-b", bootstrap, "-s", str(size),
                                         "-c", str(count), "-a", "-1", "-z", "zstd", "-X", "enable.idempotence=true",
                                         "-X", "linger.ms=5", "-D"], fatal=False)[:3])
                except RuntimeError as e:
                    failed.append(str(e))
                    print(f"  rdkafka_performance run {i} failed; the row takes the other runs:\n{e}")
            if runs:
                note = ("librdkafka's own tool (-D: a payload copy per message, as weir has), built against the "
                        "librdkafka the rdkafka crate built; its wall time includes librdkafka's 500 ms wait for the "
                        "idempotent producer's id, which weir's connect avoids: compare CPU")
                if failed:
                    note += f"; {len(failed)} of {REPS} runs failed a delivery (see the run's log)"
                add(w, "rdkafka_performance", count, *best(runs), count * size, note)
        if shutil.which("kcat") and not KCAT_BROKEN:
            kcat(w, bootstrap, size, count)
        # Consume: the topic weir just filled, read from the beginning.
        c = f"consume {size} B"
        topic = f"raw-weir-{size}-0"
        add(c, "weir (Kafka source)", count, *best([measure([BENCH, "consume", "--bootstrap", bootstrap, "--topic",
            topic, "--count", str(count)])[:3] for _ in range(REPS)]), count * size, "includes the group join")
        if perf:
            add(c, "rdkafka_performance", count, *best([measure([perf, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                "-b", bootstrap, "-c", str(count), "-X", "isolation.level=read_committed", "-q"])[:3]
                for _ in range(REPS)]), count * size, "partition consumer, no group")


PERF = []


def rdkafka_performance():
    """librdkafka's `rdkafka_performance`, compiled once from the examples of the
    very librdkafka source tree rdkafka-sys built (same version, same options),
    linked against the static library that build left in the cargo target dir."""
    if PERF:
        return PERF[0]
    PERF.append(None)
    target = pathlib.Path(BENCH).resolve().parent
    builds = sorted(target.glob("build/rdkafka-sys-*/out/src/librdkafka.a"), key=lambda p: p.stat().st_mtime)
    zstd = sorted(target.glob("build/zstd-sys-*/out/libzstd.a"), key=lambda p: p.stat().st_mtime)
    if not builds or not shutil.which("cc"):
        print("  rdkafka_performance: no librdkafka build under the target dir (or no cc); skipped")
        return None
    out = builds[-1].parents[1]
    exe = target / "rdkafka_performance"
    if not exe.exists() or exe.stat().st_mtime < builds[-1].stat().st_mtime:
        libs = re.search(r"^LIBS\+=\s*(.*)$", (out / "Makefile.config").read_text(), re.M)
        cmd = ["cc", "-O2", "-I", str(out / "src"), "-o", str(exe), str(out / "examples/rdkafka_performance.c"),
               str(builds[-1])] + (["-L", str(zstd[-1].parent)] if zstd else []) + (libs.group(1).split() if libs else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  rdkafka_performance did not build, skipped: {r.stderr.strip()[-300:]}")
            return None
    PERF[0] = str(exe)
    return PERF[0]


KCAT_BROKEN = []


def kcat(workload, bootstrap, size, count):
    """Debian's kcat; a failure is reported, not fatal (it links Debian's own,
    older librdkafka)."""
    runs = []
    for i in range(REPS):
        topic = f"raw-kcat-{size}-{i}"
        measure([BENCH, "produce", "--bootstrap", bootstrap, "--topic", topic, "--size", "1", "--count", "1"])
        with tempfile.NamedTemporaryFile(delete=False) as data:
            data.write((b"x" * (size - 1) + b"\n") * count)
        cmd = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-z", "zstd", "-X", "enable.idempotence=true",
               "-X", "acks=all", "-X", "linger.ms=5", "-l", data.name]
        try:
            runs.append(measure(cmd, fatal=False)[:3])
        except RuntimeError as e:
            KCAT_BROKEN.append(str(e).strip().splitlines()[-1])
            print(f"  kcat failed, skipped: {KCAT_BROKEN[-1]}")
            return
        finally:
            os.unlink(data.name)
    add(workload, "kcat (Debian)", count, *best(runs), count * size, "Debian's kcat links its own librdkafka")


def generator(bootstrap, registry, tmp):
    print("Generator → Kafka, purchase events as JSON")
    count = 20_000 if QUICK else 300_000
    peer_count = 5_000 if QUICK else 30_000
    runs = []
    for i in range(REPS):
        env = weir_env(bootstrap, registry, str(tmp / f"gen-{i}"), EVENTS_PER_SEC=0, KAFKA_TOPIC=f"gen-weir-{i}")
        runs.append(measure([WEIR, "run", "connectors/purchases-gen.toml", "--max-records", str(count)], env)[:3])
    add("purchases generate+produce", "weir (WASM generator)", count, *best(runs))
    runs = [measure([PY, str(ROOT / "bench/peers/faker_purchases.py"), bootstrap, f"gen-py-{i}", str(peer_count)])[:3]
            for i in range(REPS)]
    add("purchases generate+produce", "python Faker + confluent-kafka", peer_count, *best(runs))


def avro(bootstrap, registry, tmp):
    print("Generator → Kafka, customer events as Avro (schema registry, Confluent framing)")
    count = 20_000 if QUICK else 200_000
    peer_count = 2_000 if QUICK else 20_000
    runs = []
    for i in range(REPS):
        env = weir_env(bootstrap, registry, str(tmp / f"avro-{i}"), EVENTS_PER_SEC=0, KAFKA_TOPIC=f"avro-weir-{i}")
        runs.append(measure([WEIR, "run", "connectors/customer-events.toml", "--max-records", str(count)], env)[:3])
    add("customer events generate+Avro+produce", "weir (WASM generator, Avro sink)", count, *best(runs))
    runs = [measure([PY, str(ROOT / "bench/peers/avro_customer_events.py"), bootstrap, registry, f"avro-py-{i}",
                     str(peer_count), str(ROOT / "schemas/user_event.v1.avsc")])[:3] for i in range(REPS)]
    add("customer events generate+Avro+produce", "python Faker + AvroSerializer", peer_count, *best(runs))


def aggregate(bootstrap, registry, tmp):
    print("Aggregate view logs per campaign and minute → partitioned Parquet")
    count = 50_000 if QUICK else 1_000_000
    env = weir_env(bootstrap, registry, str(tmp / "views"), VIEWS_PER_SEC=0, SIMULATED_VIEWS_PER_SEC=1000,
                   KAFKA_TOPIC="views-bench", MAX_VIEWS=count)
    measure([WEIR, "run", "connectors/campaign-views.toml", "--max-records", str(count)], env)
    runs = []
    for i in range(REPS):
        env = weir_env(bootstrap, registry, str(tmp / f"agg-{i}"), KAFKA_TOPIC="views-bench",
                       OUTPUT_DIR=str(tmp / f"agg-out-{i}"))
        toml = tmp / f"campaign-minute-{i}.toml"
        toml.write_text((ROOT / "connectors/campaign-minute.toml").read_text()
                        .replace('group_id = "campaign-minute"', f'group_id = "bench-{i}"')
                        .replace('name = "campaign-minute"', f'name = "bench-minute-{i}"')
                        .replace('path = "data/campaigns.csv"', f'path = "{ROOT}/connectors/data/campaigns.csv"'))
        runs.append(measure([WEIR, "run", str(toml), "--exit-at-end", "--plugin-dir", str(ROOT / "target/plugins")], env)[:3])
    add("aggregate views → parquet", "weir (WASM aggregator)", count, *best(runs),
        note="includes ~1 s end-of-input wait and the group join")
    runs = [measure([PY, str(ROOT / "bench/peers/aggregate_parquet.py"), bootstrap, "views-bench", str(count),
                     str(ROOT / "connectors/data/campaigns.csv"), str(tmp / f"py-out-{i}")])[:3] for i in range(REPS)]
    add("aggregate views → parquet", "python confluent-kafka + pyarrow", count, *best(runs),
        note="no late-data handling, one batch")


VALIDATE = """
name = "{name}"
[source.kafka]
topic = "{topic}"
group_id = "{name}"
batch_size = 1000
batch_timeout_ms = 100
[[transform]]
plugin = "{plugin}"
[sink.kafka]
topic = "{name}-valid"
partitions = 3
"""


CDC = """
name = "{name}"
[source.postgres_cdc]
url = "{url}"
tables = ["public.pgbench_accounts", "public.pgbench_tellers", "public.pgbench_branches"]
batch_size = 1000
[sink.kafka]
topic = "{name}"
partitions = 3
"""


def postgres_server():
    """A throwaway PostgreSQL (wal_level = logical): (url, stop)."""
    root = os.geteuid() == 0
    as_pg = (lambda cmd: ["runuser", "-u", "postgres", "--", *cmd]) if root else (lambda cmd: cmd)
    # Its own folder under /tmp: the server's user must reach it.
    data = pathlib.Path(tempfile.mkdtemp(prefix="weir-bench-pg-"))
    (data / "pw").write_text("bench")
    if root:
        shutil.chown(data, "postgres")
        shutil.chown(data / "pw", "postgres")
    subprocess.run(as_pg(["initdb", "-D", str(data / "data"), "-U", "postgres", "--auth-local=trust",
                          "--auth-host=scram-sha-256", f"--pwfile={data / 'pw'}", "--no-sync"]),
                   check=True, capture_output=True)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off"
    subprocess.run(as_pg(["pg_ctl", "-D", str(data / "data"), "-o", opts, "-l", str(data / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    def stop():
        subprocess.run(as_pg(["pg_ctl", "-D", str(data / "data"), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
    return f"postgres://postgres:bench@127.0.0.1:{port}/postgres", stop


def postgres_cdc(bootstrap, registry, tmp):
    print("PostgreSQL changes (pgbench TPC-B-like updates) → CDC source → Kafka")
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not shutil.which("initdb") or not os.path.exists(pgbench):
        print("  PostgreSQL or pgbench missing: skipped")
        return
    url, stop = postgres_server()
    try:
        scale = 1
        subprocess.run([pgbench, "-i", "-s", str(scale), "-q", url], check=True, capture_output=True)
        snapshot = 100_000 * scale + 10 * scale + scale
        toml = tmp / "pgcdc.toml"
        toml.write_text(CDC.format(name="pgcdc-bench", url=url))
        env = weir_env(bootstrap, registry, str(tmp / "pgcdc"))
        # The snapshot (and the slot) first: every row as an `r` change.
        add("postgres snapshot → kafka", "weir (postgres_cdc source)", snapshot,
            *measure([WEIR, "run", str(toml), "--max-records", str(snapshot)], env)[:3])
        # Then a backlog of committed transactions, streamed as fast as it goes.
        transactions = 2_000 if QUICK else 20_000
        subprocess.run([pgbench, "-c", "1", "-t", str(transactions), "-n", url], check=True, capture_output=True)
        changes = 3 * transactions
        add("postgres changes → kafka", "weir (postgres_cdc source)", changes,
            *measure([WEIR, "run", str(toml), "--max-records", str(changes)], env)[:3],
            note="3 updates per pgbench transaction; no peer (Debezium needs a JVM Connect cluster)")
    finally:
        stop()


def with_linger(text, generator=False, linger_ms=None):
    """A connector's text with `[kafka] linger_ms` from WEIR_BENCH_LINGER_MS
    (the producers' wait, on the generating and the validating side;
    WEIR_BENCH_GEN_LINGER_MS sets the generating side apart), else
    `linger_ms` when given, and on the
    validating side the librdkafka properties in WEIR_BENCH_PROPS
    (`"key" = "value"` lines joined by `;`), to compare settings in runs of
    the same build; unset, the defaults stand."""
    props = os.environ.get("WEIR_BENCH_PROPS")
    if props and not generator:
        text = text + "\n[kafka.properties]\n" + props.replace(";", "\n") + "\n"
    linger = os.environ.get("WEIR_BENCH_LINGER_MS")
    if generator:
        linger = os.environ.get("WEIR_BENCH_GEN_LINGER_MS") or linger
    linger = linger or linger_ms
    if not linger:
        return text
    if "\n[kafka]\n" in text:
        return text.replace("\n[kafka]\n", f"\n[kafka]\nlinger_ms = {int(linger)}\n", 1)
    return text + f"\n[kafka]\nlinger_ms = {int(linger)}\n"


def latency(bootstrap, registry, tmp):
    """Kafka → validate (WASM) → Kafka: the peak rate over records already in
    the topic, then end-to-end latency (generation → validated output
    acknowledged) while the generator produces at half that rate."""
    print("Kafka → validate (WASM) → Kafka: peak rate, then latency at half of it")
    count = 20_000 if QUICK else 200_000
    env = weir_env(bootstrap, registry, str(tmp / "lat-fill"), EVENTS_PER_SEC=0, KAFKA_TOPIC="lat-peak")
    measure([WEIR, "run", "connectors/purchases-gen.toml", "--max-records", str(count)], env)
    runs = []
    for i in range(REPS):
        toml = tmp / f"peak-{i}.toml"
        toml.write_text(with_linger(VALIDATE.format(name=f"peak-{i}", topic="lat-peak", plugin="purchases-validate")))
        runs.append(measure([WEIR, "run", str(toml), "--exit-at-end", "--plugin-dir", str(ROOT / "target/plugins")],
                            weir_env(bootstrap, registry, str(tmp / f"peak-{i}")))[:3])
    wall, cpu, rss = best(runs)
    add("kafka → validate → kafka", "weir (WASM validator)", count, wall, cpu, rss,
        note="includes ~1 s end-of-input wait and the group join")
    py = [measure([PY, str(ROOT / "bench/peers/validate_purchases.py"), bootstrap, "lat-peak", f"peak-py-{i}",
                   str(count)])[:3] for i in range(REPS)]
    add("kafka → validate → kafka", "python confluent-kafka (same rules)", count, *best(py),
        note="json.loads, the rules in Python, produce valid ones; includes the group join")
    toml = tmp / "allocs.toml"
    toml.write_text(VALIDATE.format(name="allocs", topic="lat-peak", plugin="purchases-validate"))
    for d in bench_json("pipeline", "--connector", str(toml), "--bootstrap", bootstrap,
                        "--plugins", str(ROOT / "target/plugins"), "--state", str(tmp / "allocs")):
        allocations.append(d)
        print(f"  host heap allocations: {d['allocations_per_record']:.2f} per record, "
              f"{d['bytes_per_record']:.0f} B per record over {d['records']:,} records", flush=True)
    peak = count / max(wall - 1.0, 0.1)
    # WEIR_BENCH_LATENCY_RATE: a fixed rate instead of half the peak, to compare runs whose peaks differ.
    half = int(os.environ.get("WEIR_BENCH_LATENCY_RATE") or peak / 2)
    for i, rate in enumerate((1_000, 10_000, half)):
        live_latency(bootstrap, registry, tmp, f"live{i}", rate, peak, GEN_LATENCY_LINGER_MS)
    # The same at half of peak with the generating host's own default linger,
    # which is tuned for its CPU rather than for the latency downstream.
    live_latency(bootstrap, registry, tmp, "live-default", half, peak, None)


def languages(bootstrap, registry, tmp):
    """Kafka → validate → Kafka with the same rules written three ways: the Rust
    plugin, its Python port (componentize-py) in the same sandbox, and a plain
    Python confluent-kafka consumer."""
    print("Plugins by language, in process: compile, instantiate, memory, cost per record")
    for d in bench_json("languages", "--records", str(5_000 if QUICK else 50_000)):
        languages_in_process.append(d)
        print(f"  {d['plugin']:22} {d['language']:10} {d['bytes'] / 1e6:5.1f} MB  compile {d['compile_ms']:7.0f} ms  "
              f"start {d['instantiate_ms']:6.1f} ms  memory {d['memory_after_init_mb']:.0f}→{d['memory_peak_mb']:.0f} MiB  "
              f"{d['ns_per_record'] / 1e3:6.1f} µs/record  slowest call {d['slowest_call_ms']:.0f} ms", flush=True)
    print("Kafka → validate → Kafka: the validator in Rust, in Python (WASM), and plain Python")
    count = 5_000 if QUICK else 50_000
    work = "kafka → validate → kafka, plugin languages"
    env = weir_env(bootstrap, registry, str(tmp / "lang-fill"), EVENTS_PER_SEC=0, KAFKA_TOPIC="lang-in")
    measure([WEIR, "run", "connectors/purchases-gen.toml", "--max-records", str(count)], env)
    for plugin, who in (("purchases-validate", "weir, Rust plugin"), ("purchases-validate-py", "weir, Python plugin")):
        runs = []
        for i in range(REPS):
            name = f"lang-{plugin}-{i}"
            toml = tmp / f"{name}.toml"
            toml.write_text(with_linger(VALIDATE.format(name=name, topic="lang-in", plugin=plugin)))
            runs.append(measure([WEIR, "run", str(toml), "--exit-at-end", "--plugin-dir", str(ROOT / "target/plugins")],
                                weir_env(bootstrap, registry, str(tmp / name)))[:3])
        add(work, who, count, *best(runs), note="includes ~1 s end-of-input wait and the group join")
    py = [measure([PY, str(ROOT / "bench/peers/validate_purchases.py"), bootstrap, "lang-in", f"lang-py-{i}",
                   str(count)])[:3] for i in range(REPS)]
    add(work, "python confluent-kafka (same rules)", count, *best(py),
        note="json.loads, the rules in Python, produce valid ones; includes the group join")


# The generating host's `linger_ms` in the latency runs: its own default (5)
# saves it CPU, but every record then waits up to that long before it even
# reaches the broker, and that wait is part of each end-to-end time; an
# upstream producer of a latency-sensitive pipeline is set lower. One more run
# at half of peak keeps the default, for comparison.
GEN_LATENCY_LINGER_MS = 2


def live_latency(bootstrap, registry, tmp, name, rate, peak, gen_linger):
    """A validating host (Kafka → validate → Kafka) reading while the generator
    produces `rate` records/s (with `gen_linger` ms of linger, None for its
    default): its end-to-end percentiles and where the time went, phase by
    phase (the host's `Pipeline stopped.` and `Phase time.` lines)."""
    seconds = 5 if QUICK else 20
    topic = f"lat-{name}"
    toml = tmp / f"{name}.toml"
    toml.write_text(with_linger(VALIDATE.format(name=name, topic=topic, plugin="purchases-validate")))
    gen = tmp / f"{name}-gen.toml"
    gen_text = with_linger((ROOT / "connectors/purchases-gen.toml").read_text(), generator=True,
                           linger_ms=gen_linger)
    gen.write_text(gen_text)
    env = weir_env(bootstrap, registry, str(tmp / name), WEIR_LOG="info")
    # The topic exists before the consumer subscribes (librdkafka looks for a
    # missing one again only every 5 minutes).
    measure([WEIR, "run", "connectors/purchases-gen.toml", "--max-records", "1"],
            weir_env(bootstrap, registry, str(tmp / f"{name}-first"), EVENTS_PER_SEC=0, KAFKA_TOPIC=topic))
    with tempfile.TemporaryFile() as log:
        consumer = subprocess.Popen([WEIR, "run", str(toml), "--plugin-dir", str(ROOT / "target/plugins")],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(3)
        gen_env = weir_env(bootstrap, registry, str(tmp / f"{name}-gen"), EVENTS_PER_SEC=rate, KAFKA_TOPIC=topic)
        measure([WEIR, "run", str(gen), "--duration", str(seconds), "--plugin-dir", str(ROOT / "target/plugins")],
                gen_env)
        time.sleep(2)
        consumer.terminate()
        consumer.wait(timeout=60)
        log.seek(0)
        text = log.read().decode(errors="replace")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)

    def fields(line):
        return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

    stopped = [line for line in text.splitlines() if "Pipeline stopped." in line]
    if not stopped:
        sys.exit(f"the validating host did not report its latency:\n{text[-3000:]}")
    f = fields(stopped[-1])
    p50, p99, p999 = (f.get(k, "?") for k in ("latency_p50_ms", "latency_p99_ms", "latency_p999_ms"))
    phases = []
    for line in text.splitlines():
        if "Phase time." in line:
            ph = fields(line)
            phases.append({"phase": ph.get("phase", "?").strip('"'), "p50_ms": float(ph.get("p50_ms", 0)),
                           "p99_ms": float(ph.get("p99_ms", 0)), "p999_ms": float(ph.get("p999_ms", 0))})
    read = int(f.get("read", "0"))
    linger = re.search(r"linger_ms = (\d+)", gen_text)
    gen_linger_ms = int(linger.group(1)) if linger else "default"
    latencies.append({"rate": rate, "peak": peak, "seconds": seconds, "read": read, "p50_ms": p50,
                      "p99_ms": p99, "p999_ms": p999, "phases": phases, "gen_linger_ms": gen_linger_ms})
    print(f"  at {rate:,} rec/s for {seconds} s (generator linger {gen_linger_ms} ms): {read:,} records, "
          f"end-to-end p50 {p50} ms, p99 {p99} ms, p99.9 {p999} ms", flush=True)
    for ph in phases:
        print(f"    {ph['phase']:<14} p50 {ph['p50_ms']:8.2f} ms  p99 {ph['p99_ms']:8.2f} ms  "
              f"p99.9 {ph['p999_ms']:8.2f} ms", flush=True)


def footprint(bootstrap, registry, tmp):
    print("Footprint: an idle host (one Kafka-source connector waiting for records)")
    env = weir_env(bootstrap, registry, str(tmp / "idle"), KAFKA_TOPIC="idle-topic")
    p = subprocess.Popen(pinned([WEIR, "run", "connectors/purchases-console.toml"]), cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(5 if QUICK else 10)
    rss = 0.0
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    cpu = sum(int(x) for x in open(f"/proc/{p.pid}/stat").read().split()[13:15]) / os.sysconf("SC_CLK_TCK")
    p.terminate()
    p.wait(timeout=30)
    add("idle host", "weir", 0, 5 if QUICK else 10, cpu, rss)


BUSY = ["customer-events", "purchases-gen", "purchases", "cdc-source", "cdc-view", "campaign-views",
        "campaign-minute", "gtfs-vehicles"]


def footprint_busy(bootstrap, registry, tmp):
    """All five pipelines in one host at the seeds' rates (the shipped
    connectors' defaults), the broker in its own process."""
    print("Footprint: a busy host running all five pipelines at the seeds' rates")
    feed_dir = tmp / "feeds"
    (feed_dir / "vehicles").mkdir(parents=True)
    measure([BENCH, "feed", "--out", str(feed_dir / "vehicles/feed0.pb")])
    port = 18089
    server = subprocess.Popen([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=feed_dir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = weir_env(bootstrap, registry, str(tmp / "busy"), VEHICLE_URL=f"http://127.0.0.1:{port}/vehicles/feed0.pb",
                   POLL_INTERVAL_MS=10000, OUTPUT_DIR=str(tmp / "busy-out"))
    files = [f"connectors/{c}.toml" for c in BUSY]
    seconds = 8 if QUICK else 40
    p = subprocess.Popen(pinned([WEIR, "run", *files]), cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    status = open(f"/proc/{p.pid}/status").read()
    peak = next((int(x.split()[1]) / 1024 for x in status.splitlines() if x.startswith("VmHWM:")), 0.0)
    cpu = sum(int(x) for x in open(f"/proc/{p.pid}/stat").read().split()[13:15]) / os.sysconf("SC_CLK_TCK")
    p.terminate()
    p.wait(timeout=60)
    server.terminate()
    if p.returncode != 0:
        sys.exit(f"the busy host exited with {p.returncode}")
    add("busy host, all five pipelines", "weir", 0, seconds, cpu, peak,
        note=f"{len(BUSY)} connectors; CPU over {seconds} s; peak RSS (VmHWM)")


def ratio(workload, who, peer, key):
    a = [r for r in results if r["workload"] == workload and r["who"] == who]
    b = [r for r in results if r["workload"] == workload and r["who"] == peer]
    if a and b and a[0].get(key) and b[0].get(key):
        return a[0][key] / b[0][key]
    return None


def write_results():
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": QUICK, "cores": CORES,
            "machine": platform.platform(), "python": platform.python_version()}
    # A quick run only checks that every workload runs: it never replaces the
    # full results.
    stem = "quick" if QUICK else "only" if ONLY else "latest"
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results, "latency": latencies,
                                                  "allocations": allocations,
                                                  "languages": languages_in_process}, indent=1))
    lines = [f"# `just bench` results ({meta['date']}{', quick' if QUICK else ''})", "",
             f"{CORES} cores; broker (`weir broker`) pinned to core {BROKER_CORE}, each client to core "
             f"{CLIENT_CORE}, one at a time; best of {REPS} by CPU. CPU = user + system seconds of the client "
             "process (wait4). Reproduce: `just bench` (or `just bench --quick`).", "",
             "| workload | who | records | wall s | CPU s | records / CPU-s | CPU-s per 1M | peak RSS MB | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r["workload"].startswith("boundary"):
            continue
        lines.append(f"| {r['workload']} | {r['who']} | {r['records']:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                     f"{(r['records_per_cpu_s'] or 0):,.0f} | {(r['cpu_s_per_million'] or 0):.2f} | "
                     f"{(r['rss_mb'] or 0):.1f} | {r['note']} |")
    lines += ["", "## WASM boundary (same plugin crate, native vs component)", "",
              "| plugin | batch | native ns/record | wasm ns/record | wasm ns/call | wasm ÷ native |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["workload"].startswith("boundary") and r["who"] == "wasm":
            n = next(x for x in results if x["workload"] == r["workload"] and x["who"] == "native")
            plugin = r["workload"].split()[1]
            batch = r["workload"].split()[-1]
            lines.append(f"| {plugin} | {batch} | {n['ns_per_record']:.0f} | {r['ns_per_record']:.0f} | "
                         f"{r['ns_per_call']:.0f} | {r['ns_per_record'] / n['ns_per_record']:.2f} |")
    if languages_in_process:
        lines += ["", "## Plugins by language (in process, batches of 1,000 purchases)", "",
                  "| plugin | language | component MB | compile ms (uncached) | instantiate ms | memory after init MiB "
                  "| peak memory MiB | µs / record | slowest call ms | default limits |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for d in languages_in_process:
            lines.append(f"| {d['plugin']} | {d['language']} | {d['bytes'] / 1e6:.1f} | {d['compile_ms']:,.0f} | "
                         f"{d['instantiate_ms']:.1f} | {d['memory_after_init_mb']:.0f} | {d['memory_peak_mb']:.0f} | "
                         f"{d['ns_per_record'] / 1e3:.1f} | {d['slowest_call_ms']:.0f} | "
                         f"{d['default_memory_mb']} MiB, {d['default_call_timeout_ms']:,} ms |")
    lines += ["", "## Ratios (weir ÷ peer, records per CPU-second; above 1 means weir does more per CPU)", ""]
    for w, who, peer in [
        ("produce 500 B", "weir (Kafka sink)", "python confluent-kafka"),
        ("produce 500 B", "weir (Kafka sink)", "kcat (Debian)"),
        ("purchases generate+produce", "weir (WASM generator)", "python Faker + confluent-kafka"),
        ("customer events generate+Avro+produce", "weir (WASM generator, Avro sink)",
         "python Faker + AvroSerializer"),
        ("kafka → validate → kafka", "weir (WASM validator)", "python confluent-kafka (same rules)"),
        ("kafka → validate → kafka, plugin languages", "weir, Python plugin", "python confluent-kafka (same rules)"),
        ("kafka → validate → kafka, plugin languages", "weir, Python plugin", "weir, Rust plugin"),
        ("aggregate views → parquet", "weir (WASM aggregator)", "python confluent-kafka + pyarrow"),
        ("gtfs decode 5k vehicles", "weir wasm", "python gtfs-realtime-bindings"),
        ("gtfs decode 5k vehicles", "weir wasm", "weir native"),
        ("parquet rows", "weir sink", "bare ArrowWriter"),
    ]:
        r = ratio(w, who, peer, "records_per_cpu_s")
        if r:
            lines.append(f"- {w}: {who} vs {peer}: **{r:.2f}×**")
    for kind, who, targets in (("consume", "weir (Kafka source)", ""),
                               ("produce", "weir (Kafka sink)", " (targets ≥ 0.8× and ≤ 1.25×)")):
        for size in (100, 500, 1000):
            w = f"{kind} {size} B"
            rate = ratio(w, who, "rdkafka_performance", "records_per_s")
            cpu = ratio(w, "rdkafka_performance", who, "records_per_cpu_s")
            if rate and cpu:
                lines.append(f"- {w}: weir vs rdkafka_performance: **{rate:.2f}×** its records/s, "
                             f"**{cpu:.2f}×** its CPU per record{targets}")
    for a in allocations:
        lines += ["", "## Host heap allocations on the validate path", "",
                  f"Kafka → validate (WASM) → Kafka run in-process by `weir-bench pipeline` with a counting global "
                  f"allocator, from the start of the run to its end (group join, end-of-input wait and final "
                  f"checkpoint included): **{a['allocations_per_record']:.2f} allocations and "
                  f"{a['bytes_per_record']:.0f} B per record** over {a['records']:,} records. librdkafka's own "
                  "buffers (C `malloc`) and the plugin's linear memory are not counted."]
    if latencies:
        lat = latencies[0]
        lines += ["", "## End-to-end latency", "",
                  f"Kafka → validate (WASM) → Kafka peaked at {lat['peak']:,.0f} records/s over records already in "
                  f"the topic. Then the generator produced at a fixed rate (pinned to core {CLIENT_CORE}, the "
                  "validating host not pinned) while the host read: each record's time from generation to the "
                  "acknowledgement of its output (the host's own histogram, `weir_end_to_end_seconds`). The "
                  "generating host's producer lingers as the table says before it sends: that wait is part of "
                  "every end-to-end time.", "",
                  "| rate (records/s) | generator's linger ms | seconds | records | p50 ms | p99 ms | p99.9 ms |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for lat in latencies:
            lines.append(f"| {lat['rate']:,} | {lat.get('gen_linger_ms', '?')} | {lat['seconds']} | "
                         f"{lat['read']:,} | {lat['p50_ms']} | {lat['p99_ms']} | {lat['p999_ms']} |")
        lines += ["", "Where the time went, per batch (`weir_phase_seconds`; ms, p50 / p99 / p99.9):", "",
                  "| phase | " + " | ".join(f"{lat['rate']:,}/s, linger {lat.get('gen_linger_ms', '?')}"
                                          for lat in latencies) + " |",
                  "|---|" + "---:|" * len(latencies)]
        names = []
        for lat in latencies:
            names += [ph["phase"] for ph in lat["phases"] if ph["phase"] not in names]
        for name in names:
            cells = []
            for lat in latencies:
                ph = next((ph for ph in lat["phases"] if ph["phase"] == name), None)
                cells.append(f"{ph['p50_ms']:.2f} / {ph['p99_ms']:.2f} / {ph['p999_ms']:.2f}" if ph else "–")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for note in KCAT_BROKEN[:1]:
        lines += ["", f"kcat could not be measured: `{note}` (Debian's kcat links librdkafka 2.0.2, "
                  "whose ApiVersions request the embedded broker, Tansu 0.6, answers in a form it cannot read)."]
    text = "\n".join(lines) + "\n"
    (out / f"{stem}.md").write_text(text)
    print()
    print(text)


def main():
    with tempfile.TemporaryDirectory() as t, weir_broker(WEIR) as (bootstrap, registry):
        tmp = pathlib.Path(t)
        broker = subprocess.run(["pgrep", "-f", f"weir broker --listen {bootstrap}"], capture_output=True, text=True)
        for pid in broker.stdout.split():
            subprocess.run(["taskset", "-pc", BROKER_CORE, pid], capture_output=True)
        workloads = {
            "boundary": lambda: boundary(),
            "gtfs": lambda: gtfs(tmp),
            "produce": lambda: raw_produce(bootstrap),
            "generator": lambda: generator(bootstrap, registry, tmp),
            "avro": lambda: avro(bootstrap, registry, tmp),
            "latency": lambda: latency(bootstrap, registry, tmp),
            "languages": lambda: languages(bootstrap, registry, tmp),
            "aggregate": lambda: aggregate(bootstrap, registry, tmp),
            "parquet": lambda: parquet_rows(),
            "postgres": lambda: postgres_cdc(bootstrap, registry, tmp),
            "idle": lambda: footprint(bootstrap, registry, tmp),
            "busy": lambda: footprint_busy(bootstrap, registry, tmp),
        }
        unknown = ONLY - workloads.keys()
        if unknown:
            sys.exit(f"unknown workloads {sorted(unknown)}; known: {', '.join(workloads)}")
        for name, run in workloads.items():
            if not ONLY or name in ONLY:
                run()
    write_results()


if __name__ == "__main__":
    main()
