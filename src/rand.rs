//! Randomness that is part of the schedule: `goweave::rand::{u64, below, choose, shuffle}`.
//!
//! On the controlled executor every draw is a data choice made by the strategy and recorded in
//! the schedule, so a replay token reproduces the values exactly (and an exhaustive strategy
//! can explore them). On the work-stealing executor, and outside any runtime, draws come from
//! a fast per-thread generator (xorshift; not cryptographic).

use crate::runtime::executor::random_below;

/// A uniformly random `u64`.
///
/// ```
/// let (a, b) = goweave::run(|| (goweave::rand::u64(), goweave::rand::u64()));
/// assert_ne!(a, b); // with overwhelming probability
/// ```
pub fn u64() -> u64 {
    // Two 32-bit draws: the executor's source draws below a bound, and 2^64 does not fit.
    let hi = random_below(1 << 32);
    let lo = random_below(1 << 32);
    (hi << 32) | lo
}

/// A uniformly random value in `0..n`.
///
/// Panics if `n` is 0.
///
/// ```
/// let v = goweave::run(|| goweave::rand::below(6));
/// assert!(v < 6);
/// ```
#[track_caller]
pub fn below(n: u64) -> u64 {
    assert!(n > 0, "goweave::rand::below(0): the range is empty");
    random_below(n)
}

/// A uniformly chosen element of `items`, or `None` if it is empty.
///
/// ```
/// let v = goweave::run(|| *goweave::rand::choose(&[1, 2, 3]).unwrap());
/// assert!((1..=3).contains(&v));
/// ```
pub fn choose<T>(items: &[T]) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    items.get(random_below(items.len() as u64) as usize)
}

/// Shuffle `items` uniformly (Fisher-Yates), one draw per element.
///
/// ```
/// let mut v = goweave::run(|| {
///     let mut v: Vec<u32> = (0..10).collect();
///     goweave::rand::shuffle(&mut v);
///     v
/// });
/// v.sort();
/// assert_eq!(v, (0..10).collect::<Vec<_>>());
/// ```
pub fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = random_below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}
