//! The language a component was written in, read from the marks its toolchain
//! leaves in the file: plugins in Python and JavaScript carry an interpreter,
//! which needs more memory and time per call than compiled Rust, so the host
//! chooses their default limits by it and `weir plugin inspect` names it.

use std::fmt;

use memchr::memmem;

use super::instance::Limits;

/// The source language of a plugin component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    /// Built by componentize-py (CPython inside the component).
    Python,
    /// Built by componentize-js (StarlingMonkey, SpiderMonkey inside the component).
    JavaScript,
    /// No toolchain mark this host knows.
    Unknown,
}

impl Language {
    /// Reads the marks in a component's bytes. An interpreter's marks are looked
    /// for first: the runtimes of componentize-py and componentize-js hold Rust
    /// code too.
    pub fn detect(bytes: &[u8]) -> Language {
        let has = |mark: &[u8]| memmem::find(bytes, mark).is_some();
        if has(b"libpython3") {
            Language::Python
        } else if has(b"StarlingMonkey") || has(b"componentize-js") {
            Language::JavaScript
        } else if has(b"/rustc/") || has(b"\x08language\x01\x04Rust") {
            // The standard library's panic locations name the compiler's
            // sources; a stripped component has lost its `producers` section.
            Language::Rust
        } else {
            Language::Unknown
        }
    }

    /// Limits for an instance when the connector sets none, from
    /// `weir-bench languages` (docs/plugins.md, section 5): with batches of
    /// 1,000 purchases a Python validator grew to 14 MiB of linear memory and
    /// its slowest call took 87 ms; a JavaScript plugin's heap grew to 69 MiB
    /// and its slowest call took 397 ms; Rust needed 2 MiB and 6 ms. The
    /// defaults leave room for batches ten times that size.
    pub fn default_limits(self) -> Limits {
        let (memory_mb, call_timeout_ms) = match self {
            Language::Rust | Language::Unknown => (64, 2_000),
            Language::Python => (256, 10_000),
            Language::JavaScript => (256, 10_000),
        };
        Limits {
            memory_bytes: memory_mb << 20,
            call_timeout_ms,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_name_the_language_interpreters_first() {
        let rust = b"\0asm\x09producers\x01\x08language\x01\x04Rust\x00";
        assert_eq!(Language::detect(rust), Language::Rust);
        let stripped =
            b"\0asm../rustc/05f9846f893b09a1be1fc8560e33fc3c815cfecb/library/core/src/str/mod.rs";
        assert_eq!(Language::detect(stripped), Language::Rust);
        let python = [&rust[..], b"/cpython/lib/libpython3.12.so"].concat();
        assert_eq!(Language::detect(&python), Language::Python);
        assert_eq!(
            Language::detect(b"..StarlingMonkey.."),
            Language::JavaScript
        );
        assert_eq!(Language::detect(b"\0asm"), Language::Unknown);
    }
}
