//! Config errors that name the file, line and column, and suggest a fix.

use std::fmt;
use std::path::PathBuf;

/// 1-based line and column in the connector file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read connector file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key, a wrong type, a bad `${VAR}`.
    #[error("{}:{}:{}: {message}{}", path.display(), location.line, location.column, hint.as_ref().map(|h| format!("\n  help: {h}")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        location: Location,
        message: String,
        hint: Option<String>,
    },
    /// Well-formed but meaningless, e.g. no sink.
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{}: plugin `{plugin}` not found; looked in:\n{}\n  help: build it with `just plugin {plugin}`, or set `plugin` to a .wasm path", path.display(), tried.iter().map(|p| format!("    {}", p.display())).collect::<Vec<_>>().join("\n"))]
    PluginNotFound {
        path: PathBuf,
        plugin: String,
        tried: Vec<PathBuf>,
    },
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" messages: the valid
/// key nearest to the misspelt one.
pub fn suggestion(message: &str) -> Option<String> {
    if message.contains("wanted exactly 1 element") {
        return Some(
            "`[source]` takes exactly one kind: `[source.generator]` or `[source.kafka]`".into(),
        );
    }
    if message == "missing field `sink`" {
        return Some("add `[sink.kafka]` or `[sink.console]`".into());
    }
    if message == "missing field `source`" {
        return Some("add `[source.generator]` or `[source.kafka]`".into());
    }
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (wrong, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = expected
        .iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), *c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(format!("did you mean `{}`?", best.1))
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let m =
            "unknown field `rate_per_sex`, expected one of `plugin`, `rate_per_sec`, `batch_size`";
        assert_eq!(
            suggestion(m).as_deref(),
            Some("did you mean `rate_per_sec`?")
        );
        assert_eq!(suggestion("unknown field `zzz`, expected `plugin`"), None);
        assert_eq!(suggestion("invalid type"), None);
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let t = "a = 1\nbc = 2\n";
        assert_eq!(Location::of_offset(t, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of_offset(t, 7), Location { line: 2, column: 2 });
    }
}
