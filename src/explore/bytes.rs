//! The libFuzzer-bytes strategy: input bytes decide every scheduling decision.
//!
//! At each decision among `n` options (the runnable goroutines, and letting virtual time pass
//! when a timer is pending) the options are ordered with the *default* first (the goroutine
//! that is running, if it can go on; after a `gosched`, the next one; else the lowest id), then
//! the others by id, then time, and the next byte `b` picks option `b·n / 256` (two
//! bytes, little-endian, scaled from 65,536, when `n > 256`). A data choice among `n` values (a
//! `select!` case, a `goweave::rand` number) takes as many bytes as `n` needs, scaled the same
//! way. So small bytes never preempt: inputs full of zeros are the quiet schedules, a larger
//! byte means a later option, and libFuzzer's byte-level mutations (and proptest's shrinking)
//! stay meaningful.
//!
//! When the bytes run out, the decisions go on with a generator seeded from the bytes (a
//! uniform random walk), so every input is a complete, valid schedule of any program.
//! ([`crate::proptest`] uses the same decoding, but ends with default choices, so that a shorter
//! input is a simpler schedule.)
//!

use std::sync::Arc;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Decision, Strategy, ValueDecision};

/// What decides once the input bytes are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// A random walk seeded from the bytes (fuzzing: every input a full schedule).
    Seeded,
    /// The default option everywhere (proptest: shorter is simpler).
    Default,
}

/// A strategy that reads its decisions from bytes (see the module docs).
pub struct Bytes {
    data: Arc<[u8]>,
    pos: usize,
    tail: Tail,
    rng: ChaCha8Rng,
}

impl Bytes {
    /// The strategy that `data` describes, with `tail` deciding once the bytes are used up.
    pub fn new(data: &[u8], tail: Tail) -> Bytes {
        Bytes {
            data: data.into(),
            pos: 0,
            tail,
            rng: ChaCha8Rng::seed_from_u64(seed_of(data)),
        }
    }

    /// The next value in `0..n` from the bytes, or `None` once they are used up: the bytes
    /// (`w` of them, little-endian) scaled from `0..256^w` to `0..n`, so that a smaller byte
    /// never means a later option (shrinking a byte moves towards the default).
    fn take(&mut self, n: u64) -> Option<u64> {
        let width: u32 = match n {
            0..=0x100 => 1,
            0x101..=0x1_0000 => 2,
            0x1_0001..=0x1_0000_0000 => 4,
            _ => 8,
        };
        if self.pos >= self.data.len() {
            return None;
        }
        let mut v: u64 = 0;
        for i in 0..width as usize {
            // A value cut short by the end of the input takes what is there.
            let b = self.data.get(self.pos + i).copied().unwrap_or(0);
            v |= (b as u64) << (8 * i);
        }
        self.pos += width as usize;
        Some(((v as u128 * n as u128) >> (8 * width)) as u64)
    }
}

/// The seed of the generator that takes over after the bytes: FNV-1a of them.
fn seed_of(data: &[u8]) -> u64 {
    crate::util::hash::fnv1a(data)
}

/// A uniform value in `0..n` from `rng`.
fn uniform(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

impl Strategy for Bytes {
    fn begin(&mut self, _iteration: u64) -> bool {
        self.pos = 0;
        self.rng = ChaCha8Rng::seed_from_u64(seed_of(&self.data));
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        // The goroutines, and letting time pass when that is an option (index `runnable.len()`).
        let n = d.options() as u64;
        let def = crate::explore::default_pick(d);
        let option = match self.take(n) {
            Some(v) => v as usize,
            None => match self.tail {
                Tail::Default => 0,
                Tail::Seeded => return uniform(&mut self.rng, n) as usize,
            },
        };
        // Option 0 is the default; options 1.. are the others, by id, then letting time pass.
        match option {
            0 => def,
            o if o - 1 < def => o - 1,
            o => o,
        }
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        match self.take(d.n) {
            Some(v) => v,
            None => match self.tail {
                Tail::Default => 0,
                Tail::Seeded => uniform(&mut self.rng, d.n),
            },
        }
    }

    fn describe(&self) -> String {
        format!("fuzz input ({} bytes)", self.data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Pending;
    use crate::verdict::{Event, ObjId, Op};

    fn decide(s: &mut Bytes, runnable: &[u64], current: Option<u64>) -> u64 {
        let pending = [Pending {
            event: Event::new(Op::Other, ObjId(0), std::panic::Location::caller()),
            since: 0,
        }; 8];
        let d = Decision::new(runnable, current, 0, false, 0, &pending);
        runnable[s.pick_goroutine(&d)]
    }

    #[test]
    fn zero_keeps_the_running_goroutine_and_others_follow_by_id() {
        // Four options: bytes 0..64 are the default, 64..128 the first other, and so on.
        let mut s = Bytes::new(&[0, 64, 128, 255, 63], Tail::Default);
        let r = [1, 2, 3, 5];
        assert_eq!(decide(&mut s, &r, Some(3)), 3);
        assert_eq!(decide(&mut s, &r, Some(3)), 1);
        assert_eq!(decide(&mut s, &r, Some(3)), 2);
        assert_eq!(decide(&mut s, &r, Some(3)), 5);
        assert_eq!(decide(&mut s, &r, Some(3)), 3);
        // Used up: the default from now on.
        assert_eq!(decide(&mut s, &r, Some(2)), 2);
    }

    #[test]
    fn after_the_bytes_a_seeded_walk_takes_over() {
        let walk = |data: &[u8]| {
            let mut s = Bytes::new(data, Tail::Seeded);
            (0..32)
                .map(|_| decide(&mut s, &[1, 2, 3], Some(1)))
                .collect::<Vec<_>>()
        };
        assert_eq!(walk(&[7]), walk(&[7]));
        assert_ne!(walk(&[7]), walk(&[8]));
        assert!(walk(&[]).iter().any(|&g| g != 1));
    }
}
