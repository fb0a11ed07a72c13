//! `Random`: a uniform random walk over the runnable goroutines, seeded per schedule.
//!
//! The walk draws from SplitMix64 rather than ChaCha: a schedule draws a few dozen numbers
//! and is seeded afresh, and ChaCha's key setup and block refills cost more than the rest of
//! a decision (7-8% of a schedule of a small program). Nothing here needs a cryptographic
//! generator: a replay token records the choices, not the seed, so it replays whatever
//! generator drew them. SplitMix64 passes BigCrush, and schedule `i`'s stream starts at an
//! unrelated point of its 2^64 cycle (`schedule_seed`), so neighbouring schedules' streams do
//! not overlap in practice.

use rand_chacha::rand_core::{impls, Error, RngCore};

use super::{Decision, Strategy, ValueDecision};

/// Uniform random choice at every scheduling point, among the runnable goroutines and, where a
/// timer is pending, letting time pass (one option like the others). Schedule `i` of seed `s`
/// always makes the same choices.
pub struct Random {
    seed: u64,
    rng: SplitMix64,
}

impl Random {
    /// A random walk seeded with `seed`.
    pub fn new(seed: u64) -> Random {
        Random {
            seed,
            rng: SplitMix64::new(seed),
        }
    }
}

/// The SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014): a bijection of `u64` whose outputs look independent for neighbouring
/// inputs.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The SplitMix64 generator: a Weyl sequence (the state steps by the golden ratio) through
/// [`mix64`]. One add and two multiplies per word, and seeding is one of those.
///
/// Each output is computed one draw ahead (`ahead`): the multiplies then run while the
/// executor does the rest of a decision, and the branch on the pick, which no predictor can
/// guess, resolves as soon as the pick is asked for. The outputs are SplitMix64's exactly.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    /// The Weyl sequence's latest value.
    state: u64,
    /// `mix64(state)`: the next output.
    ahead: u64,
}

impl SplitMix64 {
    /// The generator seeded with `seed` (its first output is `mix64(seed + golden ratio)`).
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        let state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        SplitMix64 {
            state,
            ahead: mix64(state),
        }
    }
}

impl RngCore for SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let out = self.ahead;
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.ahead = mix64(self.state);
        out
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
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
    mix64(seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Strategy for Random {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = SplitMix64::new(schedule_seed(self.seed, iteration));
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        // Letting time pass, when it may, is one option among the goroutines.
        below(&mut self.rng, d.options() as u64) as usize
    }

    fn picks_by_count(&self) -> bool {
        true
    }

    fn pick_by_count(&mut self, options: usize) -> usize {
        below(&mut self.rng, options as u64) as usize
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        below(&mut self.rng, d.n)
    }

    fn describe(&self) -> String {
        format!("random(seed={})", self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // The first outputs of the reference implementation (Vigna's splitmix64.c) seeded
        // with 1234567.
        let mut g = SplitMix64::new(1234567);
        let want = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for w in want {
            assert_eq!(g.next_u64(), w);
        }
    }

    #[test]
    fn below_is_uniform_over_small_ranges() {
        // 3 options, 30,000 draws: each count within 4 standard deviations (~115) of 10,000.
        let mut g = SplitMix64::new(schedule_seed(0, 0));
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[below(&mut g, 3) as usize] += 1;
        }
        for c in counts {
            assert!((9_540..=10_460).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn a_schedule_repeats_its_choices_and_neighbours_differ() {
        let draws = |i: u64| {
            let mut r = Random::new(7);
            assert!(r.begin(i));
            (0..32).map(|_| below(&mut r.rng, 5)).collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }
}
