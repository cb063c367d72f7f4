//! The conformance runner: plays each fixture case of a plugin through the same
//! runtime and limits as `weir run`, with a virtual clock and seeded randomness,
//! twice, and compares every output byte with the case's expectations.
//!
//! A case is a folder `plugins/NAME/fixtures/CASE/` with `case.toml`, an optional
//! `input.jsonl`, and `expected/{output.jsonl, dlq.jsonl, snapshot.bin}`.

mod case;
mod diff;
mod record;
mod render;
mod run;

use std::path::{Path, PathBuf};

pub use case::{Case, CaseSpec, Step};
pub use diff::first_difference;
pub use record::record_topic;
pub use render::Produced;
pub use run::run_case;

use crate::config::find_plugin_by_name;
use crate::runtime::Runtime;

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("fixture {path}: {reason}")]
    Fixture { path: PathBuf, reason: String },
    #[error("{0}")]
    Plugin(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Expectations rewritten (`--bless`).
    Blessed,
    /// The first difference, readably.
    Failed(String),
}

/// A plugin and the cases in its `fixtures/` folder.
#[derive(Debug, Clone)]
pub struct Suite {
    pub plugin: String,
    pub component: Option<PathBuf>,
    pub cases: Vec<PathBuf>,
}

/// The plugins under `root` that have fixtures (all, or those in `only`), each
/// with its built component looked up in `plugin_dirs`.
pub fn discover(
    root: &Path,
    only: &[String],
    plugin_dirs: &[PathBuf],
) -> Result<Vec<Suite>, ConformanceError> {
    let read = |dir: &Path| -> Result<Vec<PathBuf>, ConformanceError> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| ConformanceError::Fixture {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        Ok(entries)
    };
    let mut suites = Vec::new();
    for dir in read(root)? {
        let plugin = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !only.is_empty() && !only.contains(&plugin) {
            continue;
        }
        let fixtures = dir.join("fixtures");
        if !fixtures.is_dir() {
            continue;
        }
        suites.push(Suite {
            component: find_plugin_by_name(&plugin, plugin_dirs),
            cases: read(&fixtures)?,
            plugin,
        });
    }
    for name in only {
        if !suites.iter().any(|s| &s.plugin == name) {
            return Err(ConformanceError::Plugin(format!(
                "no fixtures for plugin `{name}`: expected {}",
                root.join(name).join("fixtures").display()
            )));
        }
    }
    Ok(suites)
}

/// Runs a case twice (the runs must agree byte for byte), then compares with
/// its `expected/` files or, with `bless`, rewrites them.
pub fn check_case(
    runtime: &Runtime,
    component: &Path,
    case: &Case,
    bless: bool,
) -> Result<Verdict, ConformanceError> {
    let first = run_case(runtime, component, case)?;
    let second = run_case(runtime, component, case)?;
    let files = |p: &Produced| {
        [
            ("output.jsonl", p.output.as_bytes().to_vec()),
            ("dlq.jsonl", p.dlq.as_bytes().to_vec()),
            ("snapshot.bin", p.snapshot.clone()),
        ]
    };
    for ((name, a), (_, b)) in files(&first).iter().zip(files(&second).iter()) {
        if let Some(d) = first_difference(name, a, b) {
            return Ok(Verdict::Failed(format!(
                "not deterministic: two runs differ: {d}"
            )));
        }
    }
    let expected = case.dir.join("expected");
    if bless {
        std::fs::create_dir_all(&expected).map_err(|source| ConformanceError::Write {
            path: expected.clone(),
            source,
        })?;
        for (name, bytes) in files(&first) {
            let path = expected.join(name);
            let result = if name == "snapshot.bin" && bytes.is_empty() {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                }
            } else {
                std::fs::write(&path, &bytes)
            };
            result.map_err(|source| ConformanceError::Write { path, source })?;
        }
        return Ok(Verdict::Blessed);
    }
    if !expected.is_dir() {
        return Ok(Verdict::Failed(format!(
            "no expectations in {}; run `weir conformance --bless` to record them",
            expected.display()
        )));
    }
    for (name, actual) in files(&first) {
        let want = std::fs::read(expected.join(name)).unwrap_or_default();
        if let Some(d) = first_difference(name, &want, &actual) {
            return Ok(Verdict::Failed(d));
        }
    }
    Ok(Verdict::Passed)
}
