//! Happens-before data-race detection with vector clocks, in the FastTrack style (Flanagan &
//! Freund, PLDI 2009).
//!
//! Invariants:
//! - Every goroutine `g` has a vector clock `C[g]`; its own entry is never 0, so an epoch
//!   `(g, C[g][g])` names one of its "moments" uniquely.
//! - Every synchronisation key `k` (a mutex, a channel slot, a goroutine's exit, ...) has a clock
//!   `L[k]`: a release stores into it, an acquire joins it into the acquirer's clock, and a
//!   release ticks the releaser's own entry, so later accesses are not ordered by that release.
//! - Every watched cell keeps the epoch of its last write and either one read epoch (reads are
//!   totally ordered so far) or, only while reads are concurrent, one epoch per reader.
//! - An access races with an earlier one when the earlier one's epoch is not covered by the
//!   accessor's clock: `epoch.clock > C[accessor][epoch.goroutine]`.
//! - While only one goroutine has been spawned (`solo`), nothing is recorded: everything that
//!   goroutine does is covered by the clock its first child starts with, so no later access can
//!   race with it and no edge it made could order anything that spawn does not.
//! - Every export of `C[g]` (a release, a spawn, arming a timer) is followed by a tick of
//!   `C[g][g]`, so each value of `g`'s own entry leaves `g` at most once. Hence a clock whose
//!   `g` entry is at least `e` already covers the copy of `C[g]` exported at `e`: an acquire
//!   of a key whose clock is such a copy (`Lock::copy_of`) skips the O(goroutines) join when
//!   the acquirer covers it (a goroutine re-locking its own mutex, a chain of hand-offs).
//!   Goroutine 0 is excluded: a timer callback replaces its clock rather than growing it.
//!
//! Goroutine 0 stands for code that runs outside any goroutine: timer callbacks. Each callback
//! starts from the clock its timer was armed with ([`Detector::timer_armed`],
//! [`Detector::timer_fired`]), so arming a timer happens before what its callback does (the
//! value it sends), and callbacks of unrelated timers are not ordered with each other.
//!
//! The hot paths allocate nothing in the steady state: clocks are updated in place (a release
//! copies into the key's existing clock, or only bumps its own entry when it is the last
//! releaser there and has learnt nothing since), freed clocks are kept in `spare`, exits are
//! indexed by goroutine id and the few other keys hashed with a multiply-rotate hash (they are
//! small integers), and a dropped detector leaves its tables to the next one made on the same
//! thread (the controlled executor makes one per schedule).

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;

use crate::verdict::RaceReport;

/// A vector clock, dense by goroutine id; entries past the end are 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VectorClock(Vec<u32>);

impl VectorClock {
    #[inline]
    pub(crate) fn get(&self, g: u64) -> u32 {
        self.0.get(g as usize).copied().unwrap_or(0)
    }

    fn set(&mut self, g: u64, v: u32) {
        let i = g as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = v;
    }

    #[inline]
    fn tick(&mut self, g: u64) {
        match self.0.get_mut(g as usize) {
            Some(v) => *v += 1,
            None => self.set(g, 1),
        }
    }

    /// `self = self ⊔ other`.
    #[inline]
    fn join(&mut self, other: &VectorClock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        join_slices(&mut self.0, &other.0);
    }

    /// `self = other`, reusing `self`'s allocation.
    #[inline]
    fn copy_from(&mut self, other: &VectorClock) {
        self.0.clear();
        self.0.extend_from_slice(&other.0);
    }
}

/// `a[i] = max(a[i], b[i])` over the common length. Long clocks (hundreds of goroutines) take
/// the AVX2 path where the CPU has it: the baseline x86-64 target has no unsigned 32-bit
/// maximum instruction, and this loop is most of an acquire's cost.
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

/// What a synchronisation edge hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SyncKey {
    /// A primitive (mutex, wait group, once, cond, context, atomic...), by object id.
    Object(u64),
    /// A sub-part of a primitive: a channel's buffer slot, a lock's reader side...
    Part(u64, u64),
    /// The end of a goroutine, acquired by `join`.
    Exit(u64),
    /// The single total order of SeqCst atomics.
    SeqCst,
}

