//! What a guest sees of the outside world: the real clocks and randomness in
//! production, or a virtual clock and seeded randomness for conformance runs, so
//! the same fixture gives the same bytes every time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

/// The guest's clocks and randomness.
#[derive(Debug, Clone, Default)]
pub enum GuestEnv {
    /// The host's clocks and OS randomness.
    #[default]
    Real,
    /// A clock the caller moves and a random stream fixed by a seed.
    Virtual(VirtualEnv),
}

/// A virtual clock (milliseconds since the Unix epoch, shared with the runner
/// that moves it) and a random seed.
#[derive(Debug, Clone)]
pub struct VirtualEnv {
    pub seed: u64,
    pub clock_ms: Arc<AtomicI64>,
}

impl VirtualEnv {
    pub fn new(seed: u64, clock_ms: i64) -> Self {
        VirtualEnv {
            seed,
            clock_ms: Arc::new(AtomicI64::new(clock_ms)),
        }
    }

    pub fn set_clock(&self, ms: i64) {
        self.clock_ms.store(ms, Ordering::SeqCst);
    }

    pub fn clock(&self) -> i64 {
        self.clock_ms.load(Ordering::SeqCst)
    }
}

impl GuestEnv {
    /// Installs clocks and randomness into a WASI context being built.
    pub(super) fn apply(&self, b: &mut WasiCtxBuilder) {
        let GuestEnv::Virtual(v) = self else {
            return;
        };
        b.wall_clock(VirtualClock(v.clock_ms.clone()))
            .monotonic_clock(VirtualClock(v.clock_ms.clone()))
            .secure_random(wasmtime_wasi::Deterministic::new(random_bytes(v.seed)))
            .insecure_random(wasmtime_wasi::Deterministic::new(random_bytes(
                v.seed ^ 0x5eed,
            )))
            .insecure_random_seed(u128::from(v.seed));
    }
}

struct VirtualClock(Arc<AtomicI64>);

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst).max(0) as u64)
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        (self.0.load(Ordering::SeqCst).max(0) as u64).saturating_mul(1_000_000)
    }
}

/// 64 KiB from SplitMix64: WASI's deterministic generator cycles through them.
fn random_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(1 << 16);
    while out.len() < 1 << 16 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_repeatable_distinct_streams() {
        assert_eq!(random_bytes(1), random_bytes(1));
        assert_ne!(random_bytes(1), random_bytes(2));
        assert_eq!(random_bytes(1).len(), 65_536);
    }
}
