//! A goroutine's own operation log: one writer, no lock, bounded.
//!
//! Invariants:
//! - Only the goroutine that owns a `Buf` pushes to it, from the thread it runs on. A goroutine
//!   runs on one thread at a time (it is handed between threads only before it starts, through
//!   a run queue, which orders the hand-over), so pushes never overlap.
//! - `entries` is read only by [`Buf::take`], after the run's worker threads were joined: no
//!   goroutine runs any more, and the joins order every push before the read.
//! - At most `limit` entries are kept; a push beyond that sets `overflowed` and is dropped,
//!   and the session turns that into a message naming the limit.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::Mutex;

use super::Entry;

/// Most entries kept in [`POOL`], all vectors together (8 Mi entries of 24 bytes: 192 MiB).
const POOL_ENTRIES: usize = 8 << 20;

/// Emptied logs of finished runs, kept for the next run: a stress campaign records the same
/// program again and again, and fresh memory for every log cost more than the logging itself
/// (page faults: `benches/record.rs`'s mpmc workload ran 5.8-8x slower with recording, 2.2-3x
/// with the logs reused). Held with the vectors' capacity, all together.
static POOL: Mutex<(Vec<Vec<Entry>>, usize)> = Mutex::new((Vec::new(), 0));

/// A vector for a new log: a pooled one if any.
fn pooled() -> Vec<Entry> {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    match pool.0.pop() {
        Some(v) => {
            pool.1 -= v.capacity();
            v
        }
        None => Vec::with_capacity(32),
    }
}

/// Give an emptied log's vector back to the pool, if the pool has room for it.
pub(crate) fn recycle(mut v: Vec<Entry>) {
    v.clear();
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if pool.1 + v.capacity() <= POOL_ENTRIES {
        pool.1 += v.capacity();
        pool.0.push(v);
    }
}

/// The log of one goroutine of a recording run.
pub(crate) struct Buf {
    /// The goroutine's id on its runtime (unique within the run; not stable across runs).
    pub(crate) gid: u64,
    /// Where it was spawned (for the overflow message).
    pub(crate) site: &'static Location<'static>,
    /// Entries in program order; see the module invariants for who touches them.
    entries: UnsafeCell<Vec<Entry>>,
    /// Most entries kept.
    limit: usize,
    /// A push was dropped because the log was full.
    overflowed: AtomicBool,
}

// SAFETY: `entries` is written by one goroutine at a time and read only once no goroutine
// runs (module invariants); every other field is immutable or atomic.
unsafe impl Sync for Buf {}

impl Buf {
    pub(crate) fn new(gid: u64, site: &'static Location<'static>, limit: usize) -> Buf {
        Buf {
            gid,
            site,
            entries: UnsafeCell::new(pooled()),
            limit,
            overflowed: AtomicBool::new(false),
        }
    }

    /// Append `e`; called only by the goroutine that owns this log, while it runs.
    #[inline]
    pub(crate) fn push(&self, e: Entry) {
        let v = self.entries.get();
        // SAFETY: only the owning goroutine, running on this thread, touches `entries` now
        // (module invariants), so this is the only reference to the vector.
        let v = unsafe { &mut *v };
        if v.len() < self.limit {
            v.push(e);
        } else {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }

    /// True if an entry was dropped for want of room.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Entries logged, once the run is over (no goroutine runs any more).
    pub(crate) fn len(&self) -> usize {
        let v = self.entries.get();
        // SAFETY: as in `take`: no goroutine of the run can push any more.
        unsafe { (*v).len() }
    }

    /// The entries, once the run is over (no goroutine runs any more).
    pub(crate) fn take(&self) -> Vec<Entry> {
        let v = self.entries.get();
        // SAFETY: called after the run's workers were joined: no goroutine can push any more,
        // and the joins order their pushes before this read (module invariants).
        std::mem::take(unsafe { &mut *v })
    }
}
