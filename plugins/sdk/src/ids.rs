//! Identifiers generators share: one way of turning random bits into a UUID.

/// A version-4 UUID (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, like Python's
/// `uuid4()`) from 128 random bits, so seeded generators stay repeatable.
pub fn uuid_v4(bits: u128) -> String {
    let a = (bits & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_and_variant_bits_are_set() {
        let u = super::uuid_v4(u128::MAX);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = super::uuid_v4(0);
        assert_eq!(u, "00000000-0000-4000-8000-000000000000");
    }
}
