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
    /// Well-formed but meaningless, e.g. no sink, a trigger of 5 ms.
    #[error("{}{}: {key}: {message}", path.display(), location.map(|l| format!(":{}:{}", l.line, l.column)).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// Where `key` is set (or its table starts), when it is in the file.
        location: Option<Location>,
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

impl ConfigError {
    /// Where in the file the error is, when it is about one place.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Syntax { location, .. } => Some(*location),
            ConfigError::Invalid { location, .. } => *location,
            _ => None,
        }
    }
}

/// Where a dotted key (`aggregate.trigger_interval_ms`) is set in a connector
/// file: its line, else the line of its table's header (`[aggregate]`), else none.
pub fn locate_key(text: &str, dotted: &str) -> Option<Location> {
    let (table, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            current = h
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .replace([' ', '"'], "");
            if current == dotted || (header.is_none() && current == table && !table.is_empty()) {
                header = Some(Location {
                    line: i + 1,
                    column: line.len() - line.trim_start().len() + 1,
                });
            }
            continue;
        }
        if current == table
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(Location {
                line: i + 1,
                column: line.len() - line.trim_start().len() + 1,
            });
        }
    }
    header
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
    fn keys_are_located_by_table() {
        let text = "name = \"x\"\n[source.kafka]\ntopic = \"t\"\n\n[aggregate]\n  trigger_interval_ms = 5\n[sink]\n";
        let at = |k| locate_key(text, k).map(|l| (l.line, l.column));
        assert_eq!(at("aggregate.trigger_interval_ms"), Some((6, 3)));
        assert_eq!(at("source.kafka.topic"), Some((3, 1)));
        assert_eq!(at("name"), Some((1, 1)));
        assert_eq!(at("aggregate.allowed_lateness_ms"), Some((5, 1)));
        assert_eq!(at("sink"), Some((7, 1)));
        assert_eq!(at("kafka.acks"), None);
    }

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
