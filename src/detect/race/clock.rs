//! Vector clocks whose size follows the goroutines a clock has heard of, and the two kinds of
//! clock the detector keeps: a goroutine's `C[g]` ([`Thread`]) and a key's `L[k]` ([`Lock`]).
//!
//! A clock has two forms:
//! - **sparse**: the nonzero entries as (goroutine, entry) pairs sorted by goroutine. A
//!   goroutine's clock starts as a copy of its parent's plus its own entry and grows only by
//!   what it acquires, so 100,000 goroutines parked on one channel cost a few entries each.
//!   (A vector indexed by id made the k-th child's clock k entries long: memory quadratic in
//!   live goroutines, 0.4 GB at 10k.)
//! - **dense**: one entry per id below the vector's length, for a clock that has heard of
//!   most goroutines (a wait group's, after a thousand goroutines called `done`): O(1) updates
//!   and a vectorised join, at 4 bytes an id.
//!
//! A sparse clock of at least [`DENSE_MIN`] entries whose ids span less than twice their
//! number becomes dense, so a dense clock never costs more than 8 bytes per nonzero entry,
//! half what the sparse form does; a dense clock asked to hold an id far past its end turns
//! sparse again.
//!
//! Invariants: sparse entries are sorted by goroutine, without duplicates or zero entries; a
//! dense vector is empty or has a nonzero entry.

/// Sparse clocks with at least this many entries may become dense.
const DENSE_MIN: usize = 64;

/// A vector clock (entries not held are 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VectorClock {
    /// The nonzero entries, sorted by goroutine.
    Sparse(Vec<(u64, u32)>),
    /// Entry `g` at index `g`.
    Dense(Vec<u32>),
}

impl Default for VectorClock {
    fn default() -> VectorClock {
        VectorClock::Sparse(Vec::new())
    }
}

impl VectorClock {
    /// The entry of `g`.
    #[inline]
    pub(crate) fn get(&self, g: u64) -> u32 {
        match self {
            VectorClock::Sparse(e) => match e.binary_search_by_key(&g, |e| e.0) {
                Ok(i) => e[i].1,
                Err(_) => 0,
            },
            VectorClock::Dense(d) => d.get(g as usize).copied().unwrap_or(0),
        }
    }

    /// Set the entry of `g` to `v` (nonzero).
    pub(super) fn set(&mut self, g: u64, v: u32) {
        debug_assert!(v != 0);
        match self {
            VectorClock::Dense(d) => {
                let i = g as usize;
                if i < d.len() {
                    d[i] = v;
                    return;
                }
                if i < 2 * d.len() + DENSE_MIN {
                    d.resize(i + 1, 0);
                    d[i] = v;
                    return;
                }
                self.make_sparse();
                self.set(g, v);
            }
            VectorClock::Sparse(e) => {
                // The goroutine's own entry is usually the last (children have larger ids than
                // everything their parent knew when they were made).
                match e.last_mut() {
                    Some(last) if last.0 == g => last.1 = v,
                    Some(last) if last.0 < g => e.push((g, v)),
                    None => e.push((g, v)),
                    Some(_) => match e.binary_search_by_key(&g, |e| e.0) {
                        Ok(i) => e[i].1 = v,
                        Err(i) => e.insert(i, (g, v)),
                    },
                }
                self.maybe_dense();
            }
        }
    }

    /// Add one to the entry of `g`.
    #[inline]
    pub(super) fn tick(&mut self, g: u64) {
        let v = self.get(g);
        self.set(g, v + 1);
    }

    /// True if every entry is 0.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        match self {
            VectorClock::Sparse(e) => e.is_empty(),
            VectorClock::Dense(d) => d.is_empty(),
        }
    }

    /// Goroutines with a nonzero entry.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        match self {
            VectorClock::Sparse(e) => e.len(),
            VectorClock::Dense(d) => d.iter().filter(|&&v| v != 0).count(),
        }
    }

    /// True if the clock is in its dense form.
    #[cfg(test)]
    pub(super) fn is_dense(&self) -> bool {
        matches!(self, VectorClock::Dense(_))
    }

    /// Turn a sparse clock dense if its ids are packed closely enough.
    #[inline]
    fn maybe_dense(&mut self) {
        let VectorClock::Sparse(e) = self else { return };
        let n = e.len();
        if n < DENSE_MIN || e[n - 1].0 >= 2 * n as u64 {
            return;
        }
        let mut d = vec![0u32; e[n - 1].0 as usize + 1];
        for &(g, v) in e.iter() {
            d[g as usize] = v;
        }
        *self = VectorClock::Dense(d);
    }

    #[cold]
    fn make_sparse(&mut self) {
        if let VectorClock::Dense(d) = self {
            let e = d
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0)
                .map(|(g, &v)| (g as u64, v))
                .collect();
            *self = VectorClock::Sparse(e);
        }
    }

    /// `self = self ⊔ other`.
    pub(super) fn join(&mut self, other: &VectorClock) {
        match (&mut *self, other) {
            (_, VectorClock::Sparse(b)) if b.is_empty() => {}
            (VectorClock::Dense(a), VectorClock::Dense(b)) => {
                if a.len() < b.len() {
                    a.resize(b.len(), 0);
                }
                join_slices(a, b);
            }
            (VectorClock::Sparse(a), VectorClock::Sparse(b)) if b.len() * 8 >= a.len() => {
                join_sorted(a, b);
                self.maybe_dense();
            }
            (_, VectorClock::Sparse(b)) => {
                // A small clock into a large one (many releasers merging into one wait
                // group's clock): entry by entry, rather than a pass over the large one.
                for &(g, v) in b {
                    if v > self.get(g) {
                        self.set(g, v);
                    }
                }
            }
            (VectorClock::Sparse(_), VectorClock::Dense(b)) => {
                let old = std::mem::replace(self, VectorClock::Dense(b.clone()));
                if let VectorClock::Sparse(a) = old {
                    for (g, v) in a {
                        if v > self.get(g) {
                            self.set(g, v);
                        }
                    }
                }
            }
        }
    }

    /// `self = other`, reusing `self`'s allocation when the forms match.
    #[inline]
    pub(super) fn copy_from(&mut self, other: &VectorClock) {
        match (&mut *self, other) {
            (VectorClock::Sparse(a), VectorClock::Sparse(b)) => {
                a.clear();
                a.extend_from_slice(b);
            }
            (VectorClock::Dense(a), VectorClock::Dense(b)) => {
                a.clear();
                a.extend_from_slice(b);
            }
            _ => *self = other.clone(),
        }
    }

    /// Forget every entry, keeping the allocation.
    #[inline]
    pub(super) fn clear(&mut self) {
        match self {
            VectorClock::Sparse(e) => e.clear(),
            VectorClock::Dense(d) => d.clear(),
        }
    }
}

