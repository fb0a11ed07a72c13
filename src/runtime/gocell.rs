//! A `go` on the work-stealing runtime before its goroutine starts, and its join cell.
//!
//! A goroutine record is ~300 bytes. When a spawner outruns the workers (a loop of a million
//! `go`s keeping every `JoinHandle`), every goroutine spawned and not yet joined used to hold
//! one: 350 MB alive at once, a quarter of the time spent by the kernel zeroing fresh pages.
//! Here `go` allocates only a cell: a small header, and one slot that holds the closure until
//! the goroutine runs, then its result until it is joined. The record is taken from the
//! worker's free list when the goroutine first runs (`Shared::materialize`) and goes back to it
//! as soon as the goroutine exits, while the handle keeps only the cell. Go's `newproc` does
//! allocate its `g` at once, but its `g`s are recycled at exit, and nothing holds them after.
//!
//! Two references own a cell: the run side (a [`New`] in a run queue, then a [`Start`] in the
//! record's payload) and the [`JoinHandle`](super::join::JoinHandle) (if any). The last one to
//! let go frees it: a cell of up to 240 bytes back to `cellpool` (a detached goroutine's cell is
//! freed by the worker that starts it, nearly always not the spawner), a larger one to the heap.
//!
//! Invariants:
//! - `refs` counts the owners above; the cell is freed when it drops to zero.
//! - The slot holds the closure from `new` until the run side takes it (to run it, or to drop
//!   it unrun); only the run side touches it until then. It holds the result exactly while the
//!   state is `Done`, and is then touched only under the `join` lock.
//! - `state` moves `Running` → `Done` | `Empty` | `Abandoned` once, as `JoinState` does in
//!   `join.rs`, and a joiner registers itself under the same lock, so no completion misses it.
//! - While the run side holds its reference, the handle exists iff `refs == 2` (no flag of
//!   its own: the cell of a small closure stays within 64 bytes). The handle gives its reference up under
//!   the `join` lock, so a finishing goroutine that reads `refs` under that lock either sees
//!   the handle, and leaves the result to it, or sees it gone, and drops the result itself.
//! - A name given at spawn waits in `NAMES` (under the cell's address, with `vtable.named`
//!   set) until the run side takes it into the record, or else until the cell is freed: no
//!   other cell has the address meanwhile.
//! - The run side drops its reference only after its last touch of the cell (the state is
//!   `Done` or `Abandoned` by then if the handle is alive). So a handle that reads `refs == 1`
//!   (acquire) is the only owner for good, and may read the state without the lock
//!   (`Handle::take_if_alone`).

use std::cell::UnsafeCell;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::cellpool;
use super::goroutine::{GRef, Payload, G};
use super::hb::{self, Key};
use super::waiter::ThinWaiter;
use crate::util::spin::{SpinGuard, SpinLock};

/// The join state of a cell; see the module invariants.
pub(crate) enum CellState {
    /// Not finished. `waiter`: the joiner, if one waits.
    Running { waiter: Option<ThinWaiter> },
    /// Finished; the result is in the slot.
    Done,
    /// Finished and the result was taken or dropped (or never wanted).
    Empty,
    /// The goroutine panicked, or was torn down before returning.
    Abandoned(&'static &'static str),
}

/// Why a goroutine ended without a result, for its joiner's panic (a thin reference keeps
/// [`CellState`] two words long).
pub(crate) static NEVER_STARTED: &str = "it was torn down (main returned) before it started";
/// See [`NEVER_STARTED`].
pub(crate) static NO_RETURN: &str = "it panicked or was torn down (main returned) before returning";

/// What is known of a cell without knowing its closure's and result's types.
struct VTable {
    /// Takes the closure out of the slot and runs it, then completes the cell; consumes the
    /// run side's reference.
    run: unsafe fn(Ref),
    /// Drops the closure in the slot, unrun.
    drop_closure: unsafe fn(NonNull<Header>),
    /// Drops the result in the slot.
    drop_value: unsafe fn(NonNull<Header>),
    /// Frees the allocation (a `cellpool` block, or a heap block for a large cell).
    dealloc: unsafe fn(NonNull<Header>),
    /// The slot's address (the handle knows the result's type, not the closure's).
    slot: unsafe fn(NonNull<Header>) -> *mut u8,
    /// The closure's type path, for dumps and `leak::Options::ignore_top_function`.
    function: fn() -> &'static str,
    /// Whether [`NAMES`] holds a name for the cell (given at spawn, not taken yet).
    named: bool,
}

/// Names given at spawn, by the address of their cell, until the run side takes them when it
/// makes the goroutine's record (or drops the goroutine unrun). Names are rare, and a field
/// for them cost every cell 8 bytes. With the count of owners folded into the spawn site's
/// word and a joiner two words long ([`ThinWaiter`]), a cell of a `fn() -> u64` takes one
/// 64-byte block, where it took 88 bytes in a 96-byte one: a spawner that keeps a million
/// handles writes 32 MB less fresh memory.
static NAMES: Mutex<BTreeMap<usize, Box<str>>> = Mutex::new(BTreeMap::new());

