//! A worker thread's operation log for one recording run: one writer, no lock, bounded.
//!
//! Every goroutine of a run logs into the log of the thread it runs on, and a goroutine runs
//! on one thread only (it moves between threads only before it starts, through a run queue),
//! so each goroutine's entries sit in one log, in its program order. When the thread starts
//! logging for another goroutine than the last one, a [`Kind::Switch`](super::Kind::Switch)
//! entry names it; the session splits the log back into per-goroutine streams at the end.
//! One log per thread rather than per goroutine keeps the write on a cache line the thread
//! wrote a moment ago: with a log per goroutine, a ring of 1,000 goroutines passing a value
//! missed the cache at every entry (`benches/record.rs`: 1.5x with recording on).
//!
//! Invariants:
//! - Only the thread that owns a `Buf` (through its `LOG`) pushes to it, so pushes never
//!   overlap.
//! - `entries` is read only by [`Buf::take`] and [`Buf::len`], after the run's worker threads
//!   were joined: no goroutine runs any more, and the joins order every push before the read.
//! - At most `limit` entries are kept; a push beyond that is dropped and `overflowed` names
//!   the goroutine that was running, and the session turns that into a message naming the
//!   limit.

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::{Arc, Mutex, OnceLock};

use super::session::Session;
use super::{Entry, Kind};

/// Most entries kept in [`POOL`], all vectors together (8 Mi entries of 16 bytes: 128 MiB).
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
        None => Vec::with_capacity(1024),
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

/// The log of one worker thread of a recording run. Aligned to two cache lines: the logs of
/// two threads are allocated one after the other, and a vector's length written at every push
/// on a line another thread also writes cost more than the rest of recording (`benches/
/// record.rs`'s mpmc workload: 2.5x with recording on, 1.2x aligned).
#[repr(align(128))]
pub(crate) struct Buf {
    /// Entries in the order the thread logged them; see the module invariants for who
    /// touches them.
    entries: UnsafeCell<Vec<Entry>>,
    /// Most entries kept.
    limit: usize,
    /// The goroutine (id, spawn site) whose push was the first one dropped for want of room.
    overflowed: OnceLock<(u64, &'static Location<'static>)>,
}

// SAFETY: `entries` is written by one thread and read only once no goroutine runs (module
// invariants); every other field is immutable or synchronised.
unsafe impl Sync for Buf {}
// SAFETY: as above (the vector of entries is plain data).
unsafe impl Send for Buf {}

impl Buf {
    pub(crate) fn new(limit: usize) -> Buf {
        Buf {
            entries: UnsafeCell::new(pooled()),
            limit,
            overflowed: OnceLock::new(),
        }
    }

    /// Append `e`; called only by the thread that owns this log. False if it was dropped.
    #[inline(always)]
    fn push(&self, e: Entry) -> bool {
        let v = self.entries.get();
        // SAFETY: only the owning thread touches `entries` while the run goes on (module
        // invariants), so this is the only reference to the vector.
        let v = unsafe { &mut *v };
        if v.len() < self.limit {
            v.push(e);
            true
        } else {
            false
        }
    }

    /// The goroutine (id, spawn site) whose operation was the first dropped for want of
    /// room, if any.
    pub(crate) fn overflowed(&self) -> Option<(u64, &'static Location<'static>)> {
        self.overflowed.get().copied()
    }

    /// Operations logged (switch entries aside), once the run is over.
    pub(crate) fn len(&self) -> usize {
        let v = self.entries.get();
        // SAFETY: as in `take`: no goroutine of the run can push any more.
        unsafe { &*v }
            .iter()
            .filter(|e| e.kind() != Kind::Switch)
            .count()
    }

    /// The entries, once the run is over (no goroutine runs any more).
    pub(crate) fn take(&self) -> Vec<Entry> {
        let v = self.entries.get();
        // SAFETY: called after the run's workers were joined: no goroutine can push any more,
        // and the joins order their pushes before this read (module invariants).
        std::mem::take(unsafe { &mut *v })
    }
}

thread_local! {
    /// This thread's log, as (serial of its session, the log, the goroutine whose entries the
    /// log's tail holds). Plain cells with no destructor: the access is a load from the
    /// thread's block, where a `RefCell` of an `Arc` cost twice the rest of a push (its
    /// lazy registration check and borrow flag). The session keeps the log alive (its `bufs`).
    static LOG: (Cell<u64>, Cell<*const Buf>, Cell<u64>) =
        const { (Cell::new(0), Cell::new(std::ptr::null()), Cell::new(0)) };
}

/// Log `e` for goroutine `gid` (spawned at `site`), which runs on this thread, in `session`.
/// The common case (same session, same goroutine as the last entry, room left) is a few
/// loads and one store, inlined into the hook.
#[inline(always)]
pub(crate) fn push(session: &Session, gid: u64, site: &'static Location<'static>, e: Entry) {
    let (serial, buf, last) = LOG.with(|(s, b, g)| (s.get(), b.get(), g.get()));
    if serial == session.serial() && last == gid {
        // `buf` was attached to the session whose serial it is stored with (serials are unique
        // in the process), and the caller holds that session (the running goroutine's `rec`),
        // which keeps every log it attached (`bufs`) until it is dropped.
        // SAFETY: so `buf` is alive; only this thread pushes to it (module invariants).
        if unsafe { &*buf }.push(e) {
            return;
        }
    }
    push_slow(session, gid, site, e)
}

/// [`push`] when the thread's log belongs to another session, or its tail to another
/// goroutine, or it is full.
#[cold]
#[inline(never)]
fn push_slow(session: &Session, gid: u64, site: &'static Location<'static>, e: Entry) {
    LOG.with(|(serial, buf, last)| {
        if serial.get() != session.serial() {
            buf.set(Arc::as_ptr(&session.attach()));
            serial.set(session.serial());
            last.set(0);
        }
        // SAFETY: as in `push`.
        let b = unsafe { &*buf.get() };
        let switch = last.get() != gid;
        last.set(gid);
        if (switch && !b.push(Entry::switch(gid))) || !b.push(e) {
            let _ = b.overflowed.set((gid, site));
        }
    })
}
