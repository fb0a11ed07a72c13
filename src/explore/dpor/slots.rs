//! Per-key and per-lock slot numbers of the race analysis ([`super::trace::Exec`]), looked up
//! once per access of every analysed transition.
//!
//! The slots live in a hash map (which the analysis also walks, for the wildcard keys); the
//! keys of small object and goroutine ids (handed out in order from 1, so nearly all of
//! them) are also kept in a dense table in front of it, which answers a lookup with an
//! index instead of a hash and a probe (those were a measurable share of a schedule's cost).
//! Invariant: a dense entry, when set, equals the map's slot for its key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};

use crate::util::hash::FxHasher;

/// Ids below this get dense entries (a table of at most this many `u32`s per kind).
const DENSE: u64 = 4096;

/// No dense entry yet.
const NONE: u32 = u32::MAX;

/// Slot numbers by key: `K` is mapped to its dense index by `dense_of`.
pub(super) struct Slots<K> {
    map: HashMap<K, u32, BuildHasherDefault<FxHasher>>,
    dense: Vec<u32>,
}

impl<K> Default for Slots<K> {
    fn default() -> Self {
        Slots {
            map: HashMap::default(),
            dense: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash> Slots<K> {
    /// The slot of `k`, or `next` (recorded as its slot) if it has none; `dense` is `k`'s
    /// index in the dense table, if it has one.
    #[inline]
    pub fn get_or_insert(&mut self, k: K, dense: Option<usize>, next: u32) -> u32 {
        if let Some(i) = dense {
            if let Some(&s) = self.dense.get(i) {
                if s != NONE {
                    return s;
                }
            }
        }
        let s = *self.map.entry(k).or_insert(next);
        if let Some(i) = dense {
            if self.dense.len() <= i {
                self.dense.resize(i + 1, NONE);
            }
            self.dense[i] = s;
        }
        s
    }

    /// Every key with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &u32)> {
        self.map.iter()
    }
}

/// The dense index of a key of the kind numbered `kind` (of `kinds`) and id `id`, if small.
#[inline]
pub(super) fn dense(id: u64, kind: u64, kinds: u64) -> Option<usize> {
    (id < DENSE).then(|| (id * kinds + kind) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_hashed_keys_keep_their_first_slot() {
        let mut s: Slots<u64> = Slots::default();
        assert_eq!(s.get_or_insert(5, dense(5, 0, 1), 0), 0);
        assert_eq!(s.get_or_insert(1 << 40, dense(1 << 40, 0, 1), 1), 1);
        assert_eq!(s.get_or_insert(7, dense(7, 0, 1), 2), 2);
        // Known keys answer their slot whatever `next` says.
        assert_eq!(s.get_or_insert(5, dense(5, 0, 1), 9), 0);
        assert_eq!(s.get_or_insert(1 << 40, dense(1 << 40, 0, 1), 9), 1);
        assert_eq!(s.get_or_insert(7, dense(7, 0, 1), 9), 2);
        let mut all: Vec<(u64, u32)> = s.iter().map(|(&k, &v)| (k, v)).collect();
        all.sort();
        assert_eq!(all, [(5, 0), (7, 2), (1 << 40, 1)]);
    }
}
