//! The first difference between an expected and an actual file, in words: which
//! line (record) and which field, with both values.

use serde_json::Value;

/// `None` when equal; else a readable description of the first difference.
pub fn first_difference(file: &str, expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let binary = file.ends_with(".bin");
    let (Some(exp), Some(act)) = (
        std::str::from_utf8(expected).ok().filter(|_| !binary),
        std::str::from_utf8(actual).ok().filter(|_| !binary),
    ) else {
        let at = expected
            .iter()
            .zip(actual)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(actual.len()));
        return Some(format!(
            "{file}: bytes differ from offset {at} (expected {} bytes, got {})",
            expected.len(),
            actual.len()
        ));
    };
    let (el, al): (Vec<&str>, Vec<&str>) = (exp.lines().collect(), act.lines().collect());
    for i in 0..el.len().max(al.len()) {
        match (el.get(i), al.get(i)) {
            (Some(e), Some(a)) if e == a => continue,
            (Some(e), Some(a)) => {
                let detail = match (
                    serde_json::from_str::<Value>(e),
                    serde_json::from_str::<Value>(a),
                ) {
                    (Ok(ev), Ok(av)) => field_difference("", &ev, &av)
                        .unwrap_or_else(|| "same JSON, different bytes".into()),
                    _ => format!("expected `{e}`, got `{a}`"),
                };
                return Some(format!("{file} line {}: {detail}", i + 1));
            }
            (Some(e), None) => {
                return Some(format!(
                    "{file}: expected {} lines, got {}; first missing line {}: {e}",
                    el.len(),
                    al.len(),
                    i + 1
                ));
            }
            (None, Some(a)) => {
                return Some(format!(
                    "{file}: expected {} lines, got {}; first extra line {}: {a}",
                    el.len(),
                    al.len(),
                    i + 1
                ));
            }
            (None, None) => break,
        }
    }
    Some(format!(
        "{file}: differs only in line endings or a final newline"
    ))
}

/// The path and values of the first differing field.
fn field_difference(path: &str, e: &Value, a: &Value) -> Option<String> {
    if e == a {
        return None;
    }
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            for (k, ev) in eo {
                match ao.get(k) {
                    Some(av) => {
                        if let Some(d) = field_difference(&child(k), ev, av) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("field {} missing (expected {ev})", child(k))),
                }
            }
            ao.iter()
                .find(|(k, _)| !eo.contains_key(*k))
                .map(|(k, av)| format!("unexpected field {} = {av}", child(k)))
        }
        (Value::Array(ea), Value::Array(aa)) if ea.len() == aa.len() => ea
            .iter()
            .zip(aa)
            .enumerate()
            .find_map(|(i, (ev, av))| field_difference(&child(&i.to_string()), ev, av)),
        _ => Some(format!(
            "{}: expected {e}, got {a}",
            if path.is_empty() { "value" } else { path }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_record_and_the_field() {
        let e = "{\"step\":0,\"value\":{\"total\":\"1.00\"}}\n{\"step\":1,\"value\":{\"total\":\"2.00\"}}\n";
        let a = "{\"step\":0,\"value\":{\"total\":\"1.00\"}}\n{\"step\":1,\"value\":{\"total\":\"2.01\"}}\n";
        let d = first_difference("output.jsonl", e.as_bytes(), a.as_bytes()).unwrap();
        assert_eq!(
            d,
            "output.jsonl line 2: value.total: expected \"2.00\", got \"2.01\""
        );
        assert!(first_difference("x", b"a\n", b"a\n").is_none());
        let d = first_difference("x", b"a\nb\n", b"a\n").unwrap();
        assert!(d.contains("expected 2 lines, got 1"), "{d}");
        let d = first_difference("snapshot.bin", &[1, 2, 0xff], &[1, 3, 0xff]).unwrap();
        assert!(d.contains("offset 1"), "{d}");
    }
}
