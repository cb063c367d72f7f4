//! `weir plugin new`: a plugin crate from a template, one per world, with one
//! fixture case that passes as generated, so an author starts from green.

use std::path::{Path, PathBuf};

use crate::runtime::Role;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name `{0}` is not usable: use lower-case letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One file of a template: where it goes in the crate, and its text.
struct File {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! template {
    ($world:literal) => {
        &[
            File {
                path: "Cargo.toml",
                bytes: include_bytes!("templates/Cargo.toml.tmpl"),
            },
            File {
                path: "src/lib.rs",
                bytes: include_bytes!(concat!("templates/", $world, "/lib.rs")),
            },
            File {
                path: "fixtures/basic/case.toml",
                bytes: include_bytes!(concat!("templates/", $world, "/case.toml")),
            },
            File {
                path: "fixtures/basic/expected/output.jsonl",
                bytes: include_bytes!(concat!("templates/", $world, "/output.jsonl")),
            },
            File {
                path: "fixtures/basic/expected/dlq.jsonl",
                bytes: include_bytes!(concat!("templates/", $world, "/dlq.jsonl")),
            },
        ]
    };
}

const TRANSFORM: &[File] = template!("transform");
const SOURCE: &[File] = template!("source");
const AGGREGATOR: &[File] = template!("aggregator");

/// Files only some worlds have.
fn extras(role: Role) -> Vec<File> {
    match role {
        Role::Transform => vec![File {
            path: "fixtures/basic/input.jsonl",
            bytes: include_bytes!("templates/transform/input.jsonl"),
        }],
        Role::Source => vec![File {
            path: "fixtures/basic/expected/snapshot.bin",
            bytes: include_bytes!("templates/source/snapshot.bin"),
        }],
        Role::Aggregator => vec![
            File {
                path: "fixtures/basic/input.jsonl",
                bytes: include_bytes!("templates/aggregator/input.jsonl"),
            },
            File {
                path: "fixtures/basic/expected/snapshot.bin",
                bytes: include_bytes!("templates/aggregator/snapshot.bin"),
            },
        ],
    }
}

/// Writes `root/NAME/` for a plugin of `role` and returns the files written.
pub fn new_plugin(root: &Path, name: &str, role: Role) -> Result<Vec<PathBuf>, ScaffoldError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let dir = root.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let files = match role {
        Role::Transform => TRANSFORM,
        Role::Source => SOURCE,
        Role::Aggregator => AGGREGATOR,
    };
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let mut written = Vec::new();
    for f in files.iter().chain(extras(role).iter()) {
        let path = dir.join(f.path);
        let bytes = match std::str::from_utf8(f.bytes) {
            Ok(text) if !f.path.ends_with(".bin") => text
                .replace("{{name}}", name)
                .replace("{{Type}}", &type_name)
                .replace("{{world}}", &role.to_string())
                .into_bytes(),
            _ => f.bytes.to_vec(),
        };
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &bytes)
        };
        write().map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_crate_with_names_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        let files = new_plugin(dir.path(), "my-filter", Role::Transform).unwrap();
        assert!(
            files
                .iter()
                .any(|p| p.ends_with("fixtures/basic/input.jsonl"))
        );
        let lib = std::fs::read_to_string(dir.path().join("my-filter/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct MyFilter"), "{lib}");
        assert!(lib.contains("export_transform!(MyFilter)"), "{lib}");
        assert!(!lib.contains("{{"), "{lib}");
        let cargo = std::fs::read_to_string(dir.path().join("my-filter/Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my-filter\""), "{cargo}");
        assert!(matches!(
            new_plugin(dir.path(), "my-filter", Role::Transform),
            Err(ScaffoldError::Exists(_))
        ));
        assert!(matches!(
            new_plugin(dir.path(), "My_Filter", Role::Source),
            Err(ScaffoldError::BadName(_))
        ));
        let src = new_plugin(dir.path(), "counter", Role::Source).unwrap();
        let snap = src.iter().find(|p| p.ends_with("snapshot.bin")).unwrap();
        assert_eq!(std::fs::read(snap).unwrap(), 3u64.to_le_bytes());
    }
}
