//! `Random`: a uniform random walk over the runnable goroutines, seeded per schedule.
//!
//! The walk draws from ChaCha8 (`rand_chacha`), like every random choice of the checker, and
//! seeds it afresh per schedule (`schedule_seed`), so schedule `i` of a seed can be replayed or
//! handed to another shard without the ones before it. A choice among fewer than 2^32 options
//! takes one 32-bit word ([`below32`]): a schedule of a small program draws a few dozen
//! numbers, and at two words a draw it paid a second block refill, about 4% of a schedule.
//! A replay token records the choices, not the seed.

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

/// The SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014): a bijection of `u64` whose outputs look independent for neighbouring
/// inputs.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

/// A uniform value in `0..n` for `n` below 2^32, from one 32-bit word (Lemire's method):
/// half the stream that [`below`] uses, so a schedule refills ChaCha's block buffer half as
/// often.
#[inline]
pub(crate) fn below32(rng: &mut impl RngCore, n: u32) -> u32 {
    debug_assert!(n > 0);
    let m = u64::from(rng.next_u32()) * u64::from(n);
    if (m as u32) < n {
        return below32_reject(rng, n, m);
    }
    (m >> 32) as u32
}

/// The rare part of [`below32`] (a draw in the low zone: rejected if under the threshold), out
/// of line so that a decision's common path saves and restores no registers for it.
#[cold]
#[inline(never)]
fn below32_reject(rng: &mut impl RngCore, n: u32, mut m: u64) -> u32 {
    let threshold = n.wrapping_neg() % n;
    while (m as u32) < threshold {
        m = u64::from(rng.next_u32()) * u64::from(n);
    }
    (m >> 32) as u32
}

/// A uniform choice among `n` options: one 32-bit word when `n` fits.
#[inline]
fn pick(rng: &mut impl RngCore, n: u64) -> u64 {
    match u32::try_from(n) {
        Ok(n) => u64::from(below32(rng, n)),
        Err(_) => below(rng, n),
    }
}

/// The per-schedule seed derived from a campaign seed and an iteration number.
pub(crate) fn schedule_seed(seed: u64, iteration: u64) -> u64 {
    // splitmix64 of the pair, so neighbouring iterations get unrelated streams.
    mix64(seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Strategy for Random {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(schedule_seed(self.seed, iteration));
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        // Letting time pass, when it may, is one option among the goroutines.
        pick(&mut self.rng, d.options() as u64) as usize
    }

    fn picks_by_count(&self) -> bool {
        true
    }

    fn pick_by_count(&mut self, options: usize) -> usize {
        pick(&mut self.rng, options as u64) as usize
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        pick(&mut self.rng, d.n)
    }

    fn describe(&self) -> String {
        format!("random(seed={})", self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_uniform_over_small_ranges() {
        // 3 options, 30,000 draws: each count within 4 standard deviations (~115) of 10,000.
        let mut g = ChaCha8Rng::seed_from_u64(schedule_seed(0, 0));
        for draw in [below, pick] {
            let mut counts = [0u32; 3];
            for _ in 0..30_000 {
                counts[draw(&mut g, 3) as usize] += 1;
            }
            for c in counts {
                assert!((9_540..=10_460).contains(&c), "{counts:?}");
            }
        }
    }

    /// Hands out the given words, then fails the test if asked for more.
    struct Words(Vec<u32>);

    impl RngCore for Words {
        fn next_u32(&mut self) -> u32 {
            assert!(!self.0.is_empty(), "drew more words than expected");
            self.0.remove(0)
        }
        fn next_u64(&mut self) -> u64 {
            unreachable!()
        }
        fn fill_bytes(&mut self, _: &mut [u8]) {
            unreachable!()
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), rand_chacha::rand_core::Error> {
            unreachable!()
        }
    }

    #[test]
    fn below32_rejects_the_biased_low_zone_and_draws_again() {
        // n = 3: 2^32 mod 3 = 1, so the one word whose product's low half is below 1 (the word
        // 0) is rejected; a word in the low zone above the threshold is kept.
        let mut w = Words(vec![0, 0x8000_0000]);
        assert_eq!(below32(&mut w, 3), 1);
        assert!(w.0.is_empty(), "the rejected word was not replaced");
        // 0x5555_5556 * 3 = 0x1_0000_0002: low half 2 < n, but not below the threshold.
        let mut w = Words(vec![0x5555_5556]);
        assert_eq!(below32(&mut w, 3), 1);
        // Outside the low zone: one word, no rejection test at all.
        let mut w = Words(vec![u32::MAX]);
        assert_eq!(below32(&mut w, 3), 2);
    }

    #[test]
    fn a_schedule_repeats_its_choices_and_neighbours_differ() {
        let draws = |i: u64| {
            let mut r = Random::new(7);
            assert!(r.begin(i));
            (0..32).map(|_| pick(&mut r.rng, 5)).collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }
}
