//! Failure reason codes any plugin may use, the [`Rejection`] that carries
//! them, and the check that a plugin's own codes are well formed. Codes travel
//! beside the reason (the `codes` of the contract's `failure`) and the host
//! counts DLQ records per code, so the same defect carries the same code in
//! every pipeline and one dashboard counts `malformed_json` for all of them.

use std::fmt;

/// The value is not a JSON object, or there is no value (a tombstone).
pub const MALFORMED_JSON: &str = "malformed_json";
/// A required field is absent or `null`.
pub const MISSING_FIELD: &str = "missing_field";
/// A field has the wrong JSON type, or a value of the right type that cannot be read.
pub const WRONG_TYPE: &str = "wrong_type";

/// Why a plugin refused a record: the rules it broke and a sentence an operator
/// can act on. Plugins return it from their per-record checks and hand it to
/// [`Outcome::reject`](crate::Outcome::reject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub codes: Vec<&'static str>,
    pub reason: String,
}

impl Rejection {
    /// One broken rule.
    pub fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Rejection {
            codes: vec![code],
            reason: reason.into(),
        }
    }
}

/// Reads as the DLQ shows it: `code[,code…]: reason`.
impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&reason_text(&self.codes, &self.reason))
    }
}

/// `code[,code…]: reason`, or the reason alone without codes: the text of a
/// DLQ entry's reason header.
pub fn reason_text<S: AsRef<str>>(codes: &[S], reason: &str) -> String {
    if codes.is_empty() {
        return reason.to_string();
    }
    let codes: Vec<&str> = codes.iter().map(AsRef::as_ref).collect();
    format!("{}: {reason}", codes.join(","))
}

/// The message for absent fields, `required field(s) a, b is/are missing`, worded
/// the same in every plugin.
pub fn missing_fields<S: AsRef<str>>(names: &[S]) -> String {
    let (s, verb) = if names.len() == 1 {
        ("", "is")
    } else {
        ("s", "are")
    };
    let list: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    format!("required field{s} {} {verb} missing", list.join(", "))
}

/// Checks a plugin's list of codes: each is lower-case letters and `_` (never the
/// `,` or `:` the DLQ's reason text separates codes with) and none appears twice.
pub fn check(codes: &[&str]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for code in codes {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!(
                "code {code:?} must be lower-case letters and `_`, so it cannot contain \
                 the ',' or ':' a reason separates codes with"
            ));
        }
        if !seen.insert(code) {
            return Err(format!("code {code:?} is listed twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_reads_as_a_sentence() {
        assert_eq!(missing_fields(&["a"]), "required field a is missing");
        assert_eq!(
            missing_fields(&["a", "b"]),
            "required fields a, b are missing"
        );
    }

    #[test]
    fn generic_codes_pass_and_bad_lists_are_named() {
        assert_eq!(check(&[MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE]), Ok(()));
        assert!(check(&["a,b"]).is_err_and(|e| e.contains("\"a,b\"")));
        assert!(check(&[""]).is_err());
        assert_eq!(
            check(&[WRONG_TYPE, WRONG_TYPE]),
            Err("code \"wrong_type\" is listed twice".into())
        );
    }
}
