//! The in-process workloads of `just bench`, each printing JSON lines that
//! `bench/run.py` turns into the results table:
//!
//! - `boundary`: a plugin's logic called natively (the crate linked into this
//!   binary) against the same crate as a WebAssembly component through weir's
//!   sandbox (`PluginInstance::process`, what a pipeline stage calls), at
//!   several batch sizes: cost per call and per record, and the ratio;
//! - `gtfs`: a 5,000-vehicle GTFS-realtime feed decoded to JSON records, native
//!   and as a component;
//! - `produce`: fixed-size records through weir's Kafka sink (the one client
//!   set-up, idempotent, acks=all), for the raw produce comparison;
//! - `languages`: the same kind of plugin written in Rust, Python and
//!   JavaScript: compile time, instantiation, linear memory and cost per record,
//!   what the default limits of each language are set from;
//! - `pipeline`: a connector file run in-process to the end of its input,
//!   counting the host's heap allocations per record (a counting global
//!   allocator, [`allocs`]).

mod allocs;

#[global_allocator]
static ALLOCATOR: allocs::Counting = allocs::Counting;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use weir::config::KafkaConfig;
use weir::kafka::client::Cluster;
use weir::record::{self, Batch, Record};
use weir::runtime::Columns;
use weir::runtime::{GuestEnv, Limits, Plugin, PluginInstance, Role, Runtime};
use weir::sinks::KafkaSink;
use weir_sdk::{FlatBatch, Outcome, Source as _, Transform};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Native vs component for purchases-validate and bench-echo (emits every record as it came).
    Boundary {
        /// Where `just plugin` put the components.
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        /// Records pushed through each (plugin, batch size, variant).
        #[arg(long, default_value_t = 200_000)]
        records: usize,
    },
    /// Compile, instantiate, memory and per-record cost of plugins in each language.
    Languages {
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        /// Records pushed through each plugin, in batches of 1,000.
        #[arg(long, default_value_t = 20_000)]
        records: usize,
    },
    /// A 5,000-vehicle feed decoded, native vs component.
    Gtfs {
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Writes the 5,000-vehicle feed of `gtfs` to a file (for the Python peer).
    Feed {
        #[arg(long)]
        out: PathBuf,
    },
    /// `rows` campaign-minute rows to Parquet: weir's sink vs a bare `ArrowWriter`.
    Parquet {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// `count` records read from `topic` through weir's Kafka source (a fresh group).
    Consume {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        count: usize,
    },
    /// A connector run in-process to the end of its Kafka input: records read,
    /// and the host's heap allocations (count and bytes) per record.
    Pipeline {
        #[arg(long)]
        connector: PathBuf,
        #[arg(long)]
        bootstrap: String,
        #[arg(long, default_value = "target/plugins")]
        plugins: String,
        /// Checkpoints go here (a fresh folder: the run starts from the beginning).
        #[arg(long)]
        state: PathBuf,
    },
    /// `count` records of `size` bytes through weir's Kafka sink to `topic`.
    Produce {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        count: usize,
    },
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Boundary { plugins, records } => boundary(&plugins, records),
        Command::Languages { plugins, records } => languages(&plugins, records),
        Command::Gtfs { plugins, rounds } => gtfs(&plugins, rounds),
        Command::Feed { out } => Ok(std::fs::write(&out, gtfs_rt::feed::sample(5_000))
            .with_context(|| format!("writing {}", out.display()))?),
        Command::Produce {
            bootstrap,
            topic,
            size,
            count,
        } => produce(&bootstrap, &topic, size, count),
        Command::Parquet { rows } => parquet(rows),
        Command::Consume {
            bootstrap,
            topic,
            count,
        } => consume(&bootstrap, &topic, count),
        Command::Pipeline {
            connector,
            bootstrap,
            plugins,
            state,
        } => pipeline(&connector, &bootstrap, &plugins, &state),
    }
}

