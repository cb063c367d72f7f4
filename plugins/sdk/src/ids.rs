//! Identifiers generators share: one way of turning random bits into a UUID.

/// A version-4 UUID (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, like Python's
/// `uuid4()`) from 128 random bits, so seeded generators stay repeatable.
pub fn uuid_v4(bits: u128) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = (bits & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    // 32 hex digits, most significant first, with dashes after 8, 12, 16, 20.
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        let nibble = (a >> (124 - 4 * i)) & 0xF;
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_and_variant_bits_are_set() {
        let u = super::uuid_v4(u128::MAX);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = super::uuid_v4(0);
        assert_eq!(u, "00000000-0000-4000-8000-000000000000");
        let u = super::uuid_v4(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(u, "01234567-89ab-4def-bedc-ba9876543210");
    }
}
