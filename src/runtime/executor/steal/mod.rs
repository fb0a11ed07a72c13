//! The work-stealing executor: N worker threads running goroutines, for speed.
//!
//! - Every worker owns a crossbeam deque of goroutines that have not started yet; other workers
//!   may steal from it. A global injector takes goroutines spawned from outside the runtime.
//! - A goroutine that has started never changes OS thread (see DESIGN.md: LLVM caches
//!   thread-local addresses across calls, so moving a suspended stack is undefined behaviour).
//!   Wake-ups are routed to the goroutine's home worker: into its run-next slot when the waker
//!   runs there, else into its inbox, waking it if it sleeps (`idle`).
//! - Idle workers spin briefly, then sleep; an idle runtime burns no CPU.
//! - When main (goroutine 1) returns or any goroutine panics, every worker tears down the
//!   goroutines homed on it (force-unwinding their stacks, so destructors run) and exits.
//! - When every goroutine stays blocked with nothing pending, the last worker to fall asleep
//!   reports `all goroutines are asleep - deadlock!` and the run ends like a panic
//!   (`deadlock`).

mod deadlock;
mod idle;
mod registry;
mod slot;
mod stats;
mod timers;
mod worker;

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Stealer, Worker as Deque};
use crossbeam_utils::CachePadded;
use once_cell::sync::Lazy;

use crate::runtime::context::{self, Exec};
use crate::runtime::event::ObjId;
use crate::runtime::gocell::{self, New, Unstarted};
use crate::runtime::goroutine::{self, Body, GRef, InlineEntry, Install, Payload, Spare, G};
use crate::runtime::panic::{install_hook, PanicReport};
use crate::runtime::timer::{TimerFn, TimerId};

use super::ExecKind;
use deadlock::Watch;
use idle::Idle;
use registry::Registry;
use timers::Timers;
pub(crate) use worker::WorkerCtx;

/// The process-wide epoch of the real clock.
static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// Real time since the process epoch.
pub(crate) fn real_now() -> Duration {
    EPOCH.elapsed()
}

static NEXT_OBJECT: AtomicU64 = AtomicU64::new(1);

pub(crate) fn global_object_id() -> ObjId {
    ObjId(NEXT_OBJECT.fetch_add(1, Ordering::Relaxed))
}

thread_local! {
    /// A per-thread xorshift state for `random_below` off the controlled executor.
    static FAST_RNG: Cell<u64> = Cell::new(fresh_seed());
}

/// A seed no other thread of this process got, and unlike the last run's: the wall clock's
/// nanoseconds and a process-wide count, mixed (splitmix64) so that every bit depends on both.
/// Worker threads are new for each `block_on`, so a seed from the thread alone (its stack
/// address) repeated from run to run, and with it every `goweave::rand` draw.
fn fresh_seed() -> u64 {
    static THREADS: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = clock ^ THREADS.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

/// A uniform value in `0..n` from a fast per-thread generator.
pub(crate) fn fast_random_below(n: u64) -> u64 {
    FAST_RNG.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        ((x as u128 * n as u128) >> 64) as u64
    })
}

/// Every running work-stealing runtime, by id, for wakers that are not on one of its workers.
static RUNTIMES: Lazy<Mutex<HashMap<u64, Weak<Shared>>>> = Lazy::new(Default::default);
static NEXT_RUNTIME: AtomicU64 = AtomicU64::new(1);

/// The running runtime with this id, if it has not ended.
pub(crate) fn lookup(id: u64) -> Option<Arc<Shared>> {
    RUNTIMES.lock().unwrap().get(&id).and_then(Weak::upgrade)
}

/// One worker as the others see it.
pub(crate) struct Remote {
    /// Started goroutines woken onto this worker from elsewhere.
    inbox: Injector<GRef>,
    /// Steals unstarted goroutines from this worker's deque.
    stealer: Stealer<New>,
    /// The newest goroutine spawned here, left to this worker for a few microseconds
    /// (`slot.rs`); on a line of its own, since the owner swaps it on every `go`.
    slot: CachePadded<slot::Slot>,
}

