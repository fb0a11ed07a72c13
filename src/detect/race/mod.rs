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
//! starts from the clock its timer was armed with (`Detector::timer_armed`,
//! `Detector::timer_fired`), so arming a timer happens before what its callback does (the
//! value it sends), and callbacks of unrelated timers are not ordered with each other.
//!
//! The hot paths allocate nothing in the steady state: clocks are updated in place (a release
//! copies into the key's existing clock, or only bumps its own entry when it is the last
//! releaser there and has learnt nothing since), freed clocks are kept in `spare`, exits are
//! indexed by goroutine id and the few other keys hashed with a multiply-rotate hash (they are
//! small integers), and a dropped detector leaves its tables to the next one made on the same
//! thread (the controlled executor makes one per schedule).

mod clock;
mod locks;
#[cfg(feature = "race")]
mod shared;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::panic::Location;

pub(crate) use clock::VectorClock;
use clock::{Lock, Thread, MAX_SPARE};
use locks::FxHashMap;
use locks::Locks;
pub(crate) use locks::SyncKey;
#[cfg(feature = "race")]
pub(crate) use shared::SharedDetector;

pub(crate) use crate::verdict::RaceReport;

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
    goroutines: Vec<(Option<&'static Location<'static>>, bool, bool)>,
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
    /// Spawn site, "finished" flag and "is a task" flag, by goroutine id.
    goroutines: Vec<(Option<&'static Location<'static>>, bool, bool)>,
    /// Cleared clocks, reused before allocating new ones.
    spare: Vec<VectorClock>,
}

thread_local! {
    /// Tables kept between runs on this thread, with their allocations.
    static SPARE: RefCell<Option<Tables>> = const { RefCell::new(None) };
}

impl Default for Detector {
    /// A detector that watches at once.
    fn default() -> Detector {
        Detector::new(true, false)
    }
}

impl Detector {
    /// A detector that watches (`enabled`: the checker's `race_detection` setting), possibly
    /// only once a watched cell is touched (`deferred`, see [`Detector::deferred`]); it reuses
    /// the tables a previous detector of this thread left.
    pub(crate) fn new(enabled: bool, deferred: bool) -> Detector {
        // Off or deferred, it never touches its tables (`admits`): empty ones allocate nothing,
        // and the thread's spare stays where it is for the next detector that records.
        let t = if enabled && !deferred {
            SPARE
                .try_with(|s| s.borrow_mut().take())
                .ok()
                .flatten()
                .unwrap_or_default()
        } else {
            Tables::default()
        };
        Detector {
            enabled,
            deferred,
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
        if !self.enabled() {
            // Never recorded anything (see `new`).
            return;
        }
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
                c.clear();
                spare.push(c);
            }
        }
        self.cells.clear();
        self.goroutines.clear();
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

impl Detector {
    /// Make this detector, left by the previous run, the next run's, if it was off or deferred
    /// and the next one is the same (the usual random walk): no hook then touched its tables,
    /// so only the run's flags need resetting, and building a new one (and dropping this one)
    /// is skipped. False: build a new one.
    pub(crate) fn renew(&mut self, enabled: bool, deferred: bool) -> bool {
        if self.enabled() || self.enabled != enabled || self.deferred != deferred {
            return false;
        }
        debug_assert!(self.threads.is_empty() && self.cells.is_empty() && self.spawned == 0);
        self.needed = false;
        true
    }

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
            self.goroutines.resize(c + 1, (None, false, false));
        }
        self.goroutines[c] = (site, false, false);
    }

    /// Goroutine `g` is a task (`goweave::task`): reports name it so.
    pub(crate) fn mark_task(&mut self, g: u64) {
        if let Some(e) = self.goroutines.get_mut(g as usize) {
            e.2 = true;
        }
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
            old.clear();
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
        let info = |g: u64| {
            self.goroutines
                .get(g as usize)
                .copied()
                .unwrap_or((None, false, false))
        };
        let creation = |g: u64| {
            let (site, finished, _) = info(g);
            (site, finished)
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
            tasks: [info(now.goroutine).2, info(prev.goroutine).2],
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
