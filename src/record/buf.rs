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
//!   overlap; the write position, its bound and the last goroutine live in the `Buf` and are
//!   touched by that thread alone while the run goes on.
//! - The entries from the allocation's start up to `pos` are the ones written, in order; the
//!   vector's length stays 0 until [`Buf::take`] sets it.
//! - The entries are read only by [`Buf::take`] and [`Buf::len`], after the run's worker
//!   threads were joined: no goroutine runs any more, and the joins order every push before
//!   the read.
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
/// two threads are allocated one after the other, and a write position updated at every push
/// on a line another thread also writes cost more than the rest of recording (`benches/
/// record.rs`'s mpmc workload: 2.5x with recording on, 1.2x aligned).
///
/// The write position lives here, beside the rest of what a push reads, and the thread's
/// `LOG` holds only a pointer to this: a push is one thread-local load, then loads from this
/// one line (its own thread's, so in its cache) and two stores of the entry.
#[repr(align(128))]
pub(crate) struct Buf {
    /// The next free slot of `entries`' allocation.
    pos: Cell<*mut Entry>,
    /// One past the last slot a push may fill without the slow path: the end of the
    /// allocation, or of the first `limit` slots if that comes first.
    end: Cell<*mut Entry>,
    /// The goroutine whose entries the log's tail holds (0 before the first).
    gid: Cell<u64>,
    /// The allocation the entries are written into, from its start to `pos`. Its length stays
    /// 0 while the run goes on (pushes write through `pos`) and is set by [`Buf::take`].
    entries: UnsafeCell<Vec<Entry>>,
    /// Most entries kept.
    limit: usize,
    /// The goroutine (id, spawn site) whose push was the first one dropped for want of room.
    overflowed: OnceLock<(u64, &'static Location<'static>)>,
}

// SAFETY: `pos`, `end`, `gid` and `entries` are written by one thread and read by another only
// once no goroutine runs (module invariants); every other field is immutable or synchronised.
unsafe impl Sync for Buf {}
// SAFETY: as above (the vector of entries is plain data).
unsafe impl Send for Buf {}

impl Buf {
    pub(crate) fn new(limit: usize) -> Buf {
        let b = Buf {
            pos: Cell::new(std::ptr::null_mut()),
            end: Cell::new(std::ptr::null_mut()),
            gid: Cell::new(0),
            entries: UnsafeCell::new(pooled()),
            limit,
            overflowed: OnceLock::new(),
        };
        b.place(0);
        b
    }

    /// Point `pos` at slot `n` of the allocation and `end` at its last usable slot.
    fn place(&self, n: usize) {
        // SAFETY: only the owning thread (or the creator, before sharing) touches the vector
        // while the run goes on (module invariants).
        let v = unsafe { &mut *self.entries.get() };
        let usable = v.capacity().min(self.limit);
        let base = v.as_mut_ptr();
        // SAFETY: `n <= usable <= capacity`: both stay within (or one past) the allocation.
        unsafe {
            self.pos.set(base.add(n));
            self.end.set(base.add(usable));
        }
    }

    /// Entries written so far (switch entries included).
    fn count(&self) -> usize {
        // SAFETY: as in `place`.
        let base = unsafe { &*self.entries.get() }.as_ptr();
        // SAFETY: `pos` points into (or one past) the allocation that starts at `base`.
        unsafe { self.pos.get().offset_from(base) as usize }
    }

    /// Append `e`, growing the allocation if it is full; called only by the thread that owns
    /// this log. False if it was dropped (the log holds `limit` entries).
    #[inline]
    fn put(&self, e: Entry) -> bool {
        let pos = self.pos.get();
        if pos == self.end.get() && !self.grow() {
            return false;
        }
        let pos = self.pos.get();
        // SAFETY: `pos < end` (just checked, or `grow` made room), so the slot is inside the
        // allocation, and only this thread writes it (module invariants).
        unsafe {
            pos.write(e);
            self.pos.set(pos.add(1));
        }
        true
    }

    /// Make room for one more entry; false if the log already holds `limit` entries.
    #[cold]
    fn grow(&self) -> bool {
        let n = self.count();
        if n >= self.limit {
            return false;
        }
        // SAFETY: as in `place`.
        let v = unsafe { &mut *self.entries.get() };
        // SAFETY: the first `n` slots were written by `put` (plain `Copy` data), so they are
        // initialised; the length goes back to 0 below, once `reserve` has moved them.
        unsafe { v.set_len(n) };
        v.reserve(n.max(1024));
        // SAFETY: shrinking to 0 leaves nothing uninitialised behind the length.
        unsafe { v.set_len(0) };
        self.place(n);
        true
    }

