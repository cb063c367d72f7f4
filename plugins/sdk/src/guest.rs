//! Glue between a plugin type and its world's bindings.
//!
//! The `export_*!` macros run `wit_bindgen::generate!` inside the plugin crate (so a
//! component carries exactly one world), keep the plugin value in a thread-local,
//! and move batches between the generated types and [`FlatBatch`](crate::FlatBatch)
//! without copying. Bindings are read from `../../wit`, i.e. plugins live in
//! `plugins/NAME/` next to the workspace's `wit/` folder. On other targets the
//! macros expand to nothing, so `cargo test -p NAME` tests the logic natively.

use std::sync::OnceLock;

/// Log levels of the host's `log` import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

static LOGGER: OnceLock<fn(Level, &str)> = OnceLock::new();

#[doc(hidden)]
pub fn __set_logger(f: fn(Level, &str)) {
    let _ = LOGGER.set(f);
}

/// Writes a line into the host's log, tagged with the plugin and connector.
pub fn log(level: Level, message: &str) {
    if let Some(f) = LOGGER.get() {
        f(level, message);
    }
}

/// The guest's wall clock in milliseconds since the Unix epoch (WASI's clock, which
/// the host makes virtual in conformance runs); 0 for a clock before 1970.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __weir_common {
    ($world:literal) => {
        $crate::wit_bindgen::generate!({
            world: $world,
            path: "../../wit",
            runtime_path: "::weir_sdk::wit_bindgen::rt",
        });

        use weir::plugin::types as wit;

        pub fn to_flat(b: wit::Batch) -> $crate::FlatBatch {
            $crate::FlatBatch {
                data: b.data,
                keys: b.keys,
                values: b.values,
                header_counts: b.header_counts,
                headers: b.headers,
                timestamps: b.timestamps,
            }
        }

        pub fn from_flat(b: $crate::FlatBatch) -> wit::Batch {
            wit::Batch {
                data: b.data,
                keys: b.keys,
                values: b.values,
                header_counts: b.header_counts,
                headers: b.headers,
                timestamps: b.timestamps,
            }
        }

        #[allow(dead_code)]
        pub fn from_outcome(o: $crate::Outcome) -> wit::Outcome {
            wit::Outcome {
                output: from_flat(o.output),
                origins: o.origins,
                passed: o.passed,
                failures: o
                    .failures
                    .into_iter()
                    .map(|f| wit::Failure {
                        index: f.index,
                        codes: f.codes,
                        reason: f.reason,
                    })
                    .collect(),
            }
        }

        pub fn install_logger() {
            $crate::__set_logger(|level, message| {
                let level = match level {
                    $crate::Level::Trace => wit::Level::Trace,
                    $crate::Level::Debug => wit::Level::Debug,
                    $crate::Level::Info => wit::Level::Info,
                    $crate::Level::Warn => wit::Level::Warn,
                    $crate::Level::Error => wit::Level::Error,
                };
                weir::plugin::host::log(level, message);
            });
        }

        /// Runs `f` on the plugin value, which `init` must have created.
        pub fn with_state<T, R>(
            cell: &'static ::std::thread::LocalKey<::std::cell::RefCell<Option<T>>>,
            f: impl FnOnce(&mut T) -> Result<R, String>,
        ) -> Result<R, String> {
            cell.with(|c| match c.borrow_mut().as_mut() {
                Some(state) => f(state),
                None => Err("plugin called before init".to_string()),
            })
        }
    };
}

