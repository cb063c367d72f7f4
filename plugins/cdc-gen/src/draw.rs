//! The random numbers of one change, derived from the seed and the change's
//! sequence number alone. There is no running random stream: change `n` draws the
//! same numbers whether it is made in one run or after any number of restarts.
//!
//! SplitMix64 by hand rather than `rand`'s `SmallRng`, whose algorithm differs
//! between 32-bit (the wasm component) and 64-bit (native tests) targets.

/// A small random stream for one change.
#[derive(Debug, Clone)]
pub struct Draw(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Draw {
    /// The stream of change `seq` under `seed`.
    pub fn for_change(seed: u64, seq: u64) -> Draw {
        Draw(mix(seed ^ mix(seq.wrapping_mul(0xD6E8_FEB8_6659_FD93))))
    }

    /// The next 64 random bits; every other draw is built on it.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (bias below n / 2⁶⁴); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add(self.below(span) as i64)
    }

    /// An index chosen with probability proportional to its weight; `None` when
    /// every weight is 0.
    pub fn weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut pick = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return Some(i);
            }
            pick -= w;
        }
        None
    }
}

/// The SplitMix64 finalizer: a bijective, well-mixing hash of 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_draws_the_same_numbers_every_time() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut d = Draw::for_change(7, 3);
                move |_| d.next_u64()
            })
            .collect();
        let mut d = Draw::for_change(7, 3);
        assert_eq!(a, (0..5).map(|_| d.next_u64()).collect::<Vec<_>>());
        assert_ne!(Draw::for_change(7, 4).next_u64(), a[0]);
        assert_ne!(Draw::for_change(8, 3).next_u64(), a[0]);
    }

    #[test]
    fn ranges_and_weights_are_respected() {
        let mut d = Draw::for_change(1, 1);
        let mut seen = [0u32; 3];
        for _ in 0..30_000 {
            let x = d.between(-1, 1);
            assert!((-1..=1).contains(&x));
            seen[(x + 1) as usize] += 1;
            assert!(d.below(10) < 10);
        }
        assert!(
            seen.iter().all(|&n| (9_000..11_000).contains(&n)),
            "{seen:?}"
        );
        assert_eq!(d.below(0), 0);
        assert_eq!(d.weighted(&[0, 0]), None);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[d.weighted(&[1, 0, 3]).unwrap_or(1)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((2_200..2_800).contains(&counts[0]), "{counts:?}");
    }
}
