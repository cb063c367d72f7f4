//! `weir plugin new`: a plugin crate from a template, one per world, with one
//! fixture case that passes as generated, so an author starts from green.

use std::path::{Path, PathBuf};

use crate::runtime::{Language, Role};

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name `{0}` is not usable: use lower-case letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),
    #[error("plugins can be written in Rust, Python or JavaScript")]
    Language,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One file of a template: where it goes in the plugin folder, and its text.
struct File {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! file {
    ($path:literal, $template:expr) => {
        File {
            path: $path,
            bytes: include_bytes!(concat!("templates/", $template)),
        }
    };
}

/// The plugin's code in `language` for `role`: the same behaviour in every
/// language, so one set of fixtures per world serves them all.
fn code(role: Role, language: Language) -> Result<Vec<File>, ScaffoldError> {
    Ok(match (language, role) {
        (Language::Rust, Role::Transform) => vec![
            file!("Cargo.toml", "Cargo.toml.tmpl"),
            file!("src/lib.rs", "transform/lib.rs"),
        ],
        (Language::Rust, Role::Source) => vec![
            file!("Cargo.toml", "Cargo.toml.tmpl"),
            file!("src/lib.rs", "source/lib.rs"),
        ],
        (Language::Rust, Role::Aggregator) => vec![
            file!("Cargo.toml", "Cargo.toml.tmpl"),
            file!("src/lib.rs", "aggregator/lib.rs"),
        ],
        (Language::Python, Role::Transform) => vec![
            file!("pyproject.toml", "python/pyproject.toml"),
            file!("app.py", "python/transform/app.py"),
        ],
        (Language::Python, Role::Source) => vec![
            file!("pyproject.toml", "python/pyproject.toml"),
            file!("app.py", "python/source/app.py"),
        ],
        (Language::Python, Role::Aggregator) => vec![
            file!("pyproject.toml", "python/pyproject.toml"),
            file!("app.py", "python/aggregator/app.py"),
        ],
        (Language::JavaScript, Role::Transform) => vec![
            file!("package.json", "js/transform/package.json"),
            file!("app.js", "js/transform/app.js"),
        ],
        (Language::JavaScript, Role::Source) => vec![
            file!("package.json", "js/source/package.json"),
            file!("app.js", "js/source/app.js"),
        ],
        (Language::JavaScript, Role::Aggregator) => vec![
            file!("package.json", "js/aggregator/package.json"),
            file!("app.js", "js/aggregator/app.js"),
        ],
        (Language::Unknown, _) => return Err(ScaffoldError::Language),
    })
}

/// The world's fixture case, which the template passes as generated.
fn fixture(role: Role) -> Vec<File> {
    match role {
        Role::Transform => vec![
            file!("fixtures/basic/case.toml", "transform/case.toml"),
            file!("fixtures/basic/input.jsonl", "transform/input.jsonl"),
            file!(
                "fixtures/basic/expected/output.jsonl",
                "transform/output.jsonl"
            ),
            file!("fixtures/basic/expected/dlq.jsonl", "transform/dlq.jsonl"),
        ],
        Role::Source => vec![
            file!("fixtures/basic/case.toml", "source/case.toml"),
            file!(
                "fixtures/basic/expected/output.jsonl",
                "source/output.jsonl"
            ),
            file!("fixtures/basic/expected/dlq.jsonl", "source/dlq.jsonl"),
            file!(
                "fixtures/basic/expected/snapshot.bin",
                "source/snapshot.bin"
            ),
        ],
        Role::Aggregator => vec![
            file!("fixtures/basic/case.toml", "aggregator/case.toml"),
            file!("fixtures/basic/input.jsonl", "aggregator/input.jsonl"),
            file!(
                "fixtures/basic/expected/output.jsonl",
                "aggregator/output.jsonl"
            ),
            file!("fixtures/basic/expected/dlq.jsonl", "aggregator/dlq.jsonl"),
            file!(
                "fixtures/basic/expected/snapshot.bin",
                "aggregator/snapshot.bin"
            ),
        ],
    }
}

/// Writes `root/NAME/` for a plugin of `role` in `language` and returns the
/// files written.
pub fn new_plugin(
    root: &Path,
    name: &str,
    role: Role,
    language: Language,
) -> Result<Vec<PathBuf>, ScaffoldError> {
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
    let files = code(role, language)?;
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
    for f in files.iter().chain(fixture(role).iter()) {
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
    if language == Language::Rust
        && let Some(manifest) = join_workspace(root, name)?
    {
        written.push(manifest);
    }
    Ok(written)
}

/// Adds a new Rust crate to the `members` list of the workspace `root` sits in
/// (as `cargo new` does), and returns that manifest; `None` when `root`'s parent
/// has no workspace with a members list.
fn join_workspace(root: &Path, name: &str) -> Result<Option<PathBuf>, ScaffoldError> {
    let Some(folder) = root.file_name().and_then(|f| f.to_str()) else {
        return Ok(None);
    };
    let manifest = root.parent().unwrap_or(Path::new(".")).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let Some(start) = text.find("\nmembers = [") else {
        return Ok(None);
    };
    let Some(end) = text[start..].find("\n]").map(|e| start + e + 1) else {
        return Ok(None);
    };
    let edited = format!("{}    \"{folder}/{name}\",\n{}", &text[..end], &text[end..]);
    std::fs::write(&manifest, edited).map_err(|source| ScaffoldError::Write {
        path: manifest.clone(),
        source,
    })?;
    Ok(Some(manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_crate_with_names_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        let files = new_plugin(dir.path(), "my-filter", Role::Transform, Language::Rust).unwrap();
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
            new_plugin(dir.path(), "my-filter", Role::Transform, Language::Rust),
            Err(ScaffoldError::Exists(_))
        ));
        assert!(matches!(
            new_plugin(dir.path(), "My_Filter", Role::Source, Language::Rust),
            Err(ScaffoldError::BadName(_))
        ));
        let src = new_plugin(dir.path(), "counter", Role::Source, Language::Rust).unwrap();
        let snap = src.iter().find(|p| p.ends_with("snapshot.bin")).unwrap();
        assert_eq!(std::fs::read(snap).unwrap(), 3u64.to_le_bytes());
    }

    #[test]
    fn a_rust_plugin_joins_the_workspace_members() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[workspace]\nmembers = [\n    \"host\",\n]\n").unwrap();
        let plugins = dir.path().join("plugins");
        let files = new_plugin(&plugins, "my-filter", Role::Transform, Language::Rust).unwrap();
        assert!(files.contains(&manifest));
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "[workspace]\nmembers = [\n    \"host\",\n    \"plugins/my-filter\",\n]\n"
        );
        new_plugin(&plugins, "py-filter", Role::Transform, Language::Python).unwrap();
        assert!(
            !std::fs::read_to_string(&manifest)
                .unwrap()
                .contains("py-filter")
        );
    }

    #[test]
    fn python_and_javascript_plugins_get_the_same_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let py = new_plugin(dir.path(), "py-upper", Role::Transform, Language::Python).unwrap();
        let app = std::fs::read_to_string(dir.path().join("py-upper/app.py")).unwrap();
        assert!(app.contains("class PyUpper(Transform)"), "{app}");
        let project = std::fs::read_to_string(dir.path().join("py-upper/pyproject.toml")).unwrap();
        assert!(project.contains("world = \"transform\""), "{project}");
        let js = new_plugin(
            dir.path(),
            "js-count",
            Role::Aggregator,
            Language::JavaScript,
        )
        .unwrap();
        let package = std::fs::read_to_string(dir.path().join("js-count/package.json")).unwrap();
        assert!(package.contains("\"aggregator\""), "{package}");
        for (files, plugin) in [(&py, "py-upper"), (&js, "js-count")] {
            assert!(
                files
                    .iter()
                    .all(|f| !std::fs::read_to_string(f).is_ok_and(|t| t.contains("{{")))
            );
            assert!(
                dir.path()
                    .join(plugin)
                    .join("fixtures/basic/case.toml")
                    .exists()
            );
        }
    }
}