/// `a = a ⊔ b` for sorted sparse entries: in place when `b` names no goroutine `a` lacks
/// (acquiring an older copy of what one knows), else into a fresh list.
fn join_sorted(a: &mut Vec<(u64, u32)>, b: &[(u64, u32)]) {
    let mut i = 0;
    let mut in_place = true;
    for &(g, v) in b {
        while i < a.len() && a[i].0 < g {
            i += 1;
        }
        if i < a.len() && a[i].0 == g {
            a[i].1 = a[i].1.max(v);
            i += 1;
        } else {
            in_place = false;
            break;
        }
    }
    if in_place {
        return;
    }
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => {
                merged.push(x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                merged.push(y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                merged.push((x.0, x.1.max(y.1)));
                i += 1;
                j += 1;
            }
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    *a = merged;
}

/// `a[i] = max(a[i], b[i])` over the common length. Long clocks take the AVX2 path where the
/// CPU has it: the baseline x86-64 target has no unsigned 32-bit maximum instruction.
#[inline]
fn join_slices(a: &mut [u32], b: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if a.len().min(b.len()) >= 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { join_slices_avx2(a, b) };
        return;
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(*y);
    }
}

/// [`join_slices`], compiled for AVX2 (`vpmaxud`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn join_slices_avx2(a: &mut [u32], b: &[u32]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(*y);
    }
}

/// Freed clocks kept for reuse, at most this many.
pub(super) const MAX_SPARE: usize = 4096;

/// A goroutine's clock `C[g]`.
#[derive(Default)]
pub(crate) struct Thread {
    pub(super) clock: VectorClock,
    /// Bumped whenever an entry other than the goroutine's own may have changed (a join, a
    /// timer callback's fresh start): while it stays put, the clock only ticked.
    pub(super) version: u64,
}

/// A synchronisation key's clock `L[k]`.
#[derive(Default)]
pub(crate) struct Lock {
    pub(super) clock: VectorClock,
    /// Nonzero if `clock` is a copy of `C[copy_of]`, made by a release (every export of a clock
    /// is followed by a tick of its owner's entry, so `clock[copy_of]` names the moment).
    /// Then a goroutine that knows `copy_of` up to that entry knows all of `clock`, and an
    /// acquire can skip the join; and a later release by `copy_of` whose clock only ticked
    /// since (same `version`) only needs to update that one entry.
    pub(super) copy_of: u64,
    /// `copy_of`'s `Thread::version` when the copy was made.
    pub(super) version: u64,
}

impl Thread {
    /// `C[g] ⊔= l`, skipping the join when `C[g]` covers `l` already.
    #[inline]
    pub(super) fn acquire(&mut self, l: &Lock) {
        let r = l.copy_of;
        if l.clock.is_empty() || (r != 0 && self.clock.get(r) >= l.clock.get(r)) {
            return;
        }
        self.clock.join(&l.clock);
        self.version += 1;
    }

    /// `l = C[g]`, then tick `g`.
    #[inline]
    pub(super) fn release(&mut self, g: u64, l: &mut Lock) {
        if g != 0 && l.copy_of == g && l.version == self.version {
            // Only our own entry moved since our last release here.
            l.clock.set(g, self.clock.get(g));
        } else {
            l.clock.copy_from(&self.clock);
            l.copy_of = g;
            l.version = self.version;
        }
        self.clock.tick(g);
    }

    /// `l ⊔= C[g]`, then tick `g`.
    #[inline]
    pub(super) fn release_merge(&mut self, g: u64, l: &mut Lock) {
        let r = l.copy_of;
        let covered = l.clock.is_empty()
            || (g != 0 && r == g)
            || (r != 0 && self.clock.get(r) >= l.clock.get(r));
        if covered {
            // The join is our clock: a plain release.
            self.release(g, l);
        } else {
            l.clock.join(&self.clock);
            l.copy_of = 0;
            self.clock.tick(g);
        }
    }
}