/// Runs `connector` to the end of its input after it is built (plugins loaded,
/// topics created), counting allocations over the run alone.
fn pipeline(
    connector: &std::path::Path,
    bootstrap: &str,
    plugins: &str,
    state: &std::path::Path,
) -> Result<()> {
    let loaded = weir::config::load(connector, &weir::config::plugin_dirs(Some(plugins)))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let runtime = Runtime::new(Runtime::default_cache_dir())?;
        let p = weir::pipeline::Pipeline::build(
            &loaded,
            &runtime,
            bootstrap,
            None,
            &loaded.state_dir(Some(state)),
        )
        .await?;
        let (allocs_before, bytes_before) = allocs::counted();
        let start = Instant::now();
        let stop = weir::pipeline::StopAfter {
            max_records: None,
            duration: None,
            at_end: true,
        };
        let stats = p
            .run(stop, tokio_util::sync::CancellationToken::new())
            .await?;
        let elapsed = start.elapsed();
        let (allocs_after, bytes_after) = allocs::counted();
        let read = stats.read.max(1) as f64;
        println!(
            "{}",
            json!({
                "workload": "pipeline",
                "connector": loaded.name,
                "records": stats.read,
                "written": stats.written,
                "seconds": elapsed.as_secs_f64(),
                "allocations": allocs_after - allocs_before,
                "allocations_per_record": (allocs_after - allocs_before) as f64 / read,
                "bytes_per_record": (bytes_after - bytes_before) as f64 / read,
            })
        );
        Ok(())
    })
}

/// One measurement, as a JSON line.
fn report(
    workload: &str,
    variant: &str,
    batch: usize,
    records: usize,
    elapsed: Duration,
    calls: usize,
) {
    let s = elapsed.as_secs_f64();
    println!(
        "{}",
        json!({
            "workload": workload,
            "variant": variant,
            "batch": batch,
            "records": records,
            "seconds": s,
            "records_per_sec": records as f64 / s,
            "ns_per_record": s * 1e9 / records as f64,
            "ns_per_call": s * 1e9 / calls as f64,
        })
    );
}