fn names() -> std::sync::MutexGuard<'static, BTreeMap<usize, Box<str>>> {
    NAMES.lock().unwrap_or_else(|p| p.into_inner())
}

/// The untyped start of every cell.
pub(crate) struct Header {
    /// Two fields in one word ([`Header::refs`], [`Header::site`]): the owners alive (see the
    /// module invariants, at most 2) in the low bits, and where `go` was called (a `&'static
    /// Location`, 8-byte aligned, its provenance exposed) in the others. A word of its own for
    /// a count that fits in two bits cost every cell 8 bytes.
    site_refs: AtomicUsize,
    /// The result hand-over. A spin lock: its critical sections are a few stores (the
    /// joiner's park releases it on the scheduler's stack, as a channel's lock), and its
    /// unlock is a plain store where std's mutex pays a locked swap, twice per goroutine.
    join: SpinLock<CellState>,
    vtable: &'static VTable,
    /// The goroutine's id, given at `go`.
    id: u64,
    /// Id of the goroutine that spawned it.
    parent: u64,
}

/// The bits of `Header::site_refs` that count owners.
const REFS: usize = 0b11;

// A `Location` pointer leaves `REFS` clear.
const _: () = assert!(std::mem::align_of::<Location<'static>>() > REFS);

impl Header {
    /// The owners alive.
    #[inline]
    fn refs(&self, order: Ordering) -> usize {
        self.site_refs.load(order) & REFS
    }

    /// Give up one owner's reference (`Release`); true if it was the last one.
    #[inline]
    fn release_ref(&self) -> bool {
        self.site_refs.fetch_sub(1, Ordering::Release) & REFS == 1
    }

    /// Where `go` was called.
    #[inline]
    fn site(&self) -> &'static Location<'static> {
        let p = std::ptr::with_exposed_provenance::<Location<'static>>(
            self.site_refs.load(Ordering::Relaxed) & !REFS,
        );
        // SAFETY: the bits above `REFS` are a `&'static Location` whose provenance `new`
        // exposed; the count below them never borrows from them (it stays within 0..=2).
        unsafe { &*p }
    }
}

/// The closure, then the result (`repr(C)`: both at offset 0, where the handle reads a `T`).
#[repr(C)]
union Slot<F, T> {
    f: ManuallyDrop<F>,
    t: ManuallyDrop<T>,
}

#[repr(C)]
struct Cell<F, T> {
    header: Header,
    slot: UnsafeCell<Slot<F, T>>,
}

/// One owning reference to a cell.
struct Ref(NonNull<Header>);

// SAFETY: the header is `Sync` but for the slot, which the module invariants give
// to one owner at a time (the run side, or whoever holds the `join` lock); the closure and
// result types are `Send` (`new` requires it).
unsafe impl Send for Ref {}
// SAFETY: as above.
unsafe impl Sync for Ref {}

impl Ref {
    fn header(&self) -> &Header {
        // SAFETY: an owning reference keeps the cell allocated.
        unsafe { self.0.as_ref() }
    }

    fn lock(&self) -> SpinGuard<'_, CellState> {
        self.header().join.lock()
    }
}

impl Drop for Ref {
    fn drop(&mut self) {
        if !self.header().release_ref() {
            return;
        }
        std::sync::atomic::fence(Ordering::Acquire);
        let dealloc = self.header().vtable.dealloc;
        // SAFETY: this was the last owner, so nobody else can reach the cell any more; the
        // slot is empty by then (the run side took or dropped the closure, and the result was
        // taken or dropped under the lock by whoever left `Done`).
        unsafe { dealloc(self.0) }
    }
}

