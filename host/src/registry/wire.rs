//! Confluent's wire format for a registry-encoded record value: magic byte 0,
//! the schema id as 4 bytes big-endian, then the Avro binary body. Every
//! Confluent serializer and deserializer reads and writes exactly this.

/// The first byte of every framed value.
pub const MAGIC: u8 = 0;

/// Bytes before the body: magic byte and schema id.
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(
        "value of {len} bytes is too short for the Confluent wire format (magic byte and 4-byte schema id)"
    )]
    TooShort { len: usize },
    #[error(
        "value starts with byte {found:#04x}, not the Confluent magic byte 0: it was not written by a schema-registry serializer"
    )]
    WrongMagic { found: u8 },
}

/// Appends the 5-byte header for schema `id` to `out`; the Avro body follows.
pub fn write_header(id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
}

/// Frames an Avro body with its schema id.
pub fn encode(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    write_header(id, &mut out);
    out.extend_from_slice(body);
    out
}

/// Splits a framed value into its schema id and Avro body.
pub fn decode(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    let (&magic, rest) = bytes.split_first().ok_or(WireError::TooShort { len: 0 })?;
    if magic != MAGIC {
        return Err(WireError::WrongMagic { found: magic });
    }
    let (id, body) = rest
        .split_first_chunk::<4>()
        .ok_or(WireError::TooShort { len: bytes.len() })?;
    Ok((u32::from_be_bytes(*id), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_the_id_big_endian_after_a_zero_byte() {
        let framed = encode(0x0102_0304, b"avro");
        assert_eq!(framed, b"\x00\x01\x02\x03\x04avro");
        assert_eq!(decode(&framed), Ok((0x0102_0304, &b"avro"[..])));
    }

    #[test]
    fn an_empty_body_is_valid() {
        assert_eq!(decode(&encode(7, b"")), Ok((7, &b""[..])));
    }

    #[test]
    fn short_or_unframed_values_are_refused() {
        assert_eq!(decode(b""), Err(WireError::TooShort { len: 0 }));
        assert_eq!(decode(b"\x00\x00\x01"), Err(WireError::TooShort { len: 3 }));
        assert_eq!(
            decode(br#"{"json":true}"#),
            Err(WireError::WrongMagic { found: b'{' })
        );
        assert!(
            WireError::WrongMagic { found: b'{' }
                .to_string()
                .contains("0x7b")
        );
    }
}