    /// The goroutine (id, spawn site) whose operation was the first dropped for want of
    /// room, if any.
    pub(crate) fn overflowed(&self) -> Option<(u64, &'static Location<'static>)> {
        self.overflowed.get().copied()
    }

    /// The entries written so far, once the run is over (no goroutine runs any more).
    fn written(&self) -> &[Entry] {
        let n = self.count();
        // SAFETY: called after the run's workers were joined (module invariants); the first
        // `n` slots were written by `put`.
        unsafe { std::slice::from_raw_parts((*self.entries.get()).as_ptr(), n) }
    }

    /// Operations logged (switch entries aside), once the run is over.
    pub(crate) fn len(&self) -> usize {
        self.written()
            .iter()
            .filter(|e| e.kind() != Kind::Switch)
            .count()
    }

    /// The entries, once the run is over (no goroutine runs any more).
    pub(crate) fn take(&self) -> Vec<Entry> {
        let n = self.count();
        // SAFETY: called after the run's workers were joined: no goroutine can push any more,
        // and the joins order their pushes before this read (module invariants).
        let mut v = std::mem::take(unsafe { &mut *self.entries.get() });
        // SAFETY: the first `n` slots were written by `put`.
        unsafe { v.set_len(n) };
        self.place(0);
        v
    }
}

thread_local! {
    /// This thread's log, as (serial of its session, the log). Plain cells with no destructor:
    /// the access is a load from the thread's block, where a `RefCell` of an `Arc` cost twice
    /// the rest of a push (its lazy registration check and borrow flag). The session keeps
    /// the log alive (its `bufs`); the log of a session that ended is never read, as its serial
    /// is no live session's.
    static LOG: (Cell<u64>, Cell<*const Buf>) = const { (Cell::new(0), Cell::new(std::ptr::null())) };
}

/// Log `e` for goroutine `gid` (spawned at `site`), which runs on this thread, in `session`.
/// The common case (same session, same goroutine as the last entry, room left) is two
/// thread-local loads, four loads from the thread's own log and `session`, and three stores,
/// inlined into the hook.
#[inline(always)]
pub(crate) fn push(session: &Session, gid: u64, site: &'static Location<'static>, e: Entry) {
    let (serial, buf) = LOG.with(|(s, b)| (s.get(), b.get()));
    if serial == session.serial() {
        // `buf` was attached to the session whose serial it is stored with (serials are unique
        // in the process), and the caller holds that session (the running goroutine's `rec`),
        // which keeps every log it attached (`bufs`) until it is dropped.
        // SAFETY: so `buf` is alive; only this thread writes to it (module invariants).
        let b = unsafe { &*buf };
        let pos = b.pos.get();
        if b.gid.get() == gid && pos != b.end.get() {
            // SAFETY: `pos < end`: the slot is inside the allocation, and only this thread
            // writes to its log (module invariants).
            unsafe {
                pos.write(e);
                b.pos.set(pos.add(1));
            }
            return;
        }
    }
    push_slow(session, gid, site, e)
}

/// [`push`] when the thread's log belongs to another session, or its tail to another
/// goroutine, or it is full.
///
/// Not cold: a goroutine that blocks at most of its operations (an unbuffered channel) comes
/// here at most of its entries, after each switch.
#[inline(never)]
fn push_slow(session: &Session, gid: u64, site: &'static Location<'static>, e: Entry) {
    let (serial, mut buf) = LOG.with(|(s, b)| (s.get(), b.get()));
    if serial != session.serial() {
        buf = attach(session);
    }
    // SAFETY: as in `push`.
    let b = unsafe { &*buf };
    let switch = b.gid.get() != gid;
    b.gid.set(gid);
    if (switch && !b.put(Entry::switch(gid))) || !b.put(e) {
        let _ = b.overflowed.set((gid, site));
    }
}

/// Give this thread a log of `session` (its first entry in that session).
#[cold]
fn attach(session: &Session) -> *const Buf {
    let buf = Arc::as_ptr(&session.attach());
    LOG.with(|(s, b)| {
        s.set(session.serial());
        b.set(buf);
    });
    buf
}
