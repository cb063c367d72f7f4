//! Loading a plugin file: compile (or fetch the compiled form from the cache),
//! check the contract version and role, and pre-link it for fast instantiation.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre};

use super::bindings::{aggregator_api, source_api, transform_api};
use super::host::HostState;
use super::language::Language;
use super::version::{self, HOST_VERSION, Version};
use super::{Runtime, RuntimeError};

/// What a component does, i.e. which world it was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Source,
    Transform,
    Aggregator,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Source => "source",
            Role::Transform => "transform",
            Role::Aggregator => "aggregator",
        })
    }
}

pub(super) enum Indices {
    Source(source_api::GuestIndices),
    Transform(transform_api::GuestIndices),
    Aggregator(aggregator_api::GuestIndices),
}

/// A compiled, version-checked, pre-linked plugin; cheap to instantiate many times.
pub struct Plugin {
    pub(super) runtime: Runtime,
    pub(super) pre: InstancePre<HostState>,
    pub(super) indices: Indices,
    pub path: PathBuf,
    /// File stem, e.g. `purchases-gen`.
    pub name: String,
    pub role: Role,
    /// The contract version the component was built against.
    pub contract: Version,
    /// What it was written in; sets its default limits.
    pub language: Language,
}

impl Plugin {
    /// Loads `path` and checks it is a `wanted` plugin this host can run.
    pub fn load(runtime: &Runtime, path: &Path, wanted: Role) -> Result<Plugin, RuntimeError> {
        Self::load_checked(runtime, path, Some(wanted))
    }

    /// Loads `path` as whatever kind of plugin it is (conformance, inspection).
    pub fn load_any(runtime: &Runtime, path: &Path) -> Result<Plugin, RuntimeError> {
        Self::load_checked(runtime, path, None)
    }

    fn load_checked(
        runtime: &Runtime,
        path: &Path,
        wanted: Option<Role>,
    ) -> Result<Plugin, RuntimeError> {
        let (component, bytes) = read_component(runtime, path)?;
        Self::from_component(runtime, path, &component, Language::detect(&bytes), wanted)
    }

    /// Checks a compiled component's contract version and role, and pre-links it.
    fn from_component(
        runtime: &Runtime,
        path: &Path,
        component: &Component,
        language: Language,
        wanted: Option<Role>,
    ) -> Result<Plugin, RuntimeError> {
        let engine = runtime.engine();
        let ty = component.component_type();

        let mut found: Option<Version> = None;
        let mut roles = Vec::new();
        let names = ty
            .imports(engine)
            .map(|(n, _)| n)
            .chain(ty.exports(engine).map(|(n, _)| n));
        for name in names {
            let Some((iface, v)) = version::parse_contract_name(name) else {
                continue;
            };
            let v = v.unwrap_or(Version {
                major: 0,
                minor: 0,
                patch: 0,
            });
            if !v.runs_on(&HOST_VERSION) {
                return Err(RuntimeError::IncompatibleVersion {
                    path: path.to_path_buf(),
                    package: version::PACKAGE,
                    found: v.to_string(),
                    host: HOST_VERSION.to_string(),
                    range: HOST_VERSION.compatible_range(),
                });
            }
            found = Some(found.map_or(v, |f| f.max(v)));
            match iface {
                "source-api" => roles.push(Role::Source),
                "transform-api" => roles.push(Role::Transform),
                "aggregator-api" => roles.push(Role::Aggregator),
                _ => {}
            }
        }
        let Some(&role) = roles.first() else {
            return Err(RuntimeError::NotAPlugin {
                path: path.to_path_buf(),
            });
        };
        if let Some(wanted) = wanted
            && role != wanted
        {
            return Err(RuntimeError::WrongRole {
                path: path.to_path_buf(),
                found: role,
                wanted,
            });
        }
        let link_err = |e: wasmtime::Error| RuntimeError::Link {
            path: path.to_path_buf(),
            reason: explain_link_error(&format!("{e:#}")),
        };
        let pre = runtime
            .inner
            .linker
            .instantiate_pre(component)
            .map_err(link_err)?;
        let indices = match role {
            Role::Source => Indices::Source(source_api::GuestIndices::new(&pre).map_err(link_err)?),
            Role::Transform => {
                Indices::Transform(transform_api::GuestIndices::new(&pre).map_err(link_err)?)
            }
            Role::Aggregator => {
                Indices::Aggregator(aggregator_api::GuestIndices::new(&pre).map_err(link_err)?)
            }
        };
        Ok(Plugin {
            runtime: runtime.clone(),
            pre,
            indices,
            path: path.to_path_buf(),
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            role,
            contract: found.unwrap_or(HOST_VERSION),
            language,
        })
    }
}

