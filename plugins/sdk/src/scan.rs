//! A scanner for the commonest record value: a flat JSON object of plain
//! scalars, such as `{"view_id":"9b2f…","start_timestamp":1795428012345,
//! "campaign_id":101}`. serde spends its time on key matching, UTF-8 checks
//! and visitor calls; this reads such a value in one pass over its bytes, in
//! about 60 % of serde's instructions (a 150-byte view: 2,200 against 3,500,
//! callgrind), and allocates nothing. It is a fast path only: it answers for the documents
//! it reads exactly and gives up on everything else, so its caller reads those
//! with a full parser and keeps that parser's answers and error messages.
//!
//! No dependencies, so the host uses it too (event time, read once per record).

/// One value of a flat object, as [`flat_object`] read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// A string without escapes.
    Str(&'a str),
    /// An integer of up to 18 digits without fraction or exponent (not `-0`,
    /// which JSON parsers read as a float).
    Int(i64),
    Bool(bool),
    Null,
}

/// Calls `each(key, value)` for every entry of `bytes`, in order, and returns
/// `true` when `bytes` is a JSON object whose keys and values [`Scalar`] can
/// hold: keys and strings without escapes, integers, booleans and nulls,
/// whitespace anywhere JSON allows it. Returns `false` for anything else (a
/// nested value, a float, an escape, invalid JSON), possibly after calling
/// `each` for the entries before it: the caller then discards what it was
/// given and parses `bytes` in full. A repeated key is given each time.
pub fn flat_object<'a>(bytes: &'a [u8], mut each: impl FnMut(&'a str, Scalar<'a>)) -> bool {
    let mut s = Scanner { bytes, at: 0 };
    if s.skip_ws() != Some(b'{') {
        return false;
    }
    s.at += 1;
    if s.skip_ws() == Some(b'}') {
        s.at += 1;
        return s.at_end();
    }
    loop {
        if s.skip_ws() != Some(b'"') {
            return false;
        }
        let Some(key) = s.string() else {
            return false;
        };
        if s.skip_ws() != Some(b':') {
            return false;
        }
        s.at += 1;
        let Some(value) = s.scalar() else {
            return false;
        };
        each(key, value);
        match s.skip_ws() {
            Some(b',') => s.at += 1,
            Some(b'}') => {
                s.at += 1;
                return s.at_end();
            }
            _ => return false,
        }
    }
}

