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
//! While a steal worker runs a recorded goroutine's turn, the thread holds the log's write
//! position in its own thread-local ([`Cursor`]): a recorded operation is then one compare and
//! the entry's stores, with no lookup of the running goroutine, its session or its state (the
//! hook's cost was mostly those lookups, not the entry: `benches/record.rs`).
//!
//! Invariants:
//! - Only the thread that owns a `Buf` (through its `LOCAL`) pushes to it, so pushes never
//!   overlap; the write position, its bound and the last goroutine live in the `Buf` (the
//!   position in the thread's cursor while one is open, see [`Cursor`]) and are touched by
//!   that thread alone while the run goes on.
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
/// The write position lives here between turns; during a recorded goroutine's turn on a
/// worker it lives in the thread's [`Cursor`] and is written back when the turn ends.
#[repr(align(128))]
pub(crate) struct Buf {
    /// The next free slot of `entries`' allocation (stale while a cursor is open).
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

/// This thread's side of recording: which log it writes, and, while a recorded goroutine runs
/// on it through a steal worker ([`Cursor::enter`]), that log's write position.
struct Local {
    /// The serial of the session `buf` belongs to (0: none yet).
    serial: Cell<u64>,
    /// The thread's log in that session.
    buf: Cell<*const Buf>,
    /// While a cursor is open: the next free slot of `buf`, which owns the write position
    /// meanwhile (`buf.pos` is stale until [`Cursor`]'s drop writes it back). Null otherwise.
    pos: Cell<*mut Entry>,
    /// While a cursor is open: how far [`put_fast`] may write (`buf.end`: the end of the
    /// allocation or of the limit). Null otherwise.
    end: Cell<*mut Entry>,
    /// While a cursor is open: the goroutine it logs for, and where that goroutine was
    /// spawned (for the overflow message).
    gid: Cell<u64>,
    site: Cell<Option<&'static Location<'static>>>,
}

thread_local! {
    /// This thread's log. Plain cells with no destructor: the access is a load from the
    /// thread's block, where a `RefCell` of an `Arc` cost twice the rest of a push (its lazy
    /// registration check and borrow flag). The session keeps the log alive (its `bufs`); the
    /// log of a session that ended is never read, as its serial is no live session's.
    static LOCAL: Local = const {
        Local {
            serial: Cell::new(0),
            buf: Cell::new(std::ptr::null()),
            pos: Cell::new(std::ptr::null_mut()),
            end: Cell::new(std::ptr::null_mut()),
            gid: Cell::new(0),
            site: Cell::new(None),
        }
    };
}

/// The thread's log for `session`, attaching one at its first entry of that session.
#[inline]
fn log_of(session: &Session) -> *const Buf {
    let (serial, buf) = LOCAL.with(|l| (l.serial.get(), l.buf.get()));
    if serial == session.serial() {
        buf
    } else {
        attach(session)
    }
}

/// The log's write position handed to the thread for the time a recorded goroutine runs on it
/// (a steal worker's turn of that goroutine): a recorded operation then costs one thread-local
/// compare and the entry's stores ([`put_fast`]), with no lookup of the goroutine, its
/// session or its state.
///
/// Invariants (besides the module's):
/// - A cursor is open on a thread only between [`Cursor::enter`] and the drop of what it
///   returns, while the goroutine it names is the thread's running goroutine, that goroutine
///   holds the session of the thread's log (so the log stays alive), and it is not being torn
///   down (a torn-down goroutine is only resumed by `tear_down`, which opens no cursor).
/// - While it is open, the write position is `LOCAL.pos`, not the log's own `pos`; every path
///   that touches the log (the slow path, the drop) writes it back first.
/// - Entries of a goroutine logged with no cursor open (a resume other than a worker's turn)
///   go through [`push`], which finds no cursor and uses the log's own position.
pub(crate) struct Cursor(bool);

impl Cursor {
    /// Open the thread's cursor for `g`'s turn, if `g` is recorded. Recording off: one load
    /// and a branch.
    #[inline]
    pub(crate) fn enter(g: &crate::runtime::goroutine::G) -> Cursor {
        if !super::on() {
            return Cursor(false);
        }
        enter_recording(g)
    }