/// State shared by all workers of one runtime run.
pub(crate) struct Shared {
    /// Identity in `RUNTIMES` and in each goroutine's `ExecKind`.
    id: u64,
    remotes: Box<[Remote]>,
    /// Goroutines spawned from outside any worker.
    injector: Injector<New>,
    /// Written by every worker that starts or stops searching or sleeping: on cache lines of
    /// its own, so that those writes do not slow down the spinning workers' reads of the
    /// fields next to it (`remotes`, `shutdown`); without the padding, where the compiler put
    /// the fields decided whether `ring_1000_1m_hops` took 190 or 235 ns per hop.
    idle: CachePadded<Idle>,
    /// Set when main returned or a goroutine panicked: workers tear down and exit.
    shutdown: AtomicBool,
    /// Go's GOMAXPROCS: workers with an index below it take new goroutines; the others (up to
    /// `remotes.len()`, the threads started) only run goroutines already homed on them, which
    /// cannot move (see `set_procs`). On a line of its own: every worker reads it per task.
    procs: CachePadded<AtomicUsize>,
    /// Goroutines spawned and not finished.
    /// One counter per worker (a spawn counts on the spawner's, an exit on the home worker's),
    /// so spawning and finishing workers do not bounce one cache line; only the sum means
    /// anything.
    live: Box<[CachePadded<AtomicIsize>]>,
    /// The same goroutines, listable.
    registry: Registry,
    /// The next goroutine id. Written by every `go`: on a line of its own, so that a spawning
    /// loop does not keep taking away the line of the fields every worker reads per goroutine
    /// (`shutdown`, `stack_size`, `record`).
    next_gid: CachePadded<AtomicU64>,
    stack_size: usize,
    /// The first unrecovered panic.
    panic: Mutex<Option<PanicReport>>,
    /// Every worker's timer heap (`timers.rs`).
    timers: Timers,
    /// The deadlock check.
    watch: Watch,
    /// The race detector of this run (`race` feature).
    #[cfg(feature = "race")]
    race: crate::detect::race::SharedDetector,
    /// Races found so far, one per pair of locations.
    #[cfg(feature = "race")]
    races: Mutex<Vec<crate::verdict::RaceReport>>,
    /// The operation logs of a recording run (`record`).
    record: Option<Arc<crate::record::Session>>,
    /// How long (ns) thieves leave a new goroutine in its spawner's slot: shorter when
    /// recording (`slot.rs`).
    slot_protect_ns: u64,
    /// When the run began (`real_now`, ns): the origin of the placement timeline (`stats.rs`).
    began: u64,
    /// Each worker's counters, handed over as it exits (`stats.rs`).
    stats: Mutex<Vec<stats::WorkerStats>>,
}

impl Shared {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    #[cfg(feature = "race")]
    pub(crate) fn race_detector(&self) -> &crate::detect::race::SharedDetector {
        &self.race
    }

    /// Print a race as `go test -race` does, once per pair of locations; the run fails at the
    /// end.
    #[cfg(feature = "race")]
    pub(crate) fn report_race(&self, r: crate::verdict::RaceReport) {
        let mut races = self.races.lock().unwrap();
        let same =
            |o: &crate::verdict::RaceReport| (o.site, o.previous_site) == (r.site, r.previous_site);
        if !races.iter().any(same) {
            eprintln!("==================\n{r}==================");
            races.push(r);
        }
    }

    /// The current GOMAXPROCS.
    pub(crate) fn workers(&self) -> usize {
        self.procs.load(Ordering::Relaxed)
    }

    /// Go's `runtime.GOMAXPROCS(n)` on a running runtime: from now on only workers `0..n` take
    /// new goroutines (`n` is clamped to the threads started, `1..=remotes.len()`); returns the
    /// previous value. A worker above the limit still runs the goroutines that started on it
    /// (a started goroutine never changes thread), but takes no new ones, and its own spawns
    /// go to the shared injector. Raising the limit wakes every worker, so the newly enabled
    /// ones start looking for work.
    pub(crate) fn set_procs(&self, n: usize) -> usize {
        let n = n.clamp(1, self.remotes.len());
        let prev = self.procs.swap(n, Ordering::SeqCst);
        if n > prev {
            self.idle.wake_all();
        }
        prev
    }