/// Exports a [`Source`](crate::Source) implementation as the component's `source` world.
#[macro_export]
macro_rules! export_source {
    ($t:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __weir_source {
            $crate::__weir_common!("source");
            use exports::weir::plugin::source_api::Guest;
            use $crate::Source as _;

            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<Option<super::$t>> = const { ::std::cell::RefCell::new(None) };
            }

            pub struct Export;

            impl Guest for Export {
                fn init(config: String) -> Result<(), String> {
                    install_logger();
                    let state = <super::$t>::init(&config)?;
                    STATE.with(|c| *c.borrow_mut() = Some(state));
                    Ok(())
                }
                fn next_batch(max_records: u32) -> Result<wit::Batch, String> {
                    with_state(&STATE, |s| {
                        let mut out = $crate::FlatBatch::default();
                        s.next_batch(max_records, &mut out)?;
                        Ok(from_flat(out))
                    })
                }
                fn snapshot() -> Vec<u8> {
                    with_state(&STATE, |s| Ok(s.snapshot())).unwrap_or_default()
                }
                fn restore(state: Vec<u8>) -> Result<(), String> {
                    with_state(&STATE, |s| s.restore(&state))
                }
            }

            export!(Export);
        }
    };
}

/// Exports a [`Transform`](crate::Transform) implementation as the `transform` world.
#[macro_export]
macro_rules! export_transform {
    ($t:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __weir_transform {
            $crate::__weir_common!("transform");
            use exports::weir::plugin::transform_api::Guest;
            use $crate::Transform as _;

            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<Option<super::$t>> = const { ::std::cell::RefCell::new(None) };
            }

            pub struct Export;

            impl Guest for Export {
                fn init(config: String) -> Result<(), String> {
                    install_logger();
                    let state = <super::$t>::init(&config)?;
                    STATE.with(|c| *c.borrow_mut() = Some(state));
                    Ok(())
                }
                fn process(input: wit::Batch) -> Result<wit::Outcome, String> {
                    let input = to_flat(input);
                    let headers = input.header_table().map_err(|e| e.to_string())?;
                    let records = headers.records().map_err(|e| e.to_string())?;
                    with_state(&STATE, |s| {
                        let mut out = $crate::Outcome::default();
                        s.process(&records, &mut out)?;
                        Ok(from_outcome(out))
                    })
                }
                fn snapshot() -> Vec<u8> {
                    with_state(&STATE, |s| Ok(s.snapshot())).unwrap_or_default()
                }
                fn restore(state: Vec<u8>) -> Result<(), String> {
                    with_state(&STATE, |s| s.restore(&state))
                }
            }

            export!(Export);
        }
    };
}

/// Exports an [`Aggregator`](crate::Aggregator) implementation as the `aggregator` world.
#[macro_export]
macro_rules! export_aggregator {
    ($t:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __weir_aggregator {
            $crate::__weir_common!("aggregator");
            use exports::weir::plugin::aggregator_api::Guest;
            use $crate::Aggregator as _;

            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<Option<super::$t>> = const { ::std::cell::RefCell::new(None) };
            }

            pub struct Export;

            impl Guest for Export {
                fn init(config: String) -> Result<(), String> {
                    install_logger();
                    let state = <super::$t>::init(&config)?;
                    STATE.with(|c| *c.borrow_mut() = Some(state));
                    Ok(())
                }
                fn update(input: wit::Batch) -> Result<wit::Outcome, String> {
                    let input = to_flat(input);
                    let headers = input.header_table().map_err(|e| e.to_string())?;
                    let records = headers.records().map_err(|e| e.to_string())?;
                    with_state(&STATE, |s| {
                        let mut out = $crate::Outcome::default();
                        s.update(&records, &mut out)?;
                        Ok(from_outcome(out))
                    })
                }
                fn tick(watermark_ms: i64, now_ms: i64) -> Result<wit::Batch, String> {
                    with_state(&STATE, |s| {
                        let mut out = $crate::FlatBatch::default();
                        s.tick(watermark_ms, now_ms, &mut out)?;
                        Ok(from_flat(out))
                    })
                }
                fn snapshot() -> Vec<u8> {
                    with_state(&STATE, |s| Ok(s.snapshot())).unwrap_or_default()
                }
                fn restore(state: Vec<u8>) -> Result<(), String> {
                    with_state(&STATE, |s| s.restore(&state))
                }
            }

            export!(Export);
        }
    };
}
