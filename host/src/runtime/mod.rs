//! The sandbox: one wasmtime engine per process, components compiled once and
//! cached on disk, one store per plugin instance with a memory cap and a CPU
//! deadline, and WASI reduced to clocks and randomness.

mod bindings;
mod blocking;
mod component;
mod env;
mod host;
mod instance;
mod language;
pub mod version;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

/// A batch in the WIT layout, as it crosses into a plugin.
pub use bindings::types::Batch as Columns;
pub use blocking::AsyncInstance;
pub use component::{Inspection, Plugin, Role, inspect};
pub use env::{GuestEnv, VirtualEnv};
pub use instance::{CallError, Limits, PluginInstance};
pub use language::Language;

use host::HostState;

/// How often the epoch ticks; deadlines are counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Errors of loading and starting plugins: each names the plugin file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot read plugin {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a WebAssembly component wasmtime can compile: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error(
        "plugin {path} was built against {package}@{found}, but this host implements {package}@{host} \
         (it runs plugins built against {range}); rebuild the plugin against this release's wit/ folder"
    )]
    IncompatibleVersion {
        path: PathBuf,
        package: &'static str,
        found: String,
        host: String,
        range: String,
    },
    #[error(
        "plugin {path} exports none of weir:plugin's source-api, transform-api or aggregator-api; \
         build it with the weir SDK (`weir_sdk::export_source!` / `export_transform!` / `export_aggregator!`)"
    )]
    NotAPlugin { path: PathBuf },
    #[error("plugin {path} is a {found} plugin, but the connector uses it as a {wanted}")]
    WrongRole {
        path: PathBuf,
        found: Role,
        wanted: Role,
    },
    #[error("plugin {path} does not fit this host: {reason}")]
    Link { path: PathBuf, reason: String },
    #[error("plugin {plugin} failed to start: {reason}")]
    Init { plugin: String, reason: String },
    #[error("cannot set up the wasmtime engine: {0}")]
    Engine(String),
}

/// The process-wide engine and linker.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
}

impl Runtime {
    /// `cache_dir` keeps compiled components between runs (`None` disables it).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime, RuntimeError> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        // `WEIR_PERFMAP=1`: guest functions by name in `perf report`
        // (/tmp/perf-PID.map), for profiling a pipeline with its plugins.
        if std::env::var_os("WEIR_PERFMAP").is_some_and(|v| v != "0") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        bindings::weir::plugin::host::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        bindings::weir::plugin::types::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;

        // The epoch clock that enforces call deadlines. It holds only a weak
        // handle so it stops once the engine is gone.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("cannot start the epoch thread: {e}")))?;

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir,
            }),
        })
    }

    /// The default cache: `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir`, else `~/.cache/weir`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("WEIR_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("weir"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("weir"))
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}