/// What a component file declares, and whether this host would run it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub bytes: usize,
    pub language: Language,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// The plugin as this host loads it, or why it would refuse it.
    pub verdict: Result<(Role, Version), String>,
}

/// Lists a component's imports and exports and tries to load it as a plugin.
pub fn inspect(runtime: &Runtime, path: &Path) -> Result<Inspection, RuntimeError> {
    let (component, bytes) = read_component(runtime, path)?;
    let language = Language::detect(&bytes);
    let engine = runtime.engine();
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let verdict = Plugin::from_component(runtime, path, &component, language, None)
        .map(|p| (p.role, p.contract))
        .map_err(|e| e.to_string());
    Ok(Inspection {
        bytes: bytes.len(),
        language,
        imports,
        exports,
        verdict,
    })
}

/// Reads and compiles (or fetches from the cache) a component file; its bytes.
fn read_component(runtime: &Runtime, path: &Path) -> Result<(Component, Vec<u8>), RuntimeError> {
    let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((compile_cached(runtime, path, &bytes)?, bytes))
}

/// wasmtime's "component imports instance `x`, but a matching implementation was
/// not found in the linker", in an operator's words.
fn explain_link_error(text: &str) -> String {
    let missing = text
        .split_once("imports ")
        .and_then(|(_, rest)| rest.split('`').nth(1))
        .filter(|_| text.contains("not found"));
    match missing {
        Some(name) => format!(
            "it imports `{name}`, which weir does not provide. Plugins may import only \
             weir:plugin/host and WASI clocks, random and cli streams (no filesystem, \
             sockets or environment); remove the dependency that pulls `{name}` in"
        ),
        None => text.to_string(),
    }
}

/// Compiles `bytes`, or loads the compiled form cached under the hash of the
/// bytes and of the engine's settings.
fn compile_cached(runtime: &Runtime, path: &Path, bytes: &[u8]) -> Result<Component, RuntimeError> {
    let engine = runtime.engine();
    let compile_err = |e: wasmtime::Error| RuntimeError::Compile {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    };
    let Some(dir) = &runtime.inner.cache_dir else {
        return Component::new(engine, bytes).map_err(compile_err);
    };
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        hasher.update(h.finish().to_le_bytes());
    }
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    let file = dir
        .join("components")
        .join(format!("{}.cwasm", hex::encode(hasher.finalize())));
    if file.is_file() {
        // SAFETY: the file was written by `precompile_component` below, into the
        // user's own cache directory, under a name that hashes its source and
        // the engine settings.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => {
                tracing::debug!(plugin = %path.display(), cache = %file.display(), "Loaded compiled plugin from cache.");
                return Ok(c);
            }
            Err(e) => {
                tracing::warn!(cache = %file.display(), error = %e, "Ignoring unreadable cache entry.")
            }
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(compile_err)?;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(file.parent().unwrap_or(dir))?;
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled)?;
        std::fs::rename(&tmp, &file)
    };
    if let Err(e) = write() {
        tracing::warn!(cache = %file.display(), error = %e, "Cannot cache the compiled plugin; continuing without.");
    }
    // SAFETY: `compiled` was produced by this engine just now.
    unsafe { Component::deserialize(engine, &compiled) }.map_err(compile_err)
}