/// A multiply-rotate hasher (rustc's FxHash) for the detector's keys, which are small
/// integers: SipHash's resistance to collision attacks buys nothing here and cost a large part
/// of the detector's time.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64);
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }

    #[inline]
    fn write_isize(&mut self, v: isize) {
        self.add(v as u64);
    }
}

type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Freed clocks kept for reuse, at most this many.
const MAX_SPARE: usize = 4096;

/// One access, as remembered for later reports.
#[derive(Clone, Copy, Debug)]
struct Access {
    goroutine: u64,
    clock: u32,
    site: &'static Location<'static>,
}

#[derive(Clone, Debug, Default)]
enum Reads {
    #[default]
    None,
    /// The last read; every earlier read happened before it.
    One(Access),
    /// Concurrent reads: the latest read of each goroutine.
    Many(Vec<Access>),
}

#[derive(Clone, Debug, Default)]
struct Cell {
    write: Option<Access>,
    reads: Reads,
}

/// A goroutine's clock `C[g]`.
#[derive(Default)]
struct Thread {
    clock: VectorClock,
    /// Bumped whenever an entry other than the goroutine's own may have changed (a join, a
    /// timer callback's fresh start): while it stays put, the clock only ticked.
    version: u64,
}

/// A synchronisation key's clock `L[k]`.
#[derive(Default)]
struct Lock {
    clock: VectorClock,
    /// Nonzero if `clock` is a copy of `C[copy_of]`, made by a release (every export of a clock
    /// is followed by a tick of its owner's entry, so `clock[copy_of]` names the moment).
    /// Then a goroutine that knows `copy_of` up to that entry knows all of `clock`, and an
    /// acquire can skip the join; and a later release by `copy_of` whose clock only ticked
    /// since (same `version`) only needs to update that one entry.
    copy_of: u64,
    /// `copy_of`'s `Thread::version` when the copy was made.
    version: u64,
}

impl Thread {
    /// `C[g] ⊔= l`, skipping the join when `C[g]` covers `l` already.
    #[inline]
    fn acquire(&mut self, l: &Lock) {
        let r = l.copy_of;
        if l.clock.0.is_empty() || (r != 0 && self.clock.get(r) >= l.clock.get(r)) {
            return;
        }
        self.clock.join(&l.clock);
        self.version += 1;
    }

