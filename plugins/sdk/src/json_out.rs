//! Hand-written JSON for the records a generator makes. serde's derived
//! `Serialize` escapes every key and every string byte by byte, which was a
//! third of a generator's time; here a key is a byte literal written with its
//! punctuation (`b",\"city\":"`), and a string the plugin built itself from a
//! catalogue or from digits is copied as it is.
//!
//! Each function appends `prefix` (the JSON before the value) and then the
//! value. A plugin that writes its records this way keeps a test that its
//! bytes equal `serde_json::to_vec` of the same record.

use serde::Serialize;

/// `prefix`, then `value` quoted but not escaped: for text that needs no
/// escape in JSON (no `"`, `\` or control character), such as ids and names
/// from the plugin's own tables. Debug builds check it.
pub fn plain_str(out: &mut Vec<u8>, prefix: &[u8], value: &str) {
    debug_assert!(
        !value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'),
        "{value:?} needs escaping: write it with json_out::string"
    );
    out.extend_from_slice(prefix);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

/// `prefix`, then [`plain_str`]'s string or `null`.
pub fn opt_plain_str(out: &mut Vec<u8>, prefix: &[u8], value: Option<&str>) {
    match value {
        Some(value) => plain_str(out, prefix, value),
        None => {
            out.extend_from_slice(prefix);
            out.extend_from_slice(b"null");
        }
    }
}

/// `prefix`, then `value` escaped as serde_json escapes it: for text from
/// outside the plugin.
pub fn string(out: &mut Vec<u8>, prefix: &[u8], value: &str) {
    out.extend_from_slice(prefix);
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// `prefix`, then a list of [`plain_str`] strings.
pub fn plain_strs(out: &mut Vec<u8>, prefix: &[u8], values: &[&str]) {
    out.extend_from_slice(prefix);
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        plain_str(out, if i == 0 { b"" } else { b"," }, value);
    }
    out.push(b']');
}

/// `prefix`, then a number (or `Option` of one, `null` for none) as
/// serde_json writes it: shortest round-trip floats, `null` for a NaN.
pub fn number<T: Serialize>(out: &mut Vec<u8>, prefix: &[u8], n: T) {
    out.extend_from_slice(prefix);
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(out, &n);
}

/// `prefix`, then `true` or `false`.
pub fn boolean(out: &mut Vec<u8>, prefix: &[u8], b: bool) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_writer_matches_serde_json() {
        let mut out = Vec::new();
        plain_str(&mut out, b"{\"a\":", "user-000042");
        opt_plain_str(&mut out, b",\"b\":", None);
        opt_plain_str(&mut out, b",\"c\":", Some("x y"));
        string(&mut out, b",\"d\":", "say \"hi\"\n");
        plain_strs(&mut out, b",\"e\":", &["Drama", "Sci-Fi"]);
        plain_strs(&mut out, b",\"f\":", &[]);
        number(&mut out, b",\"g\":", 0.1_f64);
        number(&mut out, b",\"h\":", Some(-7_i64));
        number(&mut out, b",\"i\":", None::<u8>);
        number(&mut out, b",\"j\":", f64::NAN);
        boolean(&mut out, b",\"k\":", false);
        out.push(b'}');
        let expected = serde_json::json!({
            "a": "user-000042", "b": null, "c": "x y", "d": "say \"hi\"\n",
            "e": ["Drama", "Sci-Fi"], "f": [], "g": 0.1, "h": -7, "i": null,
            "j": null, "k": false,
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "needs escaping")]
    fn a_plain_string_that_needs_escaping_is_refused_in_debug_builds() {
        plain_str(&mut Vec::new(), b"", "a\"b");
    }
}
