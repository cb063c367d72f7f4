//! The `weir` command line. Errors become `anyhow` here, at the edge, with context.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use weir::config::{self, KafkaConfig, Loaded};
use weir::kafka::client::Cluster;
use weir::kafka::embedded::{BrokerStorage, EmbeddedBroker};
use weir::observe::{self, Health, Phase};
use weir::pipeline::{Pipeline, StopAfter, start_plugin};
use weir::registry::{EmbeddedRegistry, RegistryError};
use weir::runtime::{Language, Role, Runtime};

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "Run Kafka-Connect-style pipelines with sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, env = "WEIR_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors until stopped (Ctrl-C drains, flushes and commits).
    Run {
        /// Connector files (`connectors/*.toml`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Kafka bootstrap servers; without it (and without one in the TOML) an
        /// embedded broker is started.
        #[arg(long, env = "WEIR_BOOTSTRAP_SERVERS")]
        bootstrap_servers: Option<String>,
        /// Stop each connector once its source has handed on this many records
        /// (then flush, checkpoint and exit). A record is what the source reads,
        /// before any plugin: a Kafka source counts messages of its topic
        /// (filtered and dead-lettered ones included); a generator counts the
        /// records its plugin made; an HTTP source counts response bodies that
        /// differ from the last one (polls returning the same body do not
        /// count), not the records a plugin makes from a body (e.g. one per
        /// GTFS vehicle).
        #[arg(long)]
        max_records: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Stop once every Kafka source has handled its topic up to the end
        /// (a bounded run: catch up, report, checkpoint, exit).
        #[arg(long)]
        exit_at_end: bool,
        /// Extra directories to find plugins in, `:` separated.
        #[arg(long, env = "WEIR_PLUGIN_DIR")]
        plugin_dir: Option<String>,
        /// Directory for checkpoints (plugin state + source positions), one file
        /// per connector; overrides `[checkpoint] dir`. Default `.weir/state`.
        #[arg(long, env = "WEIR_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// Serve Prometheus metrics on this address (`/metrics`), e.g. 127.0.0.1:9464.
        #[arg(long, env = "WEIR_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Schema registry (Confluent REST API) URL; without it, a run on the
        /// embedded broker starts an embedded registry (127.0.0.1:8081, or a
        /// free port when that one is taken).
        #[arg(long, env = "WEIR_SCHEMA_REGISTRY_URL")]
        schema_registry_url: Option<String>,
    },
    /// Show what `run` would do with these connector files, without producing
    /// anything: topics to create (and existing ones with other settings),
    /// schemas and the registry's verdict, plugins with their contract versions
    /// and limits, sinks, state. Exits 1 when the deploy would fail.
    Plan {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, env = "WEIR_BOOTSTRAP_SERVERS")]
        bootstrap_servers: Option<String>,
        #[arg(long, env = "WEIR_SCHEMA_REGISTRY_URL")]
        schema_registry_url: Option<String>,
        #[arg(long, env = "WEIR_PLUGIN_DIR")]
        plugin_dir: Option<String>,
        #[arg(long, env = "WEIR_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Check connector files and their plugins without running anything.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, env = "WEIR_PLUGIN_DIR")]
        plugin_dir: Option<String>,
    },
    /// Play each plugin's fixtures (`plugins/NAME/fixtures/CASE/`) through the
    /// sandbox with a virtual clock and seeded randomness, twice, and compare
    /// every output byte with the expectations.
    Conformance {
        /// Plugins to check (folder names under --root); all with fixtures if none.
        plugins: Vec<String>,
        /// Rewrite the expectations from what the plugins produce now.
        #[arg(long)]
        bless: bool,
        /// Where plugin crates (and their fixtures) live.
        #[arg(long, default_value = "plugins")]
        root: PathBuf,
        #[arg(long, env = "WEIR_PLUGIN_DIR")]
        plugin_dir: Option<String>,
    },
    /// Capture records from a topic into a fixture case (`DIR/input.jsonl`).
    Record {
        #[arg(long)]
        topic: String,
        /// The case folder, e.g. plugins/NAME/fixtures/CASE.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "WEIR_BOOTSTRAP_SERVERS")]
        bootstrap_servers: String,
        /// Most records to capture.
        #[arg(long, default_value_t = 100)]
        max_records: usize,
        /// Stop when no record came for this many seconds.
        #[arg(long, default_value_t = 5.0)]
        idle: f64,
    },
    /// Print a topic's records as JSON lines, decoding Confluent-framed Avro
    /// through the schema registry (like kafka-avro-console-consumer).
    Tail {
        topic: String,
        #[arg(long, env = "WEIR_BOOTSTRAP_SERVERS")]
        bootstrap_servers: String,
        /// Needed when records carry Avro (magic byte 0 + schema id).
        #[arg(long, env = "WEIR_SCHEMA_REGISTRY_URL")]
        schema_registry_url: Option<String>,
        /// Start at the oldest record (default: only new ones).
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many records.
        #[arg(long)]
        max: Option<u64>,
        /// Stop when no record came for this many seconds.
        #[arg(long)]
        idle: Option<f64>,
        /// Include each record's headers.
        #[arg(long)]
        headers: bool,
    },
    /// Plugin authoring: scaffold a crate, inspect a component.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Run only the embedded Kafka-protocol broker and schema registry, for
    /// several weir processes to share.
    Broker {
        #[arg(long, default_value = "127.0.0.1:9092")]
        listen: SocketAddr,
        /// Where the schema registry (Confluent REST API) listens.
        #[arg(long, default_value_t = weir::registry::DEFAULT_LISTEN)]
        registry_listen: SocketAddr,
        /// Keep topics, records, offsets and groups in this directory (SQLite)
        /// across restarts; without it everything lives in memory.
        #[arg(long, env = "WEIR_BROKER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create `plugins/NAME/` from a template, with one passing fixture.
    New {
        name: String,
        #[arg(long, value_enum)]
        world: World,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
        /// Where plugin crates live.
        #[arg(long, default_value = "plugins")]
        root: PathBuf,
    },
    /// Print a component's world, contract version, imports and exports, and
    /// whether this host would run it.
    Inspect { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum World {
    Source,
    Transform,
    Aggregator,
}

#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
}

impl From<Lang> for Language {
    fn from(l: Lang) -> Language {
        match l {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::JavaScript,
        }
    }
}

impl From<World> for Role {
    fn from(w: World) -> Role {
        match w {
            World::Source => Role::Source,
            World::Transform => Role::Transform,
            World::Aggregator => Role::Aggregator,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,tansu=warn,tansu_broker=warn,tansu_storage=warn,tansu_sans_io=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run {
            files,
            bootstrap_servers,
            max_records,
            duration,
            exit_at_end,
            plugin_dir,
            state_dir,
            metrics_listen,
            schema_registry_url,
        } => {
            let health = Arc::new(Health::default());
            if let Some(addr) = metrics_listen {
                let bound = observe::serve(addr, health.clone()).await?;
                tracing::info!(addr = %bound, "Metrics at http://{bound}/metrics, health at /healthz and /readyz.");
            }
            let stop = StopAfter {
                max_records,
                duration: duration.map(Duration::from_secs_f64),
                at_end: exit_at_end,
            };
            run(
                &files,
                bootstrap_servers,
                schema_registry_url,
                stop,
                plugin_dir.as_deref(),
                state_dir.as_deref(),
                &health,
            )
            .await
        }
        Command::Validate { files, plugin_dir } => validate(&files, plugin_dir.as_deref()),
        Command::Plan {
            files,
            bootstrap_servers,
            schema_registry_url,
            plugin_dir,
            state_dir,
        } => {
            plan(
                &files,
                bootstrap_servers,
                schema_registry_url,
                plugin_dir.as_deref(),
                state_dir.as_deref(),
            )
            .await
        }
        Command::Broker {
            listen,
            registry_listen,
            data_dir,
        } => broker(listen, registry_listen, data_dir).await,
        Command::Tail {
            topic,
            bootstrap_servers,
            schema_registry_url,
            from_beginning,
            max,
            idle,
            headers,
        } => {
            let opts = weir::kafka::print::TailOptions {
                from_beginning,
                max,
                idle: idle.map(Duration::from_secs_f64),
                headers,
            };
            let cluster = weir::kafka::client::Cluster {
                bootstrap: bootstrap_servers,
                settings: config::KafkaConfig::default(),
            };
            let registry = schema_registry_url.filter(|u| !u.trim().is_empty());
            weir::kafka::print::tail(
                &cluster,
                &topic,
                registry.as_deref(),
                &opts,
                &mut std::io::stdout().lock(),
            )
            .await
            .with_context(|| format!("tailing {topic}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Record {
            topic,
            out,
            bootstrap_servers,
            max_records,
            idle,
        } => {
            let n = weir::conformance::record_topic(
                &bootstrap_servers,
                &topic,
                max_records,
                Duration::from_secs_f64(idle),
                &out,
            )
            .await?;
            println!(
                "recorded {n} records of {topic} into {}",
                out.join("input.jsonl").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin {
            command:
                PluginCommand::New {
                    name,
                    world,
                    lang,
                    root,
                },
        } => {
            let files = weir::scaffold::new_plugin(&root, &name, world.into(), lang.into())?;
            for f in &files {
                println!("created {}", f.display());
            }
            println!(
                "\nnext: just plugin {name} && just conformance {name}\n\
                 then name it in a connector: plugin = \"{name}\""
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => {
            let runtime = Runtime::new(Runtime::default_cache_dir())?;
            let i = tokio::task::block_in_place(|| weir::runtime::inspect(&runtime, &file))?;
            println!("component  {} ({} bytes)", file.display(), i.bytes);
            println!("language   {}", i.language);
            match &i.verdict {
                Ok((role, v)) => println!("world      {role} (weir:plugin@{v})"),
                Err(_) => println!("world      none this host runs"),
            }
            println!("exports    {}", i.exports.join("\n           "));
            println!("imports    {}", i.imports.join("\n           "));
            Ok(match &i.verdict {
                Ok(_) => {
                    println!("verdict    runs on this host");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("verdict    refused: {e}");
                    ExitCode::from(2)
                }
            })
        }
        Command::Conformance {
            plugins,
            bless,
            root,
            plugin_dir,
        } => {
            // Guests use synchronous WASI, which may not run on an async worker.
            tokio::task::spawn_blocking(move || {
                conformance(&plugins, bless, &root, plugin_dir.as_deref())
            })
            .await?
        }
    }
}

/// Loads every file, printing every error (not just the first).
fn load_all(files: &[PathBuf], plugin_dir: Option<&str>) -> Option<Vec<Loaded>> {
    let dirs = config::plugin_dirs(plugin_dir);
    let mut ok = Vec::new();
    let mut failed = false;
    for f in files {
        match config::load(f, &dirs) {
            Ok(l) => ok.push(l),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    (!failed).then_some(ok)
}

/// The cluster a connector runs against: the flag (or its variable), else the
/// TOML's `[kafka] bootstrap_servers`; `None` means the embedded broker.
fn configured_bootstrap(flag: Option<&str>, l: &Loaded) -> Option<String> {
    flag.map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            l.connector
                .kafka
                .bootstrap_servers
                .clone()
                .filter(|s| !s.trim().is_empty())
        })
}

/// The schema registry a connector uses: the flag (or its variable), else the
/// TOML's `[schema_registry] url`; `None` means an embedded one.
fn configured_registry(flag: Option<&str>, l: &Loaded) -> Option<String> {
    flag.map(str::to_string)
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            l.connector
                .schema_registry
                .url
                .clone()
                .filter(|u| !u.trim().is_empty())
        })
}

async fn plan(
    files: &[PathBuf],
    bootstrap_flag: Option<String>,
    registry_flag: Option<String>,
    plugin_dir: Option<&str>,
    state_dir: Option<&Path>,
) -> Result<ExitCode> {
    use weir::plan::Level;
    let Some(loaded) = load_all(files, plugin_dir) else {
        return Ok(ExitCode::from(2));
    };
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let (mut errors, mut warnings) = (0, 0);
    for l in &loaded {
        let bootstrap = configured_bootstrap(bootstrap_flag.as_deref(), l);
        let target = weir::plan::Target {
            registry: configured_registry(registry_flag.as_deref(), l),
            bootstrap,
            state_dir: l.state_dir(state_dir),
        };
        let p = weir::plan::plan(l, &runtime, &target).await;
        errors += p.count(Level::Error);
        warnings += p.count(Level::Warn);
        println!("{}", p.render());
    }
    println!(
        "plan: {} connectors, {errors} errors, {warnings} warnings{}",
        loaded.len(),
        if errors > 0 {
            " — `weir run` would fail"
        } else {
            ""
        }
    );
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn validate(files: &[PathBuf], plugin_dir: Option<&str>) -> Result<ExitCode> {
    let Some(loaded) = load_all(files, plugin_dir) else {
        return Ok(ExitCode::from(2));
    };
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let mut failed = false;
    for l in &loaded {
        let c = &l.connector;
        let limits = c.limits;
        let mut parts: Vec<String> = c.source.connector().summary().into_iter().collect();
        for stage in &l.plugins {
            let started = start_plugin(
                &runtime,
                &l.name,
                &stage.path,
                stage.role,
                stage.config_json.clone(),
                limits,
            );
            match started {
                Ok(inst) => {
                    let p = inst.plugin();
                    parts.push(format!("{}({}@{})", stage.role, p.name, p.contract));
                }
                Err(e) => {
                    eprintln!("error: {}: {e:#}", l.path.display());
                    failed = true;
                }
            }
        }
        parts.extend(c.sink.connectors().iter().map(|s| s.summary()));
        println!(
            "ok  {}  [{}]  {}  dlq={}",
            l.path.display(),
            l.name,
            parts.join(" → "),
            l.dlq_topic
        );
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn run(
    files: &[PathBuf],
    bootstrap_flag: Option<String>,
    registry_flag: Option<String>,
    stop: StopAfter,
    plugin_dir: Option<&str>,
    state_dir: Option<&Path>,
    health: &Arc<Health>,
) -> Result<ExitCode> {
    let Some(loaded) = load_all(files, plugin_dir) else {
        return Ok(ExitCode::from(2));
    };
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let configured = |l: &Loaded| configured_bootstrap(bootstrap_flag.as_deref(), l);
    let mut embedded = None;
    if loaded.iter().any(|l| configured(l).is_none()) {
        let b = EmbeddedBroker::start("127.0.0.1:0".parse()?)
            .await
            .context("starting the embedded Kafka broker")?;
        tracing::info!(bootstrap = %b.bootstrap(), "Embedded Kafka broker listening (memory storage; set --bootstrap-servers to use a real cluster).");
        embedded = Some(b);
    }
    // The registry an Avro sink uses: the flag (or WEIR_SCHEMA_REGISTRY_URL),
    // else the connector's `[schema_registry] url`, else an embedded one on the
    // connector's cluster (started once, kept alive for the run).
    let flag = registry_flag.filter(|u| !u.trim().is_empty());
    let mut registry: Option<EmbeddedRegistry> = None;
    let mut pipelines = Vec::new();
    for l in &loaded {
        health.set(&l.name, Phase::Starting);
    }
    for l in &loaded {
        let bootstrap = configured(l)
            .or_else(|| embedded.as_ref().map(EmbeddedBroker::bootstrap))
            .unwrap_or_default();
        let mut url = configured_registry(flag.as_deref(), l);
        let wants_registry = !l.subjects.is_empty() || embedded.is_some();
        if url.is_none() && wants_registry {
            if registry.is_none() {
                registry = Some(start_run_registry(&bootstrap).await?);
            }
            url = registry.as_ref().map(EmbeddedRegistry::url);
        }
        let p = Pipeline::build(
            l,
            &runtime,
            &bootstrap,
            url.as_deref(),
            &l.state_dir(state_dir),
        )
        .await
        .with_context(|| format!("starting {}", l.path.display()))?;
        pipelines.push(p);
    }

    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    let progress = stop
        .max_records
        .filter(|_| std::io::stderr().is_terminal())
        .map(|max| progress_bars(&pipelines, max));
    for p in pipelines {
        let token = shutdown.clone();
        let health = health.clone();
        tasks.spawn(async move {
            let name = p.name().to_string();
            health.set(&name, Phase::Running);
            let result = p.run(stop, token).await;
            health.set(
                &name,
                match &result {
                    Ok(_) => Phase::Stopped,
                    Err(e) => Phase::Failed(e.to_string()),
                },
            );
            (name, result)
        });
    }
    let mut failed = false;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(stats))) => {
                tracing::debug!(?stats, "Connector finished.");
            }
            Ok((name, Err(e))) => {
                eprintln!("error: {name}: {e}");
                failed = true;
                shutdown.cancel();
            }
            Err(e) => {
                eprintln!("error: a connector task failed: {e}");
                failed = true;
                shutdown.cancel();
            }
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    if let Some(r) = registry {
        r.stop().await;
    }
    drop(embedded);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn conformance(
    only: &[String],
    bless: bool,
    root: &Path,
    plugin_dir: Option<&str>,
) -> Result<ExitCode> {
    use weir::conformance::{Case, Verdict, check_case, discover};
    let dirs = config::plugin_dirs(plugin_dir);
    let suites = discover(root, only, &dirs)?;
    let runtime = Runtime::new(Runtime::default_cache_dir())?;
    let (mut passed, mut blessed, mut failed) = (0u32, 0u32, 0u32);
    for suite in &suites {
        let Some(component) = &suite.component else {
            println!(
                "FAIL {}: component not built; run `just plugin {}`",
                suite.plugin, suite.plugin
            );
            failed += suite.cases.len().max(1) as u32;
            continue;
        };
        for dir in &suite.cases {
            let verdict = Case::load(&suite.plugin, dir)
                .and_then(|case| check_case(&runtime, component, &case, bless));
            let name = format!(
                "{}/{}",
                suite.plugin,
                dir.file_name().unwrap_or_default().to_string_lossy()
            );
            match verdict {
                Ok(Verdict::Passed) => {
                    passed += 1;
                    println!("ok   {name}");
                }
                Ok(Verdict::Blessed) => {
                    blessed += 1;
                    println!("bless {name}");
                }
                Ok(Verdict::Failed(why)) => {
                    failed += 1;
                    println!("FAIL {name}\n     {why}");
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL {name}\n     {e}");
                }
            }
        }
    }
    if blessed > 0 {
        println!("{passed} passed, {blessed} blessed, {failed} failed");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A URL without its query string, which may hold credentials.
/// SIGINT or SIGTERM: finish the batch in flight, flush, commit, exit 0.
async fn watch_signals(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("Stopping: finishing the batch in flight, then flushing and committing.");
    token.cancel();
}

async fn broker(
    listen: SocketAddr,
    registry_listen: SocketAddr,
    data_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let storage = data_dir.map_or(BrokerStorage::Memory, BrokerStorage::Dir);
    let b = EmbeddedBroker::start_with(listen, &storage)
        .await
        .with_context(|| format!("starting the broker on {listen}"))?;
    let registry = EmbeddedRegistry::start(registry_listen, &embedded_cluster(&b.bootstrap()))
        .await
        .context("starting the schema registry")?;
    let kept = match &storage {
        BrokerStorage::Memory => "memory storage".to_string(),
        BrokerStorage::Dir(d) => format!("data in {}", d.display()),
    };
    tracing::info!(
        bootstrap = %b.bootstrap(),
        schema_registry = %registry.url(),
        storage = %kept,
        "Embedded Kafka broker and schema registry listening. Ctrl-C stops them."
    );
    let token = CancellationToken::new();
    let mut b = b;
    tokio::select! {
        () = watch_signals(token.clone()) => {}
        () = b.stopped() => {
            registry.stop().await;
            anyhow::bail!("the broker on {listen} stopped on its own; its error is logged above");
        }
    }
    registry.stop().await;
    drop(b);
    Ok(ExitCode::SUCCESS)
}

/// Client settings for weir's own use of the embedded broker.
fn embedded_cluster(bootstrap: &str) -> Cluster {
    Cluster {
        bootstrap: bootstrap.to_string(),
        settings: KafkaConfig::default(),
    }
}

/// The registry of a run on the embedded broker: on Confluent's port when it
/// is free, else on any free port (the URL is logged).
async fn start_run_registry(bootstrap: &str) -> Result<EmbeddedRegistry> {
    let cluster = embedded_cluster(bootstrap);
    let registry = match EmbeddedRegistry::start(weir::registry::DEFAULT_LISTEN, &cluster).await {
        Err(RegistryError::Listen { .. }) => {
            EmbeddedRegistry::start(SocketAddr::from(([127, 0, 0, 1], 0)), &cluster).await
        }
        started => started,
    }
    .context("starting the embedded schema registry")?;
    tracing::info!(url = %registry.url(), "Embedded schema registry listening (state in the broker's `_schemas` topic; set --schema-registry-url to use another).");
    Ok(registry)
}

/// One progress bar per connector on the terminal, for a run bounded by
/// `--max-records`: records read so far out of `max`.
fn progress_bars(pipelines: &[Pipeline], max: u64) -> tokio::task::JoinHandle<()> {
    let bars = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:>20} {bar:30} {pos}/{len} records {per_sec} {elapsed}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let tracked: Vec<_> = pipelines
        .iter()
        .map(|p| {
            let bar = bars.add(indicatif::ProgressBar::new(max));
            bar.set_style(style.clone());
            bar.set_prefix(p.name().to_string());
            (bar, p.records_read())
        })
        .collect();
    tokio::spawn(async move {
        loop {
            for (bar, read) in &tracked {
                bar.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}
