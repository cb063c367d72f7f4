//! Whitespace removal for JSON text that is already valid, so envelopes are
//! compact even when a producer pretty-printed the rows they carry, without
//! parsing the rows into a map that would reorder their fields.

/// Removes every whitespace byte outside strings from valid JSON `text`.
pub fn compact(text: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    text.retain(|&b| {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            return true;
        }
        if b == b'"' {
            in_string = true;
        }
        !matches!(b, b' ' | b'\t' | b'\n' | b'\r')
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_goes_except_inside_strings() {
        let mut t = b"{ \"a b\" : [1, 2],\n\t\"c\\\" d\": \"x \\\\\" , \"e\":\" \" }".to_vec();
        compact(&mut t);
        assert_eq!(
            String::from_utf8(t).expect("utf-8"),
            r#"{"a b":[1,2],"c\" d":"x \\","e":" "}"#
        );
    }
}