    /// `l = C[g]`, then tick `g`.
    #[inline]
    fn release(&mut self, g: u64, l: &mut Lock) {
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
    fn release_merge(&mut self, g: u64, l: &mut Lock) {
        let r = l.copy_of;
        let covered = l.clock.0.is_empty()
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

/// The detector of one executor run.
///
/// A new detector takes this thread's spare tables if there are some, and a dropped one leaves
/// its tables (emptied, with their allocations) as the thread's spare: the controlled executor
/// makes one detector per schedule, all on the checker's thread, and so allocates nothing here
/// after the first schedules.
pub(crate) struct Detector {
    /// Off: every hook returns at once (`Checker::race_detection(false)`).
    enabled: bool,
    /// Deferred: nothing is recorded, and the first watched access only notes that the run
    /// needed the detector (`needed`); the checker then runs that schedule again with the
    /// detector on. A run that never touches a watched cell cannot report a race, so the
    /// clocks it would have kept are wasted work: a tenth of a mutex program's schedule.
    deferred: bool,
    /// A watched access happened while deferred.
    needed: bool,
    /// Goroutines spawned so far (the root included).
    spawned: u64,
    threads: Vec<Thread>,
    sync: Locks,
    cells: FxHashMap<u64, Cell>,
    goroutines: Vec<(Option<&'static Location<'static>>, bool)>,
    spare: Vec<VectorClock>,
}

/// The allocations of a detector, kept between runs.
#[derive(Default)]
struct Tables {
    /// `C[g]`, by goroutine id.
    threads: Vec<Thread>,
    /// `L[k]`.
    sync: Locks,
    /// Watched cells, by object id.
    cells: FxHashMap<u64, Cell>,
    /// Spawn site and "finished" flag, by goroutine id.
    goroutines: Vec<(Option<&'static Location<'static>>, bool)>,
    /// Cleared clocks, reused before allocating new ones.
    spare: Vec<VectorClock>,
}

thread_local! {
    /// Tables kept between runs on this thread, with their allocations.
    static SPARE: RefCell<Option<Tables>> = const { RefCell::new(None) };
    /// Whether detectors made on this thread watch anything (the checker's setting).
    static ENABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
    /// Whether detectors made on this thread defer their work (see [`Detector::deferred`]).
    static DEFERRED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Turn race detection on or off for the detectors made on this thread from now on (the
/// checker runs every schedule of one `Checker::run` on a thread of its own).
pub(crate) fn set_enabled_on_this_thread(on: bool) {
    ENABLED.with(|e| e.set(on));
}

/// Make the detectors made on this thread from now on deferred, or not.
pub(crate) fn set_deferred_on_this_thread(on: bool) {
    DEFERRED.with(|e| e.set(on));
}

impl Default for Detector {
    fn default() -> Detector {
        let t = SPARE
            .try_with(|s| s.borrow_mut().take())
            .ok()
            .flatten()
            .unwrap_or_default();
        Detector {
            enabled: ENABLED.try_with(|e| e.get()).unwrap_or(true),
            deferred: DEFERRED.try_with(|e| e.get()).unwrap_or(false),
            needed: false,
            spawned: 0,
            threads: t.threads,
            sync: t.sync,
            cells: t.cells,
            goroutines: t.goroutines,
            spare: t.spare,
        }
    }
}

impl Drop for Detector {
    /// Leave the tables, emptied, as this thread's spare (unless it has some already).
    fn drop(&mut self) {
        let mut t = Tables {
            threads: std::mem::take(&mut self.threads),
            sync: std::mem::take(&mut self.sync),
            cells: std::mem::take(&mut self.cells),
            goroutines: std::mem::take(&mut self.goroutines),
            spare: std::mem::take(&mut self.spare),
        };
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.is_none() {
                    t.reset();
                    *s = Some(t);
                }
            }
        });
    }
}

impl Tables {
    /// Forget the run, keeping the allocations.
    fn reset(&mut self) {
        let spare = &mut self.spare;
        let clocks = self
            .threads
            .drain(..)
            .map(|t| t.clock)
            .chain(self.sync.map.drain().map(|(_, l)| l.clock))
            .chain(self.sync.exits.drain(..).map(|l| l.clock))
            .chain(self.sync.objects.drain(..).map(|l| l.clock));
        for mut c in clocks {
            if spare.len() < MAX_SPARE {
                c.0.clear();
                spare.push(c);
            }
        }
        self.cells.clear();
        self.goroutines.clear();
    }
}

/// The detector of a work-stealing runtime (`race` feature), shared by its workers.
///
/// A spin lock rather than a `std::sync::Mutex`: every happens-before hook takes it, and
/// holds it for a few hundred nanoseconds at most without ever blocking, so a waiter spins
/// (yielding its thread after a while), and unlocking is a plain store, where the futex mutex
/// pays a second atomic read-modify-write to look for sleepers.
#[cfg(feature = "race")]
#[derive(Default)]
pub(crate) struct SharedDetector {
    /// Held while `detector` is borrowed.
    locked: std::sync::atomic::AtomicBool,
    /// Guarded by `locked`.
    detector: std::cell::UnsafeCell<Detector>,
}

// SAFETY: `detector` is only reached through a `DetectorGuard`, of which `locked` admits one at
// a time; a `Detector` may move between threads (it holds plain data and `&'static`
// locations).
#[cfg(feature = "race")]
unsafe impl Sync for SharedDetector {}

#[cfg(feature = "race")]
impl SharedDetector {
    /// Take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> DetectorGuard<'_> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        DetectorGuard(self)
    }

    #[cold]
    fn lock_contended(&self) {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let mut spins = 0u32;
        loop {
            while self.locked.load(Relaxed) {
                if spins < 100 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    // The holder may have been preempted: let it run.
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// The locked detector of a work-stealing runtime.
#[cfg(feature = "race")]
pub(crate) struct DetectorGuard<'a>(&'a SharedDetector);

#[cfg(feature = "race")]
impl std::ops::Deref for DetectorGuard<'_> {
    type Target = Detector;
    fn deref(&self) -> &Detector {
        // SAFETY: we hold the lock.
        unsafe { &*self.0.detector.get() }
    }
}

#[cfg(feature = "race")]
impl std::ops::DerefMut for DetectorGuard<'_> {
    fn deref_mut(&mut self) -> &mut Detector {
        // SAFETY: we hold the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.0.detector.get() }
    }
}

#[cfg(feature = "race")]
impl Drop for DetectorGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0
            .locked
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

/// `C[g]`, created (with its own entry at 1) if needed. A free function over the two fields it
/// needs, so that callers can hold other fields of the detector at the same time.
#[inline]
fn thread_of<'a>(
    threads: &'a mut Vec<Thread>,
    spare: &mut Vec<VectorClock>,
    g: u64,
) -> &'a mut Thread {
    let i = g as usize;
    if threads.len() <= i {
        grow(threads, spare, i + 1);
    }
    let t = &mut threads[i];
    if t.clock.get(g) == 0 {
        t.clock.set(g, 1);
    }
    t
}