impl<F, T> Cell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    const VTABLE: VTable = VTable {
        run: Self::run,
        drop_closure: Self::drop_closure,
        drop_value: Self::drop_value,
        dealloc: Self::dealloc,
        slot: Self::slot,
        function: std::any::type_name::<F>,
        named: false,
    };

    /// The vtable of a cell whose name waits in [`NAMES`].
    const VTABLE_NAMED: VTable = VTable {
        named: true,
        ..Self::VTABLE
    };

    /// # Safety
    /// `h` heads a live `Cell<F, T>`.
    unsafe fn slot(h: NonNull<Header>) -> *mut u8 {
        // SAFETY: `Cell` is `repr(C)` with the header first, so a pointer to the header is a
        // pointer to the cell (the caller's contract says it is one).
        let cell = unsafe { h.cast::<Cell<F, T>>().as_ref() };
        cell.slot.get().cast()
    }

    /// # Safety
    /// `h` heads a live `Cell<F, T>` whose slot holds the closure, and the caller is the run
    /// side.
    unsafe fn take_closure(h: NonNull<Header>) -> F {
        // SAFETY: the caller's contract: the slot holds an `F` and nobody else touches it.
        unsafe { ManuallyDrop::take(&mut (*Self::slot(h).cast::<Slot<F, T>>()).f) }
    }

    unsafe fn drop_closure(h: NonNull<Header>) {
        // SAFETY: the contract of `VTable::drop_closure` is `take_closure`'s.
        drop(unsafe { Self::take_closure(h) })
    }

    unsafe fn drop_value(h: NonNull<Header>) {
        // SAFETY: the caller holds the lock in state `Done`, so the slot holds the result.
        drop(unsafe { ManuallyDrop::take(&mut (*Self::slot(h).cast::<Slot<F, T>>()).t) })
    }

    /// The cell's block class in `cellpool`, if pooled (else a heap block of its own layout).
    const CLASS: Option<usize> = cellpool::class_of(std::alloc::Layout::new::<Self>());

    unsafe fn dealloc(h: NonNull<Header>) {
        // SAFETY: the cell is alive until it is freed below.
        if unsafe { h.as_ref() }.vtable.named {
            // A name no record took goes with its cell, before another cell can be given
            // this address (dropped after the table's lock).
            let name = names().remove(&h.as_ptr().addr());
            drop(name);
        }
        let cell = h.cast::<Cell<F, T>>();
        match Self::CLASS {
            Some(c) => {
                // SAFETY: the cell was written into a block of class `c` by `new`, and the
                // last owner frees it once: its fields are dropped (the slot's union drops
                // nothing: it is empty by then), and the block holds nothing alive after.
                unsafe {
                    std::ptr::drop_in_place(cell.as_ptr());
                    cellpool::free(c, cell.cast());
                }
            }
            // SAFETY: the cell was written by `new` into memory allocated with its own layout,
            // and the last owner frees it once (its fields dropped first, as above).
            None => unsafe {
                std::ptr::drop_in_place(cell.as_ptr());
                std::alloc::dealloc(
                    cell.as_ptr().cast(),
                    std::alloc::Layout::new::<Cell<F, T>>(),
                );
            },
        }
    }

    /// # Safety
    /// As for `take_closure`, with `r` the run side's reference.
    unsafe fn run(r: Ref) {
        let h = r.0;
        /// Marks the cell abandoned if the closure unwinds.
        struct Unwound(NonNull<Header>);
        impl Drop for Unwound {
            fn drop(&mut self) {
                // SAFETY: the run side's reference keeps the cell alive during `run`.
                let header = unsafe { self.0.as_ref() };
                abandon(header, &NO_RETURN);
            }
        }
        // SAFETY: the caller's contract.
        let f = unsafe { Self::take_closure(h) };
        // Only the run side's reference left: the handle is gone, and cannot come back. (A
        // load, not the lock: this runs for every goroutine.)
        let detached = r.header().refs(Ordering::Acquire) == 1;
        if detached {
            // No handle (a `go` whose handle was dropped at once, Go's plain `go`): nobody looks
            // at the cell again, so it goes now, and a goroutine that parks for long holds
            // its record and stack only.
            drop(r);
            drop(f());
            return;
        }
        // Declared after `r`, so dropped (on an unwind too) while `r` keeps the cell alive.
        let unwound = Unwound(h);
        let v = f();
        std::mem::forget(unwound);
        let header = r.header();
        // The joiner may take the value as soon as it is published, before the executor
        // records this goroutine's exit: the edge `join` acquires is released first (as in
        // `join::finish`).
        hb::release(Key::Exit(header.id));
        // And a joiner whose `join` returned no longer counts it in `num_goroutine`.
        super::executor::steal::count_out(None);
        let (waiter, unwanted) = {
            let mut st = header.join.lock();
            // Under the lock: see the module invariants.
            let handle = header.refs(Ordering::Acquire) == 2;
            match std::mem::replace(&mut *st, CellState::Empty) {
                CellState::Running { waiter } if handle => {
                    // SAFETY: the closure was taken out, so the slot is empty; the lock is
                    // held, and `Done` tells the handle what it holds.
                    unsafe {
                        (*Self::slot(h).cast::<Slot<F, T>>()).t = ManuallyDrop::new(v);
                    }
                    *st = CellState::Done;
                    (waiter, None)
                }
                CellState::Running { waiter } => (waiter, Some(v)),
                _ => unreachable!("a goroutine finishes once"),
            }
        };
        // Dropped outside the lock: its destructor may do anything.
        drop(unwanted);
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// The goroutine ended without a result: wake the joiner, who will panic with `why`.
fn abandon(h: &Header, why: &'static &'static str) {
    let waiter = {
        let mut st = h.join.lock();
        match std::mem::replace(&mut *st, CellState::Abandoned(why)) {
            CellState::Running { waiter, .. } => waiter,
            other => {
                *st = other;
                None
            }
        }
    };
    if let Some(w) = waiter {
        w.wake();
    }
}

/// A new cell for a `go` of `f` as goroutine `id`: its run side and, with `handle`, its join
/// side.
pub(crate) fn new<F, T>(
    cache: &cellpool::Cache,
    id: u64,
    parent: u64,
    site: &'static Location<'static>,
    name: Option<Box<str>>,
    f: F,
) -> (New, Handle)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let p = match Cell::<F, T>::CLASS {
        Some(c) => cache.alloc(c).cast::<Cell<F, T>>(),
        None => {
            // Cells pile up while a spawner outruns the workers: grow the heap in steps.
            super::arena::before_fresh(std::mem::size_of::<Cell<F, T>>() + 16);
            let layout = std::alloc::Layout::new::<Cell<F, T>>();
            // SAFETY: a cell has a header, so its size is not zero.
            let p = unsafe { std::alloc::alloc(layout) };
            NonNull::new(p)
                .unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
                .cast()
        }
    };
    // Written straight into the block (no cell on the stack, then copied).
    // SAFETY: the block is large and aligned enough for the cell (`cellpool::class_of`, or its
    // own layout), and holds nothing.
    unsafe {
        p.as_ptr().write(Cell::<F, T> {
            header: Header {
                site_refs: AtomicUsize::new(
                    (site as *const Location<'static>).expose_provenance() | 2,
                ),
                join: SpinLock::new(CellState::Running { waiter: None }),
                vtable: if name.is_some() {
                    &Cell::<F, T>::VTABLE_NAMED
                } else {
                    &Cell::<F, T>::VTABLE
                },
                id,
                parent,
            },
            slot: UnsafeCell::new(Slot {
                f: ManuallyDrop::new(f),
            }),
        })
    };
    let h = p.cast::<Header>();
    if let Some(name) = name {
        names().insert(h.as_ptr().addr(), name);
    }
    (New::go(Start(Ref(h))), Handle(ManuallyDrop::new(Ref(h))))
}

/// The run side of a cell: the closure, not run yet. Dropping it drops the closure unrun and
/// tells the joiner that the goroutine never ran.
pub(crate) struct Start(Ref);

impl Start {
    /// The goroutine's id.
    pub(crate) fn id(&self) -> u64 {
        self.0.header().id
    }

    /// Id of the goroutine that spawned it.
    pub(crate) fn parent(&self) -> u64 {
        self.0.header().parent
    }

    /// Where `go` was called.
    pub(crate) fn site(&self) -> &'static Location<'static> {
        self.0.header().site()
    }

    /// The closure's type path.
    pub(crate) fn function(&self) -> &'static str {
        (self.0.header().vtable.function)()
    }

    /// The name given at spawn (moved out: the record keeps it from now on).
    pub(crate) fn take_name(&mut self) -> Option<Box<str>> {
        if !self.0.header().vtable.named {
            return None;
        }
        // The run side keeps the cell alive, so no other cell has this address meanwhile.
        names().remove(&self.0 .0.as_ptr().addr())
    }

    /// Run the closure and complete the cell (on the goroutine's own stack).
    pub(crate) fn run(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: the slot still holds the closure (a `Start` is consumed by `run` or by its
        // drop, never both), and `this` is the run side. Its reference is read out of the
        // `ManuallyDrop` and dropped after the call, also if the closure unwinds.
        let r = unsafe { std::ptr::read(&this.0) };
        let run = r.header().vtable.run;
        // SAFETY: as above; `run` takes over the reference.
        unsafe { run(r) };
    }
}

impl Drop for Start {
    fn drop(&mut self) {
        let h = self.0 .0;
        // SAFETY: a `Start` still holds its closure until `run` consumes it, and it is the run
        // side.
        unsafe { (self.0.header().vtable.drop_closure)(h) };
        abandon(self.0.header(), &NEVER_STARTED);
    }
}

/// The body of a goroutine whose record was made for a cell: its payload holds the `Start`
/// (see `InlineEntry::run`).
///
/// # Safety
/// `g`'s payload holds a `Start`, and `g` is the current goroutine.
pub(crate) unsafe fn run_start(g: &G) {
    // SAFETY: the caller's contract; the goroutine's own thread owns the payload.
    let start = unsafe { g.payload.take::<Start>() };
    start.run();
}

/// The `discard` of a record's payload holding a `Start` (an `InlineEntry`'s).
///
/// # Safety
/// `p` holds a `Start`, and the caller has exclusive access to it.
pub(crate) unsafe fn discard_start(p: &Payload) {
    // SAFETY: the caller's contract.
    unsafe { p.discard::<Start>() }
}

/// An unstarted goroutine in a run queue of the work-stealing executor: a record (main, tasks,
/// goroutines of a recording run or spawned from outside a worker) or a `go`'s cell. One
/// thin pointer, so that the spawn slot can swap it atomically: a record's `Arc::into_raw`,
/// or a cell's header with the low bit set (both are aligned to at least 8).
pub(crate) struct New(*mut ());

// SAFETY: a `New` owns either a `GRef` (`Send + Sync`) or a `Start` (`Send + Sync` above).
unsafe impl Send for New {}
// SAFETY: as above; a `New` is only ever used through `&mut` or by value.
unsafe impl Sync for New {}

/// What a [`New`] holds.
pub(crate) enum Unstarted {
    /// A goroutine record.
    Record(GRef),
    /// A `go`'s cell.
    Go(Start),
}

/// The low bit of a word that points at a cell rather than a record.
const CELL_TAG: usize = 1;

/// A goroutine record or one owning reference to a cell, as one word: the record's
/// `Arc::into_raw`, or the cell's header with [`CELL_TAG`] set (both are aligned to at least
/// 8). A [`New`] holds the run side's word, a `JoinHandle` the join side's ([`Joinable`]).
enum Tagged {
    Record(GRef),
    Cell(Ref),
}

impl Tagged {
    /// The word, owning what `self` owned.
    fn into_raw(self) -> *mut () {
        match self {
            Tagged::Record(g) => Arc::into_raw(g).cast_mut().cast(),
            Tagged::Cell(r) => {
                let r = ManuallyDrop::new(r);
                // The tag keeps the pointer's provenance (`map_addr`), so Miri can follow it
                // back.
                r.0.as_ptr().cast::<()>().map_addr(|a| a | CELL_TAG)
            }
        }
    }

    /// # Safety
    /// `p` came from [`into_raw`](Self::into_raw), and what it owns is rebuilt once (or into
    /// a value that is never dropped, `ManuallyDrop`).
    unsafe fn from_raw(p: *mut ()) -> Tagged {
        if p.addr() & CELL_TAG != 0 {
            let h = p.map_addr(|a| a & !CELL_TAG).cast::<Header>();
            // SAFETY: a tagged word holds a cell reference's non-null header (`into_raw`);
            // the caller's contract makes this its one owner.
            Tagged::Cell(Ref(unsafe { NonNull::new_unchecked(h) }))
        } else {
            // SAFETY: an untagged word is an `Arc::into_raw` (`into_raw`), rebuilt once.
            Tagged::Record(unsafe { Arc::from_raw(p.cast::<G>().cast_const()) })
        }
    }
}

impl New {
    /// An unstarted goroutine record.
    pub(crate) fn record(g: GRef) -> New {
        New(Tagged::Record(g).into_raw())
    }

    fn go(s: Start) -> New {
        let s = ManuallyDrop::new(s);
        // SAFETY: `s` is never used or dropped again, so its reference is moved out once.
        New(Tagged::Cell(unsafe { std::ptr::read(&s.0) }).into_raw())
    }

    /// The raw pointer, owning what the `New` owned (for the spawn slot).
    pub(crate) fn into_raw(self) -> *mut () {
        ManuallyDrop::new(self).0
    }

    /// Rebuild a `New` from `into_raw`.
    ///
    /// # Safety
    /// `p` came from `into_raw` and is rebuilt once.
    pub(crate) unsafe fn from_raw(p: *mut ()) -> New {
        New(p)
    }

    /// Take it apart.
    pub(crate) fn open(self) -> Unstarted {
        let p = ManuallyDrop::new(self).0;
        // SAFETY: a `New`'s word comes from `Tagged::into_raw` (`record`, `go`); `self` is
        // consumed, so it is rebuilt once.
        match unsafe { Tagged::from_raw(p) } {
            Tagged::Record(g) => Unstarted::Record(g),
            Tagged::Cell(r) => Unstarted::Go(Start(r)),
        }
    }
}

impl Drop for New {
    fn drop(&mut self) {
        drop(New(self.0).open());
    }
}

/// What a `JoinHandle` holds: the goroutine's record, or (a `go` on a worker of the
/// work-stealing runtime) only its cell's join side, so that the record is recycled as the
/// goroutine exits. In one word, tagged as a [`New`] is (`handle_word.rs`).
pub(crate) enum Joinable {
    Record(GRef),
    Cell(Handle),
}

impl Joinable {
    /// The word, owning what `self` owned: give it back to [`from_raw`](Self::from_raw).
    pub(crate) fn into_raw(self) -> *mut () {
        match self {
            Joinable::Record(g) => Tagged::Record(g),
            Joinable::Cell(h) => {
                let h = ManuallyDrop::new(h);
                // SAFETY: `h` is never used or dropped again, so its reference is moved out
                // once.
                Tagged::Cell(ManuallyDrop::into_inner(unsafe { std::ptr::read(&h.0) }))
            }
        }
        .into_raw()
    }

    /// # Safety
    /// As for `Tagged::from_raw`: `p` came from [`into_raw`](Self::into_raw), and what it owns
    /// is rebuilt once (or into a view that is never dropped).
    pub(crate) unsafe fn from_raw(p: *mut ()) -> Joinable {
        // SAFETY: the caller's contract.
        match unsafe { Tagged::from_raw(p) } {
            Tagged::Record(g) => Joinable::Record(g),
            Tagged::Cell(r) => Joinable::Cell(Handle(ManuallyDrop::new(r))),
        }
    }
}

/// The join side of a cell (what a `JoinHandle` of a cell holds). Its reference is given up
/// by its drop, under the lock (see the module invariants), or by `release_emptied`.
pub(crate) struct Handle(ManuallyDrop<Ref>);

impl Handle {
    /// The goroutine's id.
    pub(crate) fn id(&self) -> u64 {
        self.0.header().id
    }

    /// Join without the lock once the run side has let go of the cell: `Err(self)` while it
    /// holds it still. Otherwise the handle is the cell's only owner (see the module
    /// invariants), reads the end state alone, and frees the cell: `Ok(Ok(v))` is the result,
    /// `Ok(Err(Some(why)))` an abandoned goroutine, `Ok(Err(None))` a result already taken (by
    /// an await). The caller acquires the exit edge, as after [`take`](Self::take).
    ///
    /// In a spawn loop that keeps its handles the goroutines have mostly finished by the time
    /// they are joined: this is then one load where the lock and `release_emptied` were two
    /// locked read-modify-writes.
    ///
    /// # Safety
    /// `T` is the cell's result type.
    pub(crate) unsafe fn take_if_alone<T>(self) -> Result<Result<T, Option<&'static str>>, Handle> {
        // The run side drops its reference (a `Release` decrement) after its last touch of the
        // cell, so with the handle alive a count of one means it is gone for good.
        if self.0.header().refs(Ordering::Acquire) != 1 {
            return Err(self);
        }
        let h = ManuallyDrop::new(self).0 .0;
        // SAFETY: the handle's reference (given up by this function) keeps the cell alive
        // until the `dealloc` below.
        let header = unsafe { h.as_ref() };
        // SAFETY: the run side let go (above) and the handle is consumed here, so nobody else
        // can reach the cell, its lock included; the acquire load makes the run side's writes
        // visible.
        let st = unsafe { &mut *header.join.value_unlocked() };
        let out = match std::mem::replace(st, CellState::Empty) {
            // SAFETY: `Done` means the slot holds the result, a `T` (the caller's contract);
            // the union puts both of its fields at its start.
            CellState::Done => Ok(unsafe { (header.vtable.slot)(h).cast::<T>().read() }),
            CellState::Abandoned(why) => Err(Some(*why)),
            CellState::Empty => Err(None),
            CellState::Running { .. } => {
                unreachable!("a run side lets go of its cell only after it ended it")
            }
        };
        // SAFETY: the last owner (above); the slot is empty: the result was read out just
        // above, or there was none.
        unsafe { (header.vtable.dealloc)(h) };
        Ok(out)
    }

    /// Let go of a cell whose result this handle took (state `Empty`), without the lock the
    /// drop would take to find that out.
    pub(crate) fn release_emptied(self) {
        // The goroutine finished (the state is `Empty`), so nobody reads `refs` under the
        // lock any more: an ordinary release.
        let this = ManuallyDrop::new(self);
        let header = this.0.header();
        if header.release_ref() {
            std::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: the last owner; the slot is empty (the state is `Empty`).
            unsafe { (header.vtable.dealloc)(this.0 .0) };
        }
    }

    /// True once the goroutine has finished (or can no longer).
    pub(crate) fn is_finished(&self) -> bool {
        !matches!(*self.0.lock(), CellState::Running { .. })
    }

    /// The lock of the state, for a joiner that may sleep on it.
    pub(crate) fn lock(&self) -> SpinGuard<'_, CellState> {
        self.0.lock()
    }

    /// Take the result out of a `Done` state (which becomes `Empty`); the caller acquires the
    /// goroutine's exit edge (`hb::acquire(Key::Exit(id))`) once it has dropped the lock.
    ///
    /// # Safety
    /// `st` is this handle's locked state, in `Done`, and `T` is the cell's result type.
    pub(crate) unsafe fn take<T>(&self, st: &mut CellState) -> T {
        debug_assert!(matches!(st, CellState::Done));
        *st = CellState::Empty;
        let slot = self.0.header().vtable.slot;
        // SAFETY: `Done` means the slot holds the result, a `T` (the caller's contract), and
        // the lock is held. The union puts both of its fields at its start.
        unsafe { slot(self.0 .0).cast::<T>().read() }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let header = self.0.header();
        let mut st = self.0.lock();
        if let CellState::Done = &*st {
            *st = CellState::Empty;
            // SAFETY: `Done` means the slot holds the result; the lock is held.
            unsafe { (header.vtable.drop_value)(self.0 .0) };
        }
        // Under the lock (module invariants): from here on a finishing goroutine drops its
        // result itself.
        let last = header.release_ref();
        drop(st);
        if last {
            std::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: the last owner; the slot is empty (the goroutine finished, and its
            // result was dropped just above or taken before).
            unsafe { (header.vtable.dealloc)(self.0 .0) };
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cell's ownership without running goroutines (so Miri can check it:
    //! `cargo +nightly miri test --lib gocell::tests`).
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its drops.
    struct Tally(Arc<AtomicUsize>);

    impl Drop for Tally {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn cell<F, T>(f: F) -> (New, Handle)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        thread_local! {
            static CACHE: cellpool::Cache = const { cellpool::Cache::new() };
        }
        CACHE.with(|c| new(c, 7, 1, Location::caller(), Some("w".into()), f))
    }

    /// A cell like `cell`'s, with the name given (or none).
    fn cell_named(name: Option<&str>) -> (New, Handle) {
        thread_local! {
            static CACHE: cellpool::Cache = const { cellpool::Cache::new() };
        }
        CACHE.with(|c| new(c, 9, 1, Location::caller(), name.map(Into::into), || 5u64))
    }

    /// Whether `NAMES` holds a name for the cell that `h` heads.
    fn name_waits(h: &Handle) -> bool {
        names().contains_key(&h.0 .0.as_ptr().addr())
    }

    #[test]
    fn each_cell_takes_its_own_name_and_an_unnamed_one_none() {
        let (a, ha) = cell_named(Some("first"));
        let (b, hb) = cell_named(Some("second"));
        let (c, hc) = cell_named(None);
        assert!(name_waits(&ha) && name_waits(&hb) && !name_waits(&hc));
        let (mut a, mut b, mut c) = (start(a), start(b), start(c));
        assert_eq!(b.take_name().as_deref(), Some("second"));
        assert_eq!(a.take_name().as_deref(), Some("first"));
        assert_eq!(c.take_name(), None);
        assert!(
            !name_waits(&ha) && !name_waits(&hb),
            "taken names leave the table"
        );
        for s in [a, b, c] {
            s.run();
        }
        drop((ha, hb, hc));
    }

    #[test]
    fn a_named_goroutine_dropped_unrun_leaves_no_name_behind() {
        let (n, h) = cell_named(Some("never ran"));
        let at = h.0 .0.as_ptr().addr();
        drop(start(n));
        assert!(
            name_waits(&h),
            "the handle keeps the cell, and the name with it"
        );
        assert!(matches!(*h.lock(), CellState::Abandoned(_)));
        drop(h);
        assert!(
            !names().contains_key(&at),
            "the unrun goroutine's name went with its cell"
        );
    }

    fn start(n: New) -> Start {
        match n.open() {
            Unstarted::Go(s) => s,
            Unstarted::Record(_) => panic!("a cell came back as a record"),
        }
    }

    #[test]
    fn a_run_cell_hands_its_result_to_the_handle() {
        let (n, h) = cell(|| vec![1u8, 2, 3]);
        let mut s = start(n);
        assert_eq!((s.id(), s.parent()), (7, 1));
        assert_eq!(s.take_name().as_deref(), Some("w"));
        assert!(s.take_name().is_none(), "moved out once");
        assert!(!h.is_finished());
        s.run();
        assert!(h.is_finished());
        let mut st = h.lock();
        assert!(matches!(*st, CellState::Done));
        // SAFETY: `Done`, and the result is a `Vec<u8>`.
        let v: Vec<u8> = unsafe { h.take(&mut st) };
        assert!(matches!(*st, CellState::Empty));
        drop(st);
        assert_eq!(v, [1, 2, 3]);
    }

    #[test]
    fn an_unrun_cell_drops_its_closure_once_and_tells_the_joiner() {
        let n = Arc::new(AtomicUsize::new(0));
        let held = Tally(n.clone());
        let (new, h) = cell(move || drop(held));
        // Through the slot's raw form and back, as the spawn slot moves it.
        // SAFETY: `into_raw`'s pointer, rebuilt once.
        let new = unsafe { New::from_raw(new.into_raw()) };
        drop(new);
        assert_eq!(n.load(Ordering::SeqCst), 1, "the unrun closure");
        assert!(matches!(
            *h.lock(),
            CellState::Abandoned(&"it was torn down (main returned) before it started")
        ));
        drop(h);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_result_nobody_takes_is_dropped_once_whoever_goes_last() {
        let n = Arc::new(AtomicUsize::new(0));
        // The handle goes first: the result is dropped as the goroutine finishes.
        let m = n.clone();
        let (new, h) = cell(move || Tally(m));
        drop(h);
        start(new).run();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        // The goroutine goes first: the handle's drop drops the result.
        let m = n.clone();
        let (new, h) = cell(move || Tally(m));
        start(new).run();
        assert_eq!(n.load(Ordering::SeqCst), 1, "held for the handle");
        drop(h);
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panicking_closure_abandons_the_cell() {
        let (new, h) = cell(|| -> u8 { panic!("boom") });
        let s = start(new);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run()));
        assert!(r.is_err());
        assert!(matches!(
            *h.lock(),
            CellState::Abandoned(&"it panicked or was torn down (main returned) before returning")
        ));
    }

    #[test]
    fn a_new_carries_a_record_or_a_cell() {
        let g = G::new(
            3,
            None,
            Location::caller(),
            0,
            crate::runtime::executor::ExecKind::Steal(0),
            &mut crate::runtime::goroutine::boxed(Box::new(|| {})),
            4096,
            false,
        );
        let addr = Arc::as_ptr(&g);
        // SAFETY: `into_raw`'s pointer, rebuilt once.
        let n = unsafe { New::from_raw(New::record(g).into_raw()) };
        match n.open() {
            Unstarted::Record(g) => assert_eq!(Arc::as_ptr(&g), addr),
            Unstarted::Go(_) => panic!("a record came back as a cell"),
        }
        let (n, _h) = cell(|| 5u32);
        assert!(matches!(n.open(), Unstarted::Go(_)));
    }

    #[test]
    fn a_handle_alone_takes_the_result_without_the_lock_and_frees_the_cell() {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let (new, h) = cell(move || Tally(m));
        // The run side still holds the cell: the handle must take the locked path.
        // SAFETY (all `take_if_alone` calls below): the result types are the cells'.
        let h = match unsafe { h.take_if_alone::<Tally>() } {
            Err(h) => h,
            Ok(_) => panic!("joined before the goroutine ran"),
        };
        start(new).run();
        // SAFETY: `Tally` is the cell's result type.
        let v = match unsafe { h.take_if_alone::<Tally>() } {
            Ok(Ok(v)) => v,
            _ => panic!("the finished goroutine's result was not handed over"),
        };
        assert_eq!(n.load(Ordering::SeqCst), 0, "moved out, not dropped");
        drop(v);
        assert_eq!(n.load(Ordering::SeqCst), 1);

        // Abandoned: unrun, then panicked.
        let (new, h) = cell(|| 1u8);
        drop(new);
        assert!(matches!(
            // SAFETY: `u8` is the cell's result type.
            unsafe { h.take_if_alone::<u8>() },
            Ok(Err(Some(
                "it was torn down (main returned) before it started"
            )))
        ));
        let (new, h) = cell(|| -> u8 { panic!("boom") });
        let s = start(new);
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run())).is_err());
        assert!(matches!(
            // SAFETY: `u8` is the cell's result type.
            unsafe { h.take_if_alone::<u8>() },
            Ok(Err(Some(_)))
        ));

        // Taken by a poll (locked), then joined: nothing left.
        let (new, h) = cell(|| 2u8);
        start(new).run();
        let mut st = h.lock();
        // SAFETY: `Done`, and the result is a `u8`.
        assert_eq!(unsafe { h.take::<u8>(&mut st) }, 2);
        drop(st);
        // SAFETY: `u8` is the cell's result type.
        let left = unsafe { h.take_if_alone::<u8>() };
        assert!(matches!(left, Ok(Err(None))));
    }

    #[test]
    fn a_handle_alone_sees_what_the_run_side_wrote_on_another_thread() {
        // Under Miri this checks the unlocked read against the run side's writes.
        let (new, mut h) = cell(|| vec![7u64; 3]);
        let s = start(new);
        let t = std::thread::spawn(move || s.run());
        let v = loop {
            // SAFETY: the result type is the cell's.
            match unsafe { h.take_if_alone::<Vec<u64>>() } {
                Ok(r) => break r.expect("finished"),
                Err(back) => h = back,
            }
            std::thread::yield_now();
        };
        assert_eq!(v, [7, 7, 7]);
        t.join().unwrap();
    }

    #[test]
    fn a_cell_is_small() {
        // The point of the cell: a `go` of a small closure costs a fraction of a record.
        // One 64-byte block of `cellpool`, a cache line where the block is aligned to one.
        let size = std::mem::size_of::<Cell<fn() -> u64, u64>>();
        assert!(size <= 64, "a cell of a fn() -> u64 takes {size} bytes");
        let class = Cell::<fn() -> u64, u64>::CLASS.expect("pooled");
        assert_eq!(cellpool::stride(class), 64);
    }
}
