//! Helpers for plugins' own tests, behind the `testing` feature (take it as a
//! dev-dependency feature so no plugin component carries it).

/// The record values in `input.jsonl` of every conformance case under `dir`
/// (`value` as compact JSON, `value_text` as is): real inputs for a plugin's
/// property tests, such as a fast path checked against the `Value` path.
///
/// Panics when `dir` cannot be read or holds ten values or fewer, as a test
/// should when its fixtures went missing.
pub fn fixture_values(dir: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for case in std::fs::read_dir(dir).expect("fixtures") {
        let path = case.expect("case").path().join("input.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let line: serde_json::Value = serde_json::from_str(line).expect("json");
            if let Some(v) = line.get("value") {
                out.push(v.to_string().into_bytes());
            }
            if let Some(t) = line.get("value_text").and_then(|t| t.as_str()) {
                out.push(t.as_bytes().to_vec());
            }
        }
    }
    assert!(out.len() > 10, "{dir}: {} values", out.len());
    out
}

/// Nanoseconds per record of `f`, which handles `records` records: the best of
/// several rounds, as the machine may be busy. For measurements a plugin
/// prints from an ignored test; never assert on it.
pub fn ns_per_call(records: usize, mut f: impl FnMut()) -> f64 {
    let rounds = (200_000 / records).max(20);
    (0..7)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                f();
            }
            start.elapsed().as_nanos() as f64 / (rounds * records) as f64
        })
        .fold(f64::INFINITY, f64::min)
}