/// `n` purchase events from the generator plugin (native, seeded), as a batch.
fn purchases(n: usize) -> Result<FlatBatch> {
    let mut generator = purchases_gen::PurchasesGen::init(r#"{"seed": 11, "invalid_ratio": 0.02}"#)
        .map_err(anyhow::Error::msg)?;
    let mut out = FlatBatch::default();
    while out.len() < n {
        generator
            .next_batch((n - out.len()).min(1_000) as u32, &mut out)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(out)
}

/// The first `n` records of `all`, as their own batch.
fn prefix(all: &FlatBatch, n: usize) -> Result<FlatBatch> {
    let mut out = FlatBatch::default();
    for r in all.records()?.iter().take(n) {
        let headers: Vec<(&str, &[u8])> = r.headers.iter().map(|(k, v)| (*k, *v)).collect();
        out.push(r.key, r.value, &headers, r.timestamp_ms);
    }
    Ok(out)
}

fn component(
    runtime: &Runtime,
    dir: &std::path::Path,
    name: &str,
    config: &str,
) -> Result<PluginInstance> {
    let path = dir.join(format!("{name}.wasm"));
    let plugin = Plugin::load(runtime, &path, Role::Transform)
        .with_context(|| format!("loading {}; run `just plugin {name}` first", path.display()))?;
    let limits = Limits {
        memory_bytes: 256 << 20,
        call_timeout_ms: 10_000,
    };
    Ok(PluginInstance::start(
        Arc::new(plugin),
        "bench",
        config.to_string(),
        limits,
        GuestEnv::Real,
    )?)
}

/// Runs `records` records through `call` in batches of `batch`; the time taken.
fn drive(
    batch: &FlatBatch,
    records: usize,
    mut call: impl FnMut(&FlatBatch) -> Result<usize>,
) -> Result<(Duration, usize)> {
    let calls = records.div_ceil(batch.len()).max(1);
    // Warm up (component compiled, caches hot), not timed.
    for _ in 0..calls.min(3) {
        call(batch)?;
    }
    let start = Instant::now();
    let mut seen = 0;
    for _ in 0..calls {
        seen += call(batch)?;
    }
    let elapsed = start.elapsed();
    anyhow::ensure!(seen > 0, "the plugin answered nothing");
    Ok((elapsed, calls))
}

/// A plugin called natively, reading the batch as the component's glue does.
fn native<T: Transform>(t: &mut T, batch: &FlatBatch) -> Result<usize> {
    let headers = batch.header_table()?;
    let records = headers.records()?;
    let mut out = Outcome::default();
    t.process(&records, &mut out).map_err(anyhow::Error::msg)?;
    Ok(out.origins.len() + out.passed.len() + out.failures.len())
}

/// A batch as the host holds it: the columns a plugin call shares.
fn columns(batch: &FlatBatch) -> Arc<Columns> {
    Arc::new(record::columns(batch.clone()))
}

fn sandboxed(inst: &mut PluginInstance, batch: &Arc<Columns>, calls: &mut usize) -> Result<usize> {
    let out = inst.process(Arc::clone(batch))?;
    *calls += 1;
    // What a checkpoint does: the replay journal of the instance starts over.
    if calls.is_multiple_of(1_000) {
        inst.snapshot()?;
    }
    Ok(out.origins.len() + out.passed.len() + out.failures.len())
}

fn boundary(dir: &std::path::Path, records: usize) -> Result<()> {
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let all = purchases(10_000)?;
    for size in [1usize, 100, 1_000, 10_000] {
        let batch = prefix(&all, size)?;
        let n = records.max(size);
        // The same batch goes through again and again: with no duplicate
        // memory (`dedup_max_ids = 0`) every round is judged afresh, not as
        // repeats. (A retention of 0 ms still found the same id at the same
        // record time a repeat, so every round measured the rejection path.)
        let config =
            r#"{"allowed_currencies": ["USD", "EUR", "GBP", "CAD", "JPY"], "dedup_max_ids": 0}"#;
        let mut t =
            purchases_validate::PurchasesValidate::init(config).map_err(anyhow::Error::msg)?;
        let (e, calls) = drive(&batch, n, |b| native(&mut t, b))?;
        report("validate", "native", size, calls * size, e, calls);
        let mut inst = component(&runtime, dir, "purchases-validate", config)?;
        let mut count = 0;
        let shared = columns(&batch);
        let (e, calls) = drive(&batch, n, |_| sandboxed(&mut inst, &shared, &mut count))?;
        report("validate", "wasm", size, calls * size, e, calls);

        let mut t = bench_echo::Echo;
        let (e, calls) = drive(&batch, n, |b| native(&mut t, b))?;
        report("echo", "native", size, calls * size, e, calls);
        let mut inst = component(&runtime, dir, "bench-echo", "{}")?;
        let mut count = 0;
        let (e, calls) = drive(&batch, n, |_| sandboxed(&mut inst, &shared, &mut count))?;
        report("echo", "wasm", size, calls * size, e, calls);
    }
    Ok(())
}

/// Each plugin compiled without the cache, started five times, then fed
/// purchases in batches of 1,000: one JSON line per plugin.
fn languages(dir: &std::path::Path, records: usize) -> Result<()> {
    let validate =
        r#"{"allowed_currencies": ["USD", "EUR", "GBP", "CAD", "JPY"], "dedup_max_ids": 0}"#;
    let plugins = [
        ("purchases-validate", validate),
        ("purchases-validate-py", validate),
        ("mask-js", r#"{"fields": ["customer_id", "product_name"]}"#),
    ];
    let batch = purchases(1_000)?;
    let shared = columns(&batch);
    for (name, config) in plugins {
        let path = dir.join(format!("{name}.wasm"));
        let uncached = Runtime::new(None)?;
        let start = Instant::now();
        let plugin = Arc::new(
            Plugin::load(&uncached, &path, Role::Transform).with_context(|| {
                format!("loading {}; run `just plugin {name}` first", path.display())
            })?,
        );
        let compile = start.elapsed();
        let limits = plugin.language.default_limits();
        let fresh = || {
            PluginInstance::start(
                plugin.clone(),
                "bench",
                config.into(),
                limits,
                GuestEnv::Real,
            )
        };
        let start = Instant::now();
        for _ in 0..5 {
            fresh()?;
        }
        let instantiate = start.elapsed() / 5;
        let mut inst = fresh()?;
        let after_init = inst.peak_memory();
        let mut count = 0;
        let mut slowest = Duration::ZERO;
        let (elapsed, calls) = drive(&batch, records, |_| {
            let t = Instant::now();
            let n = sandboxed(&mut inst, &shared, &mut count);
            slowest = slowest.max(t.elapsed());
            n
        })?;
        println!(
            "{}",
            json!({
                "bench": "languages",
                "plugin": name,
                "language": plugin.language.to_string(),
                "bytes": std::fs::metadata(&path)?.len(),
                "compile_ms": compile.as_secs_f64() * 1e3,
                "instantiate_ms": instantiate.as_secs_f64() * 1e3,
                "memory_after_init_mb": after_init as f64 / (1 << 20) as f64,
                "memory_peak_mb": inst.peak_memory() as f64 / (1 << 20) as f64,
                "ns_per_record": elapsed.as_nanos() as f64 / (calls * batch.len()) as f64,
                "slowest_call_ms": slowest.as_secs_f64() * 1e3,
                "default_memory_mb": limits.memory_bytes >> 20,
                "default_call_timeout_ms": limits.call_timeout_ms,
            })
        );
    }
    Ok(())
}

fn gtfs(dir: &std::path::Path, rounds: usize) -> Result<()> {
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let feed = gtfs_rt::feed::sample(5_000);
    let mut batch = FlatBatch::default();
    batch.push(None, Some(&feed), &[], 0);
    // The same feed every round, as the Python peer decodes it: a decoder
    // that skips feeds it has seen would skip it.
    let config = r#"{"skip_stale": false}"#;
    let mut t = gtfs_rt::GtfsRt::init(config).map_err(anyhow::Error::msg)?;
    let mut out_records = 0;
    let (e, calls) = drive(&batch, rounds, |b| {
        let headers = b.header_table()?;
        let records = headers.records()?;
        let mut out = Outcome::default();
        t.process(&records, &mut out).map_err(anyhow::Error::msg)?;
        out_records = out.output.len();
        Ok(out.output.len())
    })?;
    report(
        "gtfs-decode",
        "native",
        5_000,
        calls * out_records,
        e,
        calls,
    );
    let mut inst = component(&runtime, dir, "gtfs-rt", config)?;
    let shared = columns(&batch);
    let (e, calls) = drive(&batch, rounds, |_| {
        let out = inst.process(Arc::clone(&shared))?;
        out_records = out.output.len();
        Ok(out.output.len())
    })?;
    report("gtfs-decode", "wasm", 5_000, calls * out_records, e, calls);
    Ok(())
}

/// Reads `count` records of `topic` from the beginning with weir's Kafka source,
/// in batches as a pipeline takes them (the group join is timed too).
fn consume(bootstrap: &str, topic: &str, count: usize) -> Result<()> {
    on_cluster(bootstrap, |cluster| async move {
        let group = format!("bench-consume-{}", std::process::id());
        let consumer = cluster.consumer(&group, weir::config::StartFrom::Earliest)?;
        let batching = weir::sources::kafka::Batching {
            max: 10_000,
            timeout: Duration::from_millis(100),
            linger: Duration::ZERO,
        };
        let mut source = weir::sources::KafkaSource::new(consumer, bootstrap, topic, batching)?;
        let stop = tokio_util::sync::CancellationToken::new();
        let start = Instant::now();
        let (mut seen, mut batches) = (0, 0);
        while seen < count {
            let batch = source.next_batch(count - seen, &stop).await?;
            seen += batch.len();
            batches += usize::from(!batch.is_empty());
        }
        report("consume", "weir", 0, seen, start.elapsed(), batches.max(1));
        Ok(())
    })
}

/// Runs `work` on a one-worker runtime with weir's default client settings
/// for `bootstrap`: the set-up of the Kafka workloads.
fn on_cluster<F, Fut>(bootstrap: &str, work: F) -> Result<()>
where
    F: FnOnce(Cluster) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(work(Cluster {
        bootstrap: bootstrap.to_string(),
        settings: KafkaConfig::default(),
    }))
}

fn produce(bootstrap: &str, topic: &str, size: usize, count: usize) -> Result<()> {
    on_cluster(bootstrap, |cluster| async move {
        weir::kafka::admin::ensure_topics(
            &cluster,
            &[weir::kafka::admin::TopicSpec {
                name: topic.to_string(),
                partitions: 1,
                replication_factor: 1,
                config: Default::default(),
            }],
        )
        .await?;
        // As the pipeline does: connect first, so the idempotent producer
        // has its id when the first batch goes out.
        let producer = cluster.producer()?;
        Cluster::connect(&producer, topic);
        let mut sink = KafkaSink::new(producer, topic.to_string());
        let payload = vec![b'x'; size];
        let batch_size = 10_000;
        let start = Instant::now();
        let mut sent = 0;
        let mut in_flight = std::collections::VecDeque::new();
        while sent < count {
            let n = batch_size.min(count - sent);
            let now = record::now_ms();
            let mut batch = Batch::with_capacity(n, n * size);
            for _ in 0..n {
                batch.push(None, Some(&payload), record::NO_HEADERS, now, None);
            }
            // As the pipeline does: a few batches in flight, then wait for the oldest.
            in_flight.push_back(sink.produce(&batch).await?.1);
            if in_flight.len() > 4
                && let Some(oldest) = in_flight.pop_front()
            {
                oldest.settle().await?;
            }
            sent += n;
        }
        for pending in in_flight {
            pending.settle().await?;
        }
        report(
            "produce",
            "weir",
            size,
            count,
            start.elapsed(),
            count.div_ceil(batch_size),
        );
        Ok(())
    })
}

/// `rows` rows shaped like the campaign aggregation's output, as JSON records,
/// written to one Parquet file (zstd, fsynced) twice: through weir's Parquet
/// sink (rows checked against the declared columns, then Arrow) and by a bare
/// `ArrowWriter` fed by serde parsing the same records into typed columns,
/// what a program written for this one schema would do.
fn parquet(rows: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("weir-bench-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let now = record::now_ms();
    let records: Vec<Record> = (0..rows)
        .map(|i| {
            let count = 1 + (i % 97) as i64;
            let total = count * (1_000 + (i % 5_000) as i64);
            let value = json!({
                "campaign_id": 100 + (i % 50) as i64,
                "network_id": 1 + (i % 7) as i64,
                "minute_timestamp": format!("2026-11-30T{:02}:{:02}", (i / 600) % 24, (i / 10) % 60),
                "view_count": count,
                "avg_duration_s": total as f64 / count as f64 / 1000.0,
                "total_duration_ms": total,
            });
            Record {
                key: None,
                value: Some(value.to_string().into_bytes()),
                headers: Vec::new(),
                timestamp_ms: now,
                origin: None,
            }
        })
        .collect();
    let batch = Batch::from_records(&records);
    // Best of three rounds, the two writers taking turns: one round is a few
    // hundred milliseconds, within the machine's drift and an fsync's jitter.
    let (mut sink_best, mut bare_best) = (Duration::MAX, Duration::MAX);
    for round in 0..3 {
        sink_best = sink_best.min(parquet_through_sink(
            &batch,
            &dir.join(format!("weir-{round}")),
            rows,
        )?);
        bare_best = bare_best.min(parquet_bare(
            &records,
            &dir.join(format!("bare-{round}.parquet")),
        )?);
    }
    report("parquet", "weir sink", rows, rows, sink_best, 1);
    report("parquet", "bare ArrowWriter", rows, rows, bare_best, 1);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// One round of [`parquet`] through weir's Parquet sink: the time to a
/// closed, synced file.
fn parquet_through_sink(batch: &Batch, path: &std::path::Path, rows: usize) -> Result<Duration> {
    let cfg: weir::sinks::parquet::ParquetSinkConfig = serde_json::from_value(json!({
        "path": path.display().to_string(),
        "columns": [
            {"name": "campaign_id", "type": "int64", "nullable": false},
            {"name": "network_id", "type": "int64"},
            {"name": "minute_timestamp", "type": "string", "nullable": false},
            {"name": "view_count", "type": "int64", "nullable": false},
            {"name": "avg_duration_s", "type": "float64", "nullable": false},
            {"name": "total_duration_ms", "type": "int64", "nullable": false},
        ],
        "row_group_size": 65_536,
        "max_buffered_rows": rows + 1,
    }))?;
    let mut sink = weir::sinks::ParquetSink::new(&cfg, "bench")?;
    let start = Instant::now();
    let rejected = sink.write(batch);
    anyhow::ensure!(rejected.is_empty(), "rows refused: {:?}", &rejected[..1]);
    sink.flush(1)?;
    Ok(start.elapsed())
}

/// One round of [`parquet`] by a bare `ArrowWriter`: serde parses each record
/// into typed columns, then one `RecordBatch` goes to a synced file.
fn parquet_bare(records: &[Record], path: &std::path::Path) -> Result<Duration> {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    #[derive(serde::Deserialize)]
    struct Row {
        campaign_id: i64,
        network_id: Option<i64>,
        minute_timestamp: String,
        view_count: i64,
        avg_duration_s: f64,
        total_duration_ms: i64,
    }

    let start = Instant::now();
    let (mut ids, mut nets, mut minutes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut counts, mut avgs, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for r in records {
        let row: Row = serde_json::from_slice(r.value.as_deref().unwrap_or_default())?;
        ids.push(row.campaign_id);
        nets.push(row.network_id);
        minutes.push(row.minute_timestamp);
        counts.push(row.view_count);
        avgs.push(row.avg_duration_s);
        totals.push(row.total_duration_ms);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("campaign_id", Arc::new(Int64Array::from(ids))),
        ("network_id", Arc::new(Int64Array::from(nets))),
        ("minute_timestamp", Arc::new(StringArray::from(minutes))),
        ("view_count", Arc::new(Int64Array::from(counts))),
        ("avg_duration_s", Arc::new(Float64Array::from(avgs))),
        ("total_duration_ms", Arc::new(Int64Array::from(totals))),
    ];
    let batch = RecordBatch::try_from_iter(columns)?;
    let file = std::fs::File::create(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(65_536))
        .build();
    let mut writer = ArrowWriter::try_new(file.try_clone()?, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    file.sync_all()?;
    Ok(start.elapsed())
}
