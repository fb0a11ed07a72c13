//! `Random`: a uniform random walk over the runnable goroutines, seeded per schedule.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Decision, Strategy, ValueDecision};

/// Uniform random choice at every scheduling point, among the runnable goroutines and, where a
/// timer is pending, letting time pass (one option like the others). Schedule `i` of seed `s`
/// always makes the same choices.
pub struct Random {
    seed: u64,
    rng: ChaCha8Rng,
}

impl Random {
    /// A random walk seeded with `seed`.
    pub fn new(seed: u64) -> Random {
        Random {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

/// A uniform value in `0..n` without modulo bias (Lemire's method).
pub(crate) fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = (rng.next_u64() as u128) * (n as u128);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = (rng.next_u64() as u128) * (n as u128);
        }
    }
    (m >> 64) as u64
}

/// The per-schedule seed derived from a campaign seed and an iteration number.
pub(crate) fn schedule_seed(seed: u64, iteration: u64) -> u64 {
    // splitmix64 of the pair, so neighbouring iterations get unrelated streams.
    let mut z = seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Strategy for Random {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(schedule_seed(self.seed, iteration));
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        // Letting time pass, when it may, is one option among the goroutines.
        below(&mut self.rng, d.options() as u64) as usize
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        below(&mut self.rng, d.n)
    }

    fn describe(&self) -> String {
        format!("random(seed={})", self.seed)
    }
}