/// The bytes that end the plain part of a string: the closing quote, an
/// escape, a control character, and the start of a multi-byte character.
const STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 256 {
        stop[b] = b == b'"' as usize || b == b'\\' as usize || b < 0x20 || b >= 0x80;
        b += 1;
    }
    stop
};

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    /// Skips JSON whitespace; the byte after it, if any.
    fn skip_ws(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws().is_none()
    }

    /// The string starting at the `"` under the cursor, if it has no escape
    /// and no control character. The first pass stops at the first byte
    /// that is not plain ASCII; for most strings that is the closing quote,
    /// and no UTF-8 check is needed (`from_utf8` alone cost as much as the
    /// scan).
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let rest = self.bytes.get(start..)?;
        let stop = rest.iter().position(|&b| STOP[usize::from(b)])?;
        let (len, text) = if rest[stop] == b'"' {
            let raw = &rest[..stop];
            // SAFETY: every byte of `raw` is below 0x80, and ASCII is UTF-8.
            (stop, unsafe { std::str::from_utf8_unchecked(raw) })
        } else {
            let len = rest.iter().position(|&b| b == b'"')?;
            let raw = &rest[..len];
            if raw.iter().any(|&b| b == b'\\' || b < 0x20) {
                return None;
            }
            (len, std::str::from_utf8(raw).ok()?)
        };
        self.at = start + len + 1;
        Some(text)
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.skip_ws()? {
            b'"' => self.string().map(Scalar::Str),
            b'-' | b'0'..=b'9' => self.integer().map(Scalar::Int),
            b't' => self.literal(b"true", Scalar::Bool(true)),
            b'f' => self.literal(b"false", Scalar::Bool(false)),
            b'n' => self.literal(b"null", Scalar::Null),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], value: Scalar<'a>) -> Option<Scalar<'a>> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    /// An integer as JSON writes one (no leading zero, no `+`), that is not
    /// followed by a fraction or an exponent, and fits `i64`; not `-0`.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.bytes[self.at] == b'-';
        let start = self.at + usize::from(negative);
        let rest = self.bytes.get(start..)?;
        let mut n: i64 = 0;
        let mut digits = 0;
        // A 19th digit is counted, not added: it could overflow.
        for &b in rest.iter().take(19) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            digits += 1;
            if digits <= 18 {
                n = n * 10 + i64::from(d);
            }
        }
        let leading_zero = digits > 1 && rest[0] == b'0';
        let fraction = matches!(rest.get(digits), Some(b'.' | b'e' | b'E'));
        // 18 digits cannot overflow; longer numbers are rare and left to serde.
        if digits == 0 || digits > 18 || leading_zero || fraction {
            return None;
        }
        if negative && n == 0 {
            return None;
        }
        self.at = start + digits;
        Some(if negative { -n } else { n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Option<Vec<(String, Scalar<'_>)>> {
        let mut seen = Vec::new();
        flat_object(json.as_bytes(), |k, v| seen.push((k.to_string(), v))).then_some(seen)
    }

    #[test]
    fn reads_flat_objects_of_plain_scalars() {
        assert_eq!(
            entries(r#" { "a" : "x y" , "b":-12,"c":true,"d":false,"e":null,"é":"ü","a":0 } "#),
            Some(vec![
                ("a".into(), Scalar::Str("x y")),
                ("b".into(), Scalar::Int(-12)),
                ("c".into(), Scalar::Bool(true)),
                ("d".into(), Scalar::Bool(false)),
                ("e".into(), Scalar::Null),
                ("é".into(), Scalar::Str("ü")),
                ("a".into(), Scalar::Int(0)),
            ])
        );
        assert_eq!(entries("{}"), Some(vec![]));
        assert_eq!(
            entries(r#"{"max":999999999999999999,"min":-999999999999999999}"#),
            Some(vec![
                ("max".into(), Scalar::Int(999_999_999_999_999_999)),
                ("min".into(), Scalar::Int(-999_999_999_999_999_999)),
            ])
        );
    }

    #[test]
    fn gives_up_on_what_it_does_not_read_exactly() {
        for json in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":9223372036854775807}"#,
            r#"{"a":1000000000000000000}"#,
            r#"{"a":9999999999999999999}"#,
            r#"{"a":-99999999999999999999}"#,
            r#"{"a":"x\"y"}"#,
            r#"{"a\n":1}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"#,
            r#"{"a" 1}"#,
            r#"{"a":tru}"#,
            r#"{"a":+1}"#,
            r#"{"a":-}"#,
            r#"{"a":1"#,
            r#"[1]"#,
            r#""a""#,
            "",
        ] {
            assert_eq!(entries(json), None, "{json}");
        }
        assert!(!flat_object(b"{\"a\":\"\xff\"}", |_, _| {}));
    }

    /// Whatever the scanner reads, serde_json reads the same way, over
    /// generated objects and every one-byte change of them.
    #[cfg(feature = "json")]
    #[test]
    fn agrees_with_serde_json_where_it_answers() {
        use serde_json::{Map, Value};
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pieces = [
            "\"k\"",
            "\"view_id\"",
            "1",
            "-7",
            "0",
            "123456789012",
            "\"s\"",
            "true",
            "null",
            ",",
            ":",
            " ",
            "{",
            "}",
            "\"é\"",
            "1.5",
            "\"a\\\"\"",
            "[",
            "]",
        ];
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut doc = String::from("{");
            for i in 0..(next() % 5) {
                if i > 0 {
                    doc.push(',');
                }
                doc.push_str(pieces[(next() % 2) as usize]);
                doc.push(':');
                doc.push_str(pieces[2 + (next() % 7) as usize]);
            }
            doc.push('}');
            let mut bytes = doc.into_bytes();
            if next() % 2 == 0 {
                let at = (next() as usize) % bytes.len();
                let piece = pieces[(next() as usize) % pieces.len()];
                bytes.splice(at..at + 1, piece.bytes());
            }
            let mut got = Map::new();
            let read = flat_object(&bytes, |k, v| {
                let v = match v {
                    Scalar::Str(s) => Value::from(s),
                    Scalar::Int(n) => Value::from(n),
                    Scalar::Bool(b) => Value::from(b),
                    Scalar::Null => Value::Null,
                };
                got.insert(k.to_string(), v);
            });
            if read {
                answered += 1;
                let parsed: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "{}: scanned, but serde_json refuses it: {e}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                assert_eq!(
                    parsed,
                    Value::Object(got),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        assert!(answered > 5_000, "only {answered} documents were read");
    }
}
