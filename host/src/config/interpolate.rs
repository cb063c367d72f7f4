//! `${VAR}` and `${VAR:-default}` substitution from the environment, done on the
//! TOML text line by line so every error keeps its line number.

use super::error::Location;

/// A `${...}` that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub location: Location,
    pub message: String,
}

/// Expands every `${VAR}` / `${VAR:-default}` outside comment lines; `$${`
/// stands for a literal `${`.
/// Values are escaped for use inside TOML basic strings (`"` and `\`).
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    for (line_idx, line) in text.split_inclusive('\n').enumerate() {
        // A commented-out line keeps its `${...}` as written.
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        let mut col = 1;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            col += rest[..pos].chars().count();
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
                col += 3;
                continue;
            }
            if !after.starts_with("${") {
                out.push('$');
                rest = &after[1..];
                col += 1;
                continue;
            }
            let location = Location {
                line: line_idx + 1,
                column: col,
            };
            let Some(end) = after.find('}') else {
                return Err(InterpolationError {
                    location,
                    message: "`${` without a closing `}`".into(),
                });
            };
            let inner = &after[2..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(InterpolationError {
                    location,
                    message: format!(
                        "`${{{inner}}}` is not a variable name (letters, digits, `_`)"
                    ),
                });
            }
            let value = match (lookup(name), default) {
                (Some(v), None) => v,
                (Some(v), Some(_)) if !v.is_empty() => v,
                (_, Some(d)) => d.to_string(),
                (None, None) => {
                    return Err(InterpolationError {
                        location,
                        message: format!(
                            "environment variable `{name}` is not set; set it or write `${{{name}:-default}}`"
                        ),
                    });
                }
            };
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            col += after[..=end].chars().count();
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_left_alone() {
        let out = interpolate("# key = \"${UNSET}\"\na = 1\n", |_| None).unwrap();
        assert_eq!(out, "# key = \"${UNSET}\"\na = 1\n");
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "RATE" => Some("250".into()),
            "EMPTY" => Some(String::new()),
            "QUOTE" => Some("a\"b".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert_eq!(interpolate("r = ${RATE}", env).unwrap(), "r = 250");
        assert_eq!(interpolate("r = ${NOPE:-10}", env).unwrap(), "r = 10");
        assert_eq!(
            interpolate("r = \"${EMPTY:-x}\"", env).unwrap(),
            "r = \"x\""
        );
        assert_eq!(interpolate("r = \"${EMPTY}\"", env).unwrap(), "r = \"\"");
        assert_eq!(interpolate("b = \"${NOPE:-}\"", env).unwrap(), "b = \"\"");
    }

    #[test]
    fn escapes_and_literals() {
        assert_eq!(
            interpolate("q = \"${QUOTE}\"", env).unwrap(),
            "q = \"a\\\"b\""
        );
        assert_eq!(
            interpolate("p = \"$${HOME} $5\"", env).unwrap(),
            "p = \"${HOME} $5\""
        );
    }

    #[test]
    fn missing_variable_names_its_place() {
        let e = interpolate("a = 1\nb = \"x${MISSING}\"\n", env).unwrap_err();
        assert_eq!(e.location, Location { line: 2, column: 7 });
        assert!(e.message.contains("MISSING"));
        let e = interpolate("a = ${OPEN", env).unwrap_err();
        assert!(e.message.contains("closing"));
    }
}
