//! Golden tests for connector errors: `host/tests/ui/NAME.toml` → `NAME.err`.
//! `BLESS=1` rewrites the expectations after a deliberate change.

use std::path::Path;

use crate::common::*;

#[test]
fn connector_errors_match_their_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let bless = std::env::var_os("BLESS").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    entries.sort();
    for toml in entries {
        // Paths are made machine-independent before comparing.
        let actual = match weir::config::load(&toml, &[plugin_dir()]) {
            Ok(_) => "ok\n".to_string(),
            Err(e) => format!("{e}\n")
                .replace(&plugin_dir().display().to_string(), "$PLUGIN_DIR")
                .replace(&format!("{}/", dir.display()), "tests/ui/"),
        };
        let golden = toml.with_extension("err");
        if bless {
            std::fs::write(&golden, &actual).expect("bless");
        } else {
            let expected = std::fs::read_to_string(&golden)
                .unwrap_or_else(|_| panic!("{} missing; run with BLESS=1", golden.display()));
            assert_eq!(actual, expected, "{}", toml.display());
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} ui cases");
}