#[cold]
fn grow(threads: &mut Vec<Thread>, spare: &mut Vec<VectorClock>, n: usize) {
    while threads.len() < n {
        threads.push(Thread {
            clock: spare.pop().unwrap_or_default(),
            version: 0,
        });
    }
}

/// Object ids below this index `Locks::objects` (a controlled run numbers its objects 1, 2,
/// ...); larger ones (the work-stealing runtime's process-wide ids) go to the hash map.
const DENSE_OBJECTS: u64 = 1024;

/// Every `L[k]`: goroutine exits by goroutine id and small object ids in dense tables (a mutex
/// op is a lookup by index, not a hash probe: 10% of the checker's time on a mutex program),
/// the other keys in a small hash map.
#[derive(Default)]
struct Locks {
    map: FxHashMap<SyncKey, Lock>,
    /// `L[Exit(g)]` at index `g`.
    exits: Vec<Lock>,
    /// `L[Object(o)]` at index `o`, for `o < DENSE_OBJECTS`.
    objects: Vec<Lock>,
}

impl Locks {
    #[inline]
    fn get(&self, key: SyncKey) -> Option<&Lock> {
        match key {
            SyncKey::Exit(g) => self.exits.get(g as usize),
            SyncKey::Object(o) if o < DENSE_OBJECTS => self.objects.get(o as usize),
            _ => self.map.get(&key),
        }
    }

    /// `L[k]`, created empty if needed.
    #[inline]
    fn entry(&mut self, spare: &mut Vec<VectorClock>, key: SyncKey) -> &mut Lock {
        let mut fresh = || Lock {
            clock: spare.pop().unwrap_or_default(),
            copy_of: 0,
            version: 0,
        };
        match key {
            SyncKey::Exit(g) => {
                let i = g as usize;
                while self.exits.len() <= i {
                    self.exits.push(fresh());
                }
                &mut self.exits[i]
            }
            SyncKey::Object(o) if o < DENSE_OBJECTS => {
                let i = o as usize;
                while self.objects.len() <= i {
                    self.objects.push(fresh());
                }
                &mut self.objects[i]
            }
            _ => match self.map.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(v) => v.insert(fresh()),
            },
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.map.is_empty() && self.exits.is_empty() && self.objects.is_empty()
    }
}