    /// The current goroutine `g`, running on worker `w`, is about to hand its value to a
    /// joiner: it stops counting in `num_goroutine` now, so that a `join` that returned never
    /// sees it counted (its worker skips the count at exit, `WorkerCtx::run`). Handing over
    /// its value is a goroutine's last act (what follows is the runtime's bookkeeping).
    fn count_out(&self, w: &WorkerCtx, g: &G) {
        if !g.counted_out.replace(true) {
            self.live[w.index()].fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn num_goroutine(&self) -> usize {
        let n: isize = self.live.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        n.max(0) as usize
    }

    /// Snapshots of every started goroutine not finished, by id.
    pub(crate) fn goroutines(&self) -> Vec<crate::runtime::dump::GoroutineDump> {
        self.registry
            .snapshot()
            .iter()
            .map(|g| crate::runtime::dump::GoroutineDump::of(g))
            .collect()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.idle.wake_all();
    }

    pub(crate) fn now(&self) -> Duration {
        real_now()
    }

    pub(crate) fn add_timer(self: &Arc<Self>, deadline: Duration, f: TimerFn) -> TimerId {
        if let Exec::Steal(w) = context::exec_ref() {
            if Arc::ptr_eq(w.shared(), self) {
                // On the arming worker's own heap: it looks at it before it sleeps.
                return self.timers.add(w.index(), deadline, f);
            }
        }
        // A timer armed from outside (say a `time::Timer` reset by a std thread) shows that
        // outside threads take part in this run.
        self.watch.outside_wake();
        let id = self.timers.add(self.timers.outside_shard(), deadline, f);
        self.timers
            .after_outside_add(timers::as_ns(deadline), &self.idle);
        id
    }

    pub(crate) fn cancel_timer(&self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// The recording session, if this runtime records.
    pub(crate) fn record_session(&self) -> Option<&Arc<crate::record::Session>> {
        self.record.as_ref()
    }

    pub(crate) fn spawn(
        self: &Arc<Self>,
        install: Install<'_>,
        name: Option<Box<str>>,
        site: &'static Location<'static>,
        handle: bool,
    ) -> GRef {
        let id = self.next_gid.fetch_add(1, Ordering::Relaxed);
        let parent = context::with_current(|g| g.map_or(0, |g| g.id));
        #[allow(unused_mut)]
        let mut g = G::new(
            id,
            name,
            site,
            parent,
            ExecKind::Steal(self.id),
            install,
            self.stack_size,
            handle,
        );
        if let Some(s) = &self.record {
            Arc::get_mut(&mut g)
                .expect("a new goroutine is not shared yet")
                .rec = Some(s.clone());
        }
        // On this runtime's detector: main is spawned from outside the runtime.
        #[cfg(feature = "race")]
        crate::runtime::hb::spawned_on(self, parent, id, site, g.task);
        self.enqueue(New::record(g.clone()));
        g
    }

    /// True if a `go` on worker `w` may spawn only a join cell (`gocell.rs`), and leave the
    /// record to whichever worker starts it: `w` is one of this runtime's workers that takes
    /// new goroutines, and the run does not record (a recording names every goroutine's record
    /// from its spawn on).
    #[inline]
    pub(crate) fn takes_cells(self: &Arc<Self>, w: &WorkerCtx) -> bool {
        self.record.is_none() && Arc::ptr_eq(w.shared(), self) && w.active()
    }

    /// A `go` of `f` from worker `w` (`takes_cells` said yes): its id and its handle's side of
    /// the cell.
    pub(crate) fn spawn_cell<F, T>(
        self: &Arc<Self>,
        w: &WorkerCtx,
        name: Option<Box<str>>,
        site: &'static Location<'static>,
        f: F,
    ) -> (u64, gocell::Handle)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = self.next_gid.fetch_add(1, Ordering::Relaxed);
        let parent = context::with_current(|g| g.map_or(0, |g| g.id));
        #[cfg(feature = "race")]
        crate::runtime::hb::spawned_on(self, parent, id, site, false);
        let (new, handle) = gocell::new(w.cells(), id, parent, site, name, f);
        self.enqueue_on(w, new);
        (id, handle)
    }

    /// Queue an unstarted goroutine where the caller runs.
    fn enqueue(self: &Arc<Self>, new: New) {
        match context::exec_ref() {
            Exec::Steal(w) if Arc::ptr_eq(w.shared(), self) && w.active() => {
                self.enqueue_on(w, new)
            }
            _ => {
                self.live[0].fetch_add(1, Ordering::Relaxed);
                self.injector.push(new);
                self.idle.notify_one();
            }
        }
    }

    /// Queue an unstarted goroutine spawned on `w`, one of this runtime's workers that takes
    /// new goroutines.
    #[inline]
    fn enqueue_on(&self, w: &WorkerCtx, new: New) {
        self.live[w.index()].fetch_add(1, Ordering::Relaxed);
        // The newest goroutine waits in the spawn slot, where thieves leave it alone for
        // 100 us (`slot.rs`): a spawner that blocks soon runs its child itself, and the
        // two then communicate on one worker (`slot.rs`). The one it displaces goes to
        // the deque, stealable at once.
        //
        // Only the first of a burst needs to wake a thief (Go wakes one spinning M per
        // `go`; here, per empty-to-non-empty change of slot and deque): a worker sleeps
        // only after seeing both empty, and one that was woken, or is stealing, keeps
        // coming back while they are not; a thief that finds work wakes the next one
        // (`find_work`). The owner runs what nobody steals, so nothing is stranded.
        // Skipping the check keeps the spawner off the sleep counters' cache line,
        // which thieves write as they come and go.
        match w.put_slot(new) {
            Some(old) => {
                w.push_new(old);
                // A thief may fall asleep on a stale view of an empty slot and deque (the push
                // above is not fenced) just before a burst refills them, and a burst whose
                // slot stays full never takes the branch below: it would then run alone for
                // good (spawn + join ran at 205-260 ns instead of 85 in about one fresh
                // process in eight, with the other worker asleep since the burst's first
                // milliseconds). Go's `newproc` calls `wakep` on every `go`; a look every 64th
                // bounds such a lapse at 64 spawns and keeps the sleep counters' cache line
                // off the spawner's path.
                if w.spawned_in_turn().is_multiple_of(64) {
                    self.idle.notify_one();
                }
            }
            None => {
                if w.local_is_empty() {
                    self.idle.notify_one();
                }
            }
        }
    }

    /// The record of an unstarted goroutine taken from a run queue by the worker about to run
    /// it: a `go`'s cell gets one now, from the worker's `spare` stash or else this thread's
    /// free list (`gocell.rs`).
    pub(crate) fn materialize(&self, new: New, spare: &Spare) -> GRef {
        let mut start = match new.open() {
            Unstarted::Record(g) => return g,
            Unstarted::Go(s) => s,
        };
        let (id, site, parent, function) =
            (start.id(), start.site(), start.parent(), start.function());
        let name = start.take_name();
        let mut start = Some(start);
        let mut install = |p: &Payload| {
            // SAFETY: the payload of a record being created is empty and not shared yet.
            unsafe { p.put(start.take().expect("installed once")) };
            Body::Inline(InlineEntry {
                run: gocell::run_start,
                discard: gocell::discard_start,
                function,
            })
        };
        G::new_in(
            spare,
            id,
            name,
            site,
            parent,
            ExecKind::Steal(self.id),
            &mut install,
            self.stack_size,
            false,
        )
    }

    pub(crate) fn unpark(self: &Arc<Self>, g: GRef) {
        if !g.try_wake() || self.is_shutdown() {
            return;
        }
        let home = g.home.load(Ordering::Acquire) as usize;
        let mut own = false;
        if let Exec::Steal(w) = context::exec_ref() {
            if Arc::ptr_eq(w.shared(), self) {
                if w.index() == home {
                    w.counters().woke_here();
                    w.push_run_next(g);
                    return;
                }
                w.counters().woke_across();
                own = true;
            }
        }
        if !own {
            // A std thread, another runtime: from now on this run may wait on outside threads.
            // Before the push, so that a deadlock check that misses the push sees this.
            self.watch.outside_wake();
        }
        self.remotes[home].inbox.push(g);
        self.idle.wake_worker(home);
    }
}

/// `Shared::count_out` for goroutine `g`, or (`None`) for the current goroutine, if it runs on
/// a worker of the work-stealing runtime (a no-op elsewhere).
#[inline]
pub(crate) fn count_out(g: Option<&G>) {
    if let Exec::Steal(w) = context::exec_ref() {
        match g {
            Some(g) => w.shared().count_out(w, g),
            None => context::with_current(|g| {
                if let Some(g) = g {
                    w.shared().count_out(w, g)
                }
            }),
        }
    }
}

/// Run `main` as goroutine 1 on `workers` worker threads; returns when main returns, after
/// tearing down every other goroutine (Go's exit semantics). An unrecovered panic in any
/// goroutine ends the run and is re-raised here as `goroutine N panicked at file:line: msg`.
/// With `deadlock_check`, a run whose goroutines all stay blocked ends with a panic
/// `all goroutines are asleep - deadlock!` and a goroutine dump (see `deadlock`).
// `track_caller`: the nested-runtime panic below points at the user's `run`/`block_on` line
// (both are `track_caller` too), not at this function.
#[track_caller]
pub(crate) fn block_on<T: Send + 'static>(
    workers: usize,
    max_workers: usize,
    stack_size: usize,
    deadlock_check: bool,
    record: Option<Arc<crate::record::Session>>,
    site: &'static Location<'static>,
    main: impl FnOnce() -> T + Send + 'static,
) -> T {
    install_hook();
    if !matches!(context::exec_ref(), Exec::None) {
        let who = context::with_current(|g| g.map(|g| g.label()))
            .unwrap_or_else(|| "a timer callback".into());
        panic!(
            "goweave: goweave::run / Runtime::block_on called from {who}, inside a goweave runtime; runtimes do not nest: start a goroutine with go(..) and join() it instead"
        );
    }
    let procs = workers.max(1);
    // Threads for every GOMAXPROCS value `set_procs` may choose later; those above `procs`
    // sleep until it is raised.
    let workers = max_workers.max(procs);
    let deques: Vec<Deque<New>> = (0..workers).map(|_| Deque::new_fifo()).collect();
    let id = NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        id,
        remotes: deques
            .iter()
            .map(|d| Remote {
                inbox: Injector::new(),
                stealer: d.stealer(),
                slot: CachePadded::new(slot::Slot::new()),
            })
            .collect(),
        injector: Injector::new(),
        idle: CachePadded::new(Idle::new(workers)),
        shutdown: AtomicBool::new(false),
        procs: CachePadded::new(AtomicUsize::new(procs)),
        live: (0..workers)
            .map(|_| CachePadded::new(AtomicIsize::new(0)))
            .collect(),
        registry: Registry::new(workers),
        next_gid: CachePadded::new(AtomicU64::new(1)),
        stack_size,
        panic: Mutex::new(None),
        timers: Timers::new(workers),
        watch: Watch::new(deadlock_check),
        #[cfg(feature = "race")]
        race: Default::default(),
        #[cfg(feature = "race")]
        races: Mutex::new(Vec::new()),
        slot_protect_ns: if record.is_some() {
            slot::PROTECT_RECORDED
        } else {
            slot::PROTECT
        }
        .as_nanos() as u64,
        record,
        began: timers::as_ns(real_now()),
        stats: Mutex::new(Vec::new()),
    });
    RUNTIMES
        .lock()
        .unwrap()
        .insert(shared.id, Arc::downgrade(&shared));
    let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    shared.spawn(
        &mut goroutine::boxed(Box::new(move || {
            let v = main();
            *out.lock().unwrap() = Some(v);
        })),
        None,
        site,
        false,
    );
    let threads: Vec<_> = deques
        .into_iter()
        .enumerate()
        .map(|(i, deque)| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("goweave-worker-{i}"))
                .spawn(move || worker::run(i, shared, deque))
                .expect("goweave: cannot start a worker thread")
        })
        .collect();
    for t in threads {
        if let Err(p) = t.join() {
            std::panic::resume_unwind(p);
        }
    }
    RUNTIMES.lock().unwrap().remove(&shared.id);
    stats::finish_run(std::mem::take(&mut *shared.stats.lock().unwrap()));
    shared.timers.shut_down();
    // Unstarted goroutines left in the injector: drop them without running.
    while let Some(new) = worker::steal_one(&shared.injector) {
        if let Unstarted::Record(g) = new.open() {
            crate::runtime::coroutine::tear_down(&g);
        }
    }
    // Races found (with the `race` feature) are reported even when the run also failed
    // otherwise: a misuse the detector saw often ends in a panic it caused (Go's "WaitGroup
    // is reused before previous Wait has returned"), and Go's race detector prints its
    // warning before that panic too.
    #[cfg(feature = "race")]
    let races = {
        let races = shared.races.lock().unwrap();
        let all: Vec<String> = races.iter().map(|r| r.to_string()).collect();
        (!races.is_empty()).then(|| {
            format!(
                "goweave: found {} data race(s)\n{}",
                races.len(),
                all.join("\n")
            )
        })
    };
    #[cfg(not(feature = "race"))]
    let races: Option<String> = None;
    let with_races = |report: String| match &races {
        Some(r) => format!("{report}\n\n{r}"),
        None => report,
    };
    if let Some(report) = shared.panic.lock().unwrap().take() {
        panic!("{}", with_races(report.to_string()));
    }
    if let Some(report) = shared.watch.take_report() {
        panic!("{}", with_races(report.to_string()));
    }
    if let Some(r) = races {
        panic!("{r}");
    }
    let v = slot.lock().unwrap().take();
    v.expect("goweave: main goroutine ended without a value")
}