    /// Open the thread's cursor for goroutine `gid` (spawned at `site`) logging in
    /// `session`. The caller keeps `session` alive until the cursor drops, and no cursor is
    /// open on this thread.
    pub(crate) fn open(session: &Session, gid: u64, site: &'static Location<'static>) -> Cursor {
        let buf = log_of(session);
        // SAFETY: `buf` is alive (the caller holds its session); only this thread writes it.
        let b = unsafe { &*buf };
        // The switch entry is written here, not by the turn's first push: nearly every turn
        // logs something (a goroutine woken from an operation goes on to its next one), and
        // in the slow path the switch cost a ping-pong's or a ring's every operation about 45
        // instructions more.
        if b.gid.get() != gid {
            b.gid.set(gid);
            if !b.put(Entry::switch(gid)) {
                let _ = b.overflowed.set((gid, site));
            }
        }
        LOCAL.with(|l| {
            debug_assert!(l.pos.get().is_null(), "a cursor is already open");
            l.pos.set(b.pos.get());
            l.end.set(b.end.get());
            l.gid.set(gid);
            l.site.set(Some(site));
        });
        Cursor(true)
    }
}

impl Drop for Cursor {
    #[inline]
    fn drop(&mut self) {
        if self.0 {
            close();
        }
    }
}

/// [`Cursor::enter`] in a recording process.
#[inline(never)]
fn enter_recording(g: &crate::runtime::goroutine::G) -> Cursor {
    match g.rec.as_ref() {
        // A goroutine being torn down logs nothing (`record::push_slow`).
        Some(session) if !g.torn_down.load(std::sync::atomic::Ordering::Relaxed) => {
            Cursor::open(session, g.id, g.spawn_site)
        }
        _ => Cursor(false),
    }
}

/// Write the cursor's position back to the log and close it.
#[inline(never)]
fn close() {
    LOCAL.with(|l| {
        // SAFETY: a cursor is open, so `buf` is the live log it writes (cursor invariants).
        let b = unsafe { &*l.buf.get() };
        b.pos.set(l.pos.get());
        l.pos.set(std::ptr::null_mut());
        l.end.set(std::ptr::null_mut());
    });
}

/// Log the entry `e` makes through the thread's open cursor, if it has one with room; else
/// hand `e` back (no cursor: [`push`]; no room: [`put_cursor_slow`]).
#[inline(always)]
pub(crate) fn put_fast<F: FnOnce() -> Entry>(e: F) -> Result<(), F> {
    LOCAL.with(|l| {
        let pos = l.pos.get();
        if pos == l.end.get() {
            return Err(e);
        }
        // SAFETY: a cursor is open (`pos != end`, both null otherwise) and `pos < end`: the
        // slot is inside the allocation of this thread's live log, which only this thread
        // writes (cursor and module invariants).
        unsafe {
            pos.write(e());
            l.pos.set(pos.add(1));
        }
        Ok(())
    })
}

/// True if the thread has an open cursor (then [`put_cursor_slow`], not [`push`], logs).
#[inline]
pub(crate) fn cursor_open() -> bool {
    LOCAL.with(|l| !l.pos.get().is_null())
}

/// Log `e` through the open cursor when [`put_fast`] could not: the log is full (grow it, or
/// record the overflow).
#[inline(never)]
pub(crate) fn put_cursor_slow(e: Entry) {
    LOCAL.with(|l| {
        // SAFETY: a cursor is open (the caller checked), so `buf` is its live log.
        let b = unsafe { &*l.buf.get() };
        b.pos.set(l.pos.get());
        // The log's tail is the cursor's goroutine's (`Cursor::open` wrote the switch).
        debug_assert_eq!(b.gid.get(), l.gid.get());
        if !b.put(e) {
            if let Some(site) = l.site.get() {
                let _ = b.overflowed.set((l.gid.get(), site));
            }
        }
        l.pos.set(b.pos.get());
        l.end.set(b.end.get());
    })
}

/// Log `e` for goroutine `gid` (spawned at `site`), which runs on this thread with no cursor
/// open, in `session`.
#[inline]
pub(crate) fn push(session: &Session, gid: u64, site: &'static Location<'static>, e: Entry) {
    let buf = log_of(session);
    // SAFETY: `buf` is attached to `session` (unique serial), which the caller holds and which
    // keeps its logs (`bufs`) alive; only this thread writes it, and with no cursor open its
    // `pos` is the write position.
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
    LOCAL.with(|l| {
        l.serial.set(session.serial());
        l.buf.set(buf);
    });
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Op;

    fn op(obj: u64, seq: u64) -> Entry {
        Entry::with_seq(Kind::Op(Op::ChanSend), obj, seq)
    }

    /// What the hooks do (`record::push`): the cursor's fast path, else its slow path.
    fn log(e: Entry) {
        if put_fast(move || e).is_err() {
            assert!(cursor_open(), "these tests log through an open cursor");
            put_cursor_slow(e);
        }
    }

    /// Every entry of this thread's log, switch entries included (the session is still open).
    fn raw() -> Vec<Entry> {
        assert!(!cursor_open());
        // SAFETY: no cursor is open and nothing else writes this thread's log.
        let b = unsafe { &*LOCAL.with(|l| l.buf.get()) };
        b.written().to_vec()
    }

    #[test]
    fn a_cursor_logs_each_turn_in_order_and_switches_at_each_change_of_goroutine() {
        let here = Location::caller();
        let s = Session::new(1 << 20);
        {
            // Past the 1,024 entries a fresh log starts with: the cursor's slow path grows
            // (and moves) the log several times.
            let _c = Cursor::open(&s, 2, here);
            for i in 0..5_000 {
                log(op(7, i));
            }
        }
        {
            // A turn that logs nothing leaves its switch entry behind, and nothing else.
            let _c = Cursor::open(&s, 3, here);
        }
        {
            let _c = Cursor::open(&s, 2, here);
            log(op(7, 5_000));
        }
        // A push with no cursor open (a resume other than a worker's turn) continues where
        // the last cursor stopped, and the next cursor after it.
        push(&s, 3, here, op(8, 0));
        {
            let _c = Cursor::open(&s, 3, here);
            log(op(8, 1));
        }
        {
            let _c = Cursor::open(&s, 2, here);
            log(op(7, 5_001));
        }
        let kinds: Vec<(Kind, u64)> = raw().iter().map(|e| (e.kind(), e.obj)).collect();
        let switches: Vec<u64> = kinds
            .iter()
            .filter(|k| k.0 == Kind::Switch)
            .map(|k| k.1)
            .collect();
        assert_eq!(
            switches,
            vec![2, 3, 2, 3, 2],
            "one switch entry per change of goroutine"
        );
        assert_eq!(kinds.len(), 5_004 + 5);
        let rec = s.collect();
        let seqs = |g: u64| -> Vec<u64> {
            rec.streams[&g]
                .entries
                .iter()
                .map(|e| e.seq().unwrap())
                .collect()
        };
        assert_eq!(seqs(2), (0..5_002).collect::<Vec<_>>());
        assert_eq!(seqs(3), vec![0, 1]);
        assert!(rec.overflow.is_none());
    }

    #[test]
    fn a_cursor_on_a_full_log_drops_the_entry_and_names_the_goroutine() {
        let here = Location::caller();
        let s = Session::new(3);
        {
            let _c = Cursor::open(&s, 5, here);
            for i in 0..5 {
                log(op(1, i));
            }
        }
        let rec = s.collect();
        // The switch entry takes one of the three places.
        assert_eq!(rec.streams[&5].entries, vec![op(1, 0), op(1, 1)]);
        let msg = rec.overflow.expect("the log outgrew its limit");
        assert!(msg.contains("goroutine 5"), "{msg}");
        assert!(msg.contains("more than 3 recorded operations"), "{msg}");
    }

    #[test]
    fn no_cursor_is_open_after_a_turn() {
        let here = Location::caller();
        let s = Session::new(100);
        assert!(!cursor_open());
        {
            let _c = Cursor::open(&s, 2, here);
            assert!(cursor_open());
            log(op(1, 0));
        }
        assert!(!cursor_open());
        assert!(put_fast(|| op(1, 1)).is_err(), "no cursor: nothing logged");
        assert_eq!(s.collect().streams[&2].entries, vec![op(1, 0)]);
    }

    /// A real run on two workers: eight goroutines that park at most operations, so that
    /// each worker runs many short turns of several goroutines, and logs that grow past their
    /// first allocation. Every goroutine gets back exactly its own operations, and the
    /// channel's numbers are each logged once.
    #[test]
    fn a_real_runs_goroutines_each_get_exactly_their_own_operations_back() {
        const P: u64 = 4;
        const C: u64 = 4;
        const EACH: u64 = 600;
        let rt = crate::Runtime::builder().workers(2).build().unwrap();
        for _ in 0..3 {
            let s = Session::new(1 << 20);
            rt.block_on_recorded(s.clone(), Location::caller(), || {
                let ch = crate::chan::make::<u64>(2);
                let producers: Vec<_> = (0..P)
                    .map(|p| {
                        let ch = ch.clone();
                        crate::go(move || (0..EACH).for_each(|j| ch.send(p * EACH + j)))
                    })
                    .collect();
                let consumers: Vec<_> = (0..C)
                    .map(|_| {
                        let ch = ch.clone();
                        crate::go(move || ch.iter().count() as u64)
                    })
                    .collect();
                producers.into_iter().for_each(|h| h.join());
                ch.close();
                let got: u64 = consumers.into_iter().map(|h| h.join()).sum();
                assert_eq!(got, P * EACH);
            });
            let rec = s.collect();
            assert!(rec.overflow.is_none());
            let ids: Vec<u64> = rec.streams.keys().copied().collect();
            assert_eq!(ids, (1..=1 + P + C).collect::<Vec<_>>());
            let ops = |g: u64| -> Vec<Kind> {
                rec.streams[&g].entries.iter().map(|e| e.kind()).collect()
            };
            let mut main = vec![Kind::Op(Op::Spawn); (P + C) as usize];
            main.extend(vec![Kind::Op(Op::Join); P as usize]);
            main.push(Kind::Op(Op::ChanClose));
            main.extend(vec![Kind::Op(Op::Join); C as usize]);
            assert_eq!(ops(1), main);
            let mut received = 0;
            for g in 2..=1 + P {
                assert_eq!(
                    ops(g),
                    vec![Kind::Op(Op::ChanSend); EACH as usize],
                    "goroutine {g}"
                );
            }
            for g in 2 + P..=1 + P + C {
                let o = ops(g);
                assert!(
                    o.iter().all(|&k| k == Kind::Op(Op::ChanRecv)),
                    "goroutine {g}: {o:?}"
                );
                received += o.len() as u64;
            }
            // Each value once, and each consumer's receive of the closed channel.
            assert_eq!(received, P * EACH + C);
            let chan = rec.streams[&2].entries[0].obj;
            let mut seqs: Vec<u64> = rec
                .streams
                .values()
                .flat_map(|s| s.entries.iter())
                .filter(|e| {
                    e.obj == chan
                        && matches!(
                            e.kind(),
                            Kind::Op(Op::ChanSend | Op::ChanRecv | Op::ChanClose)
                        )
                })
                .map(|e| e.seq().expect("a channel operation carries its number"))
                .collect();
            seqs.sort_unstable();
            assert_eq!(seqs, (0..2 * P * EACH + C + 1).collect::<Vec<_>>());
        }
    }
}