impl Detector {
    /// False if race detection is off or deferred for this run: the edge hooks skip the
    /// detector.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled && !self.deferred
    }

    /// Whether a hook should go on into the detector: edges only while it is enabled; a
    /// watched access (`access`) that reaches a deferred detector instead notes that the run
    /// needed it, and goes no further.
    #[inline]
    pub(crate) fn admits(&mut self, access: bool) -> bool {
        if access && self.enabled && self.deferred {
            self.needed = true;
        }
        self.enabled()
    }

    /// True if this run was deferred and touched a watched cell: its schedule must run again
    /// with the detector on.
    pub(crate) fn needed(&self) -> bool {
        self.needed
    }

    /// True while only one goroutine has been spawned: nothing needs recording (see the
    /// module invariants).
    #[inline]
    fn solo(&self) -> bool {
        self.spawned <= 1
    }

    /// `parent` spawned `child` at `site` (`None` for the checker's main goroutine, whose
    /// creation site is inside goweave): everything the parent did so far happens before the
    /// child's first step.
    pub(crate) fn spawn(
        &mut self,
        parent: u64,
        child: u64,
        site: Option<&'static Location<'static>>,
    ) {
        self.spawned += 1;
        let Detector { threads, spare, .. } = self;
        let (p, c) = (parent as usize, child as usize);
        thread_of(threads, spare, parent);
        if threads.len() <= c {
            grow(threads, spare, c + 1);
        }
        if p != c {
            // Split the borrow: copy the parent's clock into the child's slot in place.
            let (lo, hi) = threads.split_at_mut(p.max(c));
            let (from, to) = if p < c {
                (&lo[p], &mut hi[0])
            } else {
                (&hi[0], &mut lo[c])
            };
            to.clock.copy_from(&from.clock);
            to.version += 1;
        }
        threads[c].clock.set(child, 1);
        threads[p].clock.tick(parent);
        if self.goroutines.len() <= c {
            self.goroutines.resize(c + 1, (None, false));
        }
        self.goroutines[c] = (site, false);
    }

    /// `g` finished: its last step happens before a `join` of it.
    pub(crate) fn exit(&mut self, g: u64) {
        self.release(g, SyncKey::Exit(g));
        if let Some(e) = self.goroutines.get_mut(g as usize) {
            e.1 = true;
        }
    }

    /// `C[g] ⊔= L[k]`.
    #[inline]
    pub(crate) fn acquire(&mut self, g: u64, key: SyncKey) {
        if self.solo() {
            return;
        }
        if let Some(l) = self.sync.get(key) {
            thread_of(&mut self.threads, &mut self.spare, g).acquire(l);
        }
    }

    /// `C[g]` and `L[k]` (each created if needed), borrowed together.
    #[inline]
    fn clock_and_lock(&mut self, g: u64, key: SyncKey) -> (&mut Thread, &mut Lock) {
        let Detector {
            threads,
            sync,
            spare,
            ..
        } = self;
        let t = thread_of(threads, spare, g);
        (t, sync.entry(spare, key))
    }

    /// `L[k] = C[g]`, then tick.
    #[inline]
    pub(crate) fn release(&mut self, g: u64, key: SyncKey) {
        if self.solo() {
            return;
        }
        let (t, l) = self.clock_and_lock(g, key);
        t.release(g, l);
    }

    /// `L[k] ⊔= C[g]`, then tick (many releasers, one acquirer: wait groups, reader unlocks).
    #[inline]
    pub(crate) fn release_merge(&mut self, g: u64, key: SyncKey) {
        if self.solo() {
            return;
        }
        let (t, l) = self.clock_and_lock(g, key);
        t.release_merge(g, l);
    }

    /// Acquire then release on the same key (Go's `racereleaseacquire`: channel buffer slots).
    #[inline]
    pub(crate) fn release_acquire(&mut self, g: u64, key: SyncKey) {
        if self.solo() {
            return;
        }
        let (t, l) = self.clock_and_lock(g, key);
        t.acquire(l);
        t.release(g, l);
    }

    /// `g` arms a timer: what it did so far happens before the callback (the returned clock
    /// goes to [`timer_fired`](Self::timer_fired) when the timer fires).
    pub(crate) fn timer_armed(&mut self, g: u64) -> VectorClock {
        let mut snapshot = self.spare.pop().unwrap_or_default();
        if !self.solo() {
            let t = thread_of(&mut self.threads, &mut self.spare, g);
            snapshot.copy_from(&t.clock);
            t.clock.tick(g);
        }
        snapshot
    }

    /// A timer armed with `armed` fires: its callback runs as goroutine 0 from that clock.
    /// Goroutine 0's own entry only grows, so its epochs stay unique.
    pub(crate) fn timer_fired(&mut self, mut armed: VectorClock) {
        let t = thread_of(&mut self.threads, &mut self.spare, 0);
        let own = t.clock.get(0).max(armed.get(0)) + 1;
        armed.set(0, own);
        let mut old = std::mem::replace(&mut t.clock, armed);
        t.version += 1;
        if self.spare.len() < MAX_SPARE {
            old.0.clear();
            self.spare.push(old);
        }
    }

    fn report(
        &self,
        cell: u64,
        name: Option<&str>,
        write: bool,
        now: Access,
        previous_write: bool,
        prev: Access,
    ) -> RaceReport {
        let creation = |g: u64| {
            self.goroutines
                .get(g as usize)
                .copied()
                .unwrap_or((None, false))
        };
        RaceReport {
            cell: name.map_or_else(|| format!("cell #{cell}"), str::to_string),
            write,
            goroutine: now.goroutine,
            site: now.site,
            previous_write,
            previous_goroutine: prev.goroutine,
            previous_site: prev.site,
            creation: [creation(now.goroutine), creation(prev.goroutine)],
        }
    }

    /// `g` reads `cell` (named `name`) at `site`.
    pub(crate) fn read(
        &mut self,
        g: u64,
        cell: u64,
        name: Option<&str>,
        site: &'static Location<'static>,
    ) -> Result<(), RaceReport> {
        if self.solo() {
            return Ok(());
        }
        let c = &thread_of(&mut self.threads, &mut self.spare, g).clock;
        let now = Access {
            goroutine: g,
            clock: c.get(g),
            site,
        };
        let covered = |a: &Access| a.goroutine == g || a.clock <= c.get(a.goroutine);
        let entry = self.cells.entry(cell).or_default();
        if let Some(w) = entry.write {
            if !covered(&w) {
                return Err(self.report(cell, name, false, now, true, w));
            }
        }
        match &mut entry.reads {
            Reads::One(r) if covered(r) => *r = now,
            Reads::One(r) => {
                let r = *r;
                entry.reads = Reads::Many(vec![r, now]);
            }
            Reads::Many(v) => {
                v.retain(|r| !covered(r));
                if v.is_empty() {
                    entry.reads = Reads::One(now);
                } else {
                    v.push(now);
                }
            }
            Reads::None => entry.reads = Reads::One(now),
        }
        Ok(())
    }

    /// `g` writes `cell` (named `name`) at `site`.
    pub(crate) fn write(
        &mut self,
        g: u64,
        cell: u64,
        name: Option<&str>,
        site: &'static Location<'static>,
    ) -> Result<(), RaceReport> {
        if self.solo() {
            return Ok(());
        }
        let c = &thread_of(&mut self.threads, &mut self.spare, g).clock;
        let now = Access {
            goroutine: g,
            clock: c.get(g),
            site,
        };
        let unordered = |a: &Access| a.goroutine != g && a.clock > c.get(a.goroutine);
        let entry = self.cells.entry(cell).or_default();
        let conflict = match (&entry.write, &entry.reads) {
            (Some(w), _) if unordered(w) => Some((true, *w)),
            (_, Reads::One(r)) if unordered(r) => Some((false, *r)),
            (_, Reads::Many(v)) => v.iter().find(|r| unordered(r)).map(|r| (false, *r)),
            _ => None,
        };
        if let Some((pw, prev)) = conflict {
            return Err(self.report(cell, name, true, now, pw, prev));
        }
        entry.write = Some(now);
        entry.reads = Reads::None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    /// A detector past its solo phase: goroutine 1 runs main, as on the executors.
    fn detector() -> Detector {
        let mut d = Detector::default();
        d.spawn(0, 1, Some(here()));
        d
    }

    #[test]
    fn unsynchronised_write_then_read_races() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        let r = d.read(1, 10, None, here()).unwrap_err();
        assert_eq!((r.goroutine, r.previous_goroutine), (1, 2));
        assert!(r.previous_write && !r.write);
    }

    #[test]
    fn release_acquire_orders_accesses() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        d.release(2, SyncKey::Object(5));
        d.acquire(1, SyncKey::Object(5));
        d.read(1, 10, None, here()).unwrap();
        d.write(1, 10, None, here()).unwrap();
    }

    #[test]
    fn spawn_and_join_order_accesses() {
        let mut d = detector();
        d.write(1, 10, None, here()).unwrap();
        d.spawn(1, 2, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        d.exit(2);
        d.acquire(1, SyncKey::Exit(2));
        d.read(1, 10, None, here()).unwrap();
    }

    #[test]
    fn a_child_spawned_by_a_later_goroutine_inherits_its_clock() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.spawn(1, 3, Some(here()));
        d.write(3, 10, None, here()).unwrap();
        // Goroutine 3 spawns goroutine 4 (a higher id from a lower slot and back).
        d.spawn(3, 4, Some(here()));
        d.read(4, 10, None, here()).unwrap();
        assert!(d.read(2, 10, None, here()).is_err());
    }

    #[test]
    fn concurrent_reads_are_fine_but_a_later_unordered_write_races_with_them() {
        let mut d = detector();
        d.write(1, 10, None, here()).unwrap();
        d.spawn(1, 2, Some(here()));
        d.spawn(1, 3, Some(here()));
        d.read(2, 10, None, here()).unwrap();
        d.read(3, 10, None, here()).unwrap();
        // Goroutine 3's read is ordered before the write, goroutine 2's is not.
        d.release(3, SyncKey::Object(1));
        d.acquire(1, SyncKey::Object(1));
        let r = d.write(1, 10, None, here()).unwrap_err();
        assert_eq!(r.previous_goroutine, 2);
        assert!(!r.previous_write);
    }

    #[test]
    fn a_release_does_not_order_what_comes_after_it() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.release(2, SyncKey::Object(5));
        d.write(2, 10, None, here()).unwrap();
        d.acquire(1, SyncKey::Object(5));
        assert!(d.read(1, 10, None, here()).is_err());
    }

    #[test]
    fn release_merge_keeps_every_releaser_and_release_acquire_chains() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.spawn(1, 3, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        d.write(3, 11, None, here()).unwrap();
        d.release_merge(2, SyncKey::Object(7));
        d.release_merge(3, SyncKey::Object(7));
        d.acquire(1, SyncKey::Object(7));
        d.read(1, 10, None, here()).unwrap();
        d.read(1, 11, None, here()).unwrap();
        // A slot: 1 leaves its clock, 2 picks it up (and leaves its own for the next).
        d.write(1, 12, None, here()).unwrap();
        d.release_acquire(1, SyncKey::Part(9, 0));
        d.release_acquire(2, SyncKey::Part(9, 0));
        d.read(2, 12, None, here()).unwrap();
    }

    #[test]
    fn a_release_after_learning_something_new_passes_it_on() {
        // 2 writes and releases to A; 1 releases to K (a copy of its clock), learns A, and
        // releases to K again: K must now carry 2's write, although 1's own entry is all
        // that changed in the meantime... apart from what it learnt.
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.spawn(1, 3, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        d.release(2, SyncKey::Object(1));
        d.release(1, SyncKey::Object(2));
        d.acquire(1, SyncKey::Object(1));
        d.release(1, SyncKey::Object(2));
        d.acquire(3, SyncKey::Object(2));
        d.read(3, 10, None, here()).unwrap();
    }

    #[test]
    fn an_acquire_skips_only_what_it_knows_already() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.spawn(1, 3, Some(here()));
        // 2 releases to K twice; 3 knows the first release (through K) but not the second.
        d.release(2, SyncKey::Object(1));
        d.acquire(3, SyncKey::Object(1));
        d.write(2, 10, None, here()).unwrap();
        d.release(2, SyncKey::Object(1));
        d.acquire(3, SyncKey::Object(1));
        d.read(3, 10, None, here()).unwrap();
        // Learning 2's epoch through a third goroutine covers everything 2 knew then.
        d.write(3, 11, None, here()).unwrap();
        d.release(3, SyncKey::Object(3));
        d.acquire(2, SyncKey::Object(3));
        d.release(2, SyncKey::Object(4));
        d.acquire(1, SyncKey::Object(4));
        d.read(1, 11, None, here()).unwrap();
        // Merges from several releasers are never skipped.
        d.write(2, 12, None, here()).unwrap();
        d.release_merge(2, SyncKey::Object(5));
        d.release_merge(3, SyncKey::Object(5));
        d.acquire(1, SyncKey::Object(5));
        d.read(1, 12, None, here()).unwrap();
    }

    #[test]
    fn nothing_is_recorded_while_one_goroutine_runs() {
        let mut d = detector();
        d.write(1, 10, None, here()).unwrap();
        d.release(1, SyncKey::Object(1));
        assert!(d.sync.is_empty() && d.cells.is_empty());
        d.spawn(1, 2, Some(here()));
        d.read(2, 10, None, here()).unwrap();
    }

    #[test]
    fn a_timer_callback_runs_from_the_clock_it_was_armed_with() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.write(1, 10, None, here()).unwrap();
        let armed = d.timer_armed(1);
        d.write(1, 11, None, here()).unwrap();
        // An unrelated timer fires first; its callback must not lend goroutine 1's clock.
        let other = d.timer_armed(2);
        d.timer_fired(other);
        d.release(0, SyncKey::Object(3));
        d.acquire(2, SyncKey::Object(3));
        assert!(d.read(2, 10, None, here()).is_err());
        // Goroutine 1's timer: what 1 did before arming it is ordered, what it did after is not.
        let mut d2 = detector();
        d2.spawn(1, 2, Some(here()));
        d2.write(1, 10, None, here()).unwrap();
        let armed2 = d2.timer_armed(1);
        d2.write(1, 11, None, here()).unwrap();
        d2.timer_fired(armed2);
        d2.release(0, SyncKey::Object(3));
        d2.acquire(2, SyncKey::Object(3));
        d2.read(2, 10, None, here()).unwrap();
        assert!(d2.read(2, 11, None, here()).is_err());
        drop(armed);
    }

    #[test]
    fn a_recycled_detector_starts_empty() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.write(2, 10, None, here()).unwrap();
        d.release(2, SyncKey::Object(1));
        drop(d);
        let mut d = Detector::default();
        assert!(d.threads.is_empty() && d.sync.is_empty() && d.cells.is_empty());
        assert!(!d.spare.is_empty());
        d.spawn(0, 1, Some(here()));
        d.spawn(1, 2, Some(here()));
        d.write(1, 10, None, here()).unwrap();
        assert!(d.write(2, 10, None, here()).is_err());
    }

    #[test]
    fn report_has_go_shape() {
        let mut d = detector();
        d.spawn(1, 2, Some(here()));
        d.read(2, 10, Some("balance"), here()).unwrap();
        d.exit(2);
        let text = d
            .write(1, 10, Some("balance"), here())
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("WARNING: DATA RACE\nWrite at balance by goroutine 1:\n  "));
        assert!(text.contains("Previous read at balance by goroutine 2:"));
        assert!(text.contains("Goroutine 2 (finished) created at:"));
    }
}
