//! One worker thread: its run queues and its scheduling loop.
//!
//! Queues, in the order the loop takes from them:
//! 1. `run_next`: the goroutine most recently woken by code running on this worker (Go's
//!    `runnext`), so a hand-off runs without a trip through the queue;
//! 2. the spawn slot: the newest goroutine spawned here, which thieves leave alone for 100 us
//!    (4 in a recorded run; `slot.rs`, Go's `runnext` after `go`);
//! 3. `ready`: started goroutines homed here and runnable (never stolen);
//! 4. `inbox`: started goroutines woken from other threads, moved into `ready`;
//! 5. the local deque of unstarted goroutines;
//! 6. `joiners`: goroutines that another worker woke from a `join` (moved there from the
//!    inbox instead of `ready`);
//! 7. the global injector, then stealing (other workers' deques, then their spawn slots once
//!    they have aged).
//!
//! A joiner woken from another worker waits for this worker's new goroutines (at most 60
//! decisions, see below). A goroutine that joins many handles in order, whose goroutines
//! the other worker mostly runs (`spawn_join_1m`), would otherwise resume as each of them
//! finishes, find the next one unfinished and park again: 45k-188k cross-worker wake-ups per
//! run, each paid by the worker that runs the goroutines. Only joiners wait: putting every
//! wake-up from another worker after the new goroutines (tokio's order) doubled the time of a
//! contended mutex, whose woken waiter is the one that can make progress.
//!
//! Timers (`timers.rs`): the worker's own due timers fire before every decision; an idle,
//! searching worker also fires other workers' due timers.
//!
//! Every 61st tick the inbox and injector are checked first, so a busy worker cannot starve
//! them (Go uses the same constant for the same reason).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal, Worker as Deque};

use crate::runtime::context::{self, CurrentGuard, ExecPtr};
use crate::runtime::coroutine::{self, Exit, Request, Step};
use crate::runtime::gocell::{New, Unstarted};
use crate::runtime::goroutine::{self, GRef, Status, WaitReason};
use crate::runtime::stack;

use super::registry::Registry;
use super::slot::{DequeSighting, Sighting, LOCAL_EVERY};
use super::stats::{Counters, Source};
use super::timers::{as_ns, Plan};
use super::{real_now, Shared};

/// The runtime clock in nanoseconds, as the timer heaps keep deadlines.
fn now_ns() -> u64 {
    as_ns(real_now())
}

/// At most how many goroutines a park starts ahead of hand-offs (`WorkerCtx::note_park`):
/// bounds how long woken goroutines wait behind new ones. (Go's `select` takes up to 65536
/// cases; 64 covers the `select!` macro's limit.)
const BURST: u32 = 64;

/// How many rounds an idle worker looks for work before it sleeps (tens of microseconds).
const SPIN_ROUNDS: u32 = 2_000;

/// A worker's own state; lives on the worker thread's stack.
pub(crate) struct WorkerCtx {
    index: usize,
    shared: Arc<Shared>,
    /// Unstarted goroutines; others steal from here.
    local: Deque<New>,
    /// Started, runnable goroutines homed here.
    ready: RefCell<VecDeque<GRef>>,
    /// Runnable goroutines homed here that another worker woke from a `join`: taken after
    /// the local deque (see the module docs).
    joiners: RefCell<VecDeque<GRef>>,
    /// The goroutine to run next.
    run_next: RefCell<Option<GRef>>,
    tick: Cell<u32>,
    /// How many goroutines the running goroutine has spawned in its current turn.
    spawned: Cell<u32>,
    /// How many more goroutines spawned here to start ahead of `run_next` and `ready`: set
    /// when a goroutine that spawned parks (`note_park`).
    burst: Cell<u32>,
    /// What this worker last saw in each other worker's spawn slot, as a thief.
    sightings: Box<[Sighting]>,
    /// Since when this worker, as a thief, has seen each other worker's deque non-empty.
    deque_seen: Box<[DequeSighting]>,
    /// Memory for the join cells of `go`s spawned here (`cellpool`).
    cells: crate::runtime::cellpool::Cache,
    /// Coroutines of goroutines that finished here, for the next ones to start on.
    warm: coroutine::Warm,
    /// Where goroutines started here came from, and wake-ups (`stats.rs`).
    counters: Counters,
}

impl WorkerCtx {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True if this worker takes new goroutines: its index is below GOMAXPROCS
    /// (`Shared::set_procs`).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.index < self.shared.procs.load(Ordering::Relaxed)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// This worker's scheduling counters.
    #[inline]
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Count a start from `src` and make the goroutine's record.
    #[inline]
    fn start(&self, src: Source, g: New) -> GRef {
        self.counters
            .started(src, || now_ns().saturating_sub(self.shared.began));
        self.shared.materialize(g, self.warm.records())
    }

    /// Memory for the join cells of `go`s spawned here.
    #[inline]
    pub(crate) fn cells(&self) -> &crate::runtime::cellpool::Cache {
        &self.cells
    }

    /// A new goroutine spawned by code running on this worker.
    pub(crate) fn push_new(&self, g: New) {
        self.local.push(g);
    }

    /// Put a goroutine just spawned here into the spawn slot; returns the one it displaced.
    #[inline]
    pub(crate) fn put_slot(&self, g: New) -> Option<New> {
        self.spawned.set(self.spawned.get().saturating_add(1));
        self.shared.remotes[self.index].slot.put(g)
    }

    /// How many goroutines the running goroutine has spawned in its current turn.
    #[inline]
    pub(crate) fn spawned_in_turn(&self) -> u32 {
        self.spawned.get()
    }

    /// Take this worker's own spawn slot.
    #[inline]
    fn take_slot(&self) -> Option<New> {
        self.shared.remotes[self.index].slot.take()
    }

    /// True if no unstarted goroutine waits in this worker's deque.
    pub(crate) fn local_is_empty(&self) -> bool {
        self.local.is_empty()
    }

    /// A goroutine homed here, woken by code running here: it runs next (Go's `runnext`).
    /// (Inline: every hand-off between goroutines of one worker passes here.)
    #[inline]
    pub(crate) fn push_run_next(&self, g: GRef) {
        if let Some(old) = self.run_next.borrow_mut().replace(g) {
            self.ready.borrow_mut().push_back(old);
        }
    }

    /// A goroutine of this worker just parked. If it spawned goroutines in the turn that
    /// ended, start them next, ahead of the goroutines the park hands off to (`burst_start`).
    ///
    /// A spawner that blocks soon after a burst of `go`s (a `select!` over several senders, a
    /// fan-in) talks to all of its children, and a started goroutine never changes worker:
    /// each child that starts on another worker costs a wake-up of another thread for every
    /// message it exchanges (issue 19: `select4` took 150 ns per message with its four
    /// senders on main's worker, 550 ns to 17 us with some on the other one). The spawn slot
    /// keeps the newest child here; this keeps the older ones of the burst too, by starting
    /// them before a thief's patience runs out (`DEQUE_PATIENCE`), instead of one per
    /// [`LOCAL_EVERY`] scheduling decisions behind the hand-offs between the spawner and its
    /// first child (which, with cold stacks, took 30-40 us). A spawner that keeps running
    /// (fan-out) does not park, so its children stay stealable; a child that parks without
    /// spawning leaves the burst running.
    #[inline]
    fn note_park(&self) {
        let n = self.spawned.get();
        if n > 0 {
            self.burst
                .set(self.burst.get().saturating_add(n).min(BURST));
        }
    }

    /// The next goroutine of a burst (`note_park`): the spawn slot's, then the deque's.
    fn burst_start(&self) -> Option<GRef> {
        let new = match self.take_slot() {
            Some(g) => (Source::OwnSlot, g),
            None => match self.local.pop() {
                Some(g) => (Source::OwnDeque, g),
                None => {
                    self.burst.set(0);
                    return None;
                }
            },
        };
        self.burst.set(self.burst.get() - 1);
        Some(self.start(new.0, new.1))
    }

    fn drain_inbox(&self) {
        let me = &self.shared.remotes[self.index];
        // Looked at before it is stolen from: an empty `Injector::steal` still pays a SeqCst
        // fence, and this runs at nearly every scheduling decision (with the inbox nearly
        // always empty), where `is_empty` is two plain loads. A push that this misses wakes us
        // (`Shared::unpark`), and the sleep path checks the inbox again after its own fence.
        if me.inbox.is_empty() {
            return;
        }
        let mut ready = self.ready.borrow_mut();
        while let Some(g) = steal_one(&me.inbox) {
            // Parked, so its wait reason is still the park's (it is cleared as it resumes).
            if g.wait_reason() == WaitReason::Join {
                self.joiners.borrow_mut().push_back(g);
            } else {
                ready.push_back(g);
            }
        }
    }

    fn steal_new(&self) -> Option<(Source, New)> {
        // As in `drain_inbox`: the cheap look first (goroutines spawned from outside a worker
        // are rare; stealing from the empty injector would pay a fence every time).
        while !self.shared.injector.is_empty() {
            match self.shared.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(g) => return Some((Source::Injector, g)),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        let n = self.shared.remotes.len();
        let mut now = 0;
        for k in 1..n {
            let v = (self.index + k) % n;
            let victim = &self.shared.remotes[v];
            let seen = &self.deque_seen[v];
            if victim.stealer.is_empty() {
                seen.0.set(0);
                continue;
            }
            if now == 0 {
                now = now_ns();
            }
            if !seen.ripe(now) {
                continue;
            }
            loop {
                match victim.stealer.steal_batch_and_pop(&self.local) {
                    Steal::Success(g) => return Some((Source::Stolen, g)),
                    Steal::Retry => continue,
                    Steal::Empty => {
                        seen.0.set(0);
                        break;
                    }
                }
            }
        }
        // Last, as Go's stealWork does with runnext: a spawn slot its owner has left alone
        // for the protection time (`slot.rs`).
        let protect = self.shared.slot_protect_ns;
        for k in 1..n {
            let v = (self.index + k) % n;
            if let Some(g) = self.shared.remotes[v]
                .slot
                .steal(&self.sightings[v], protect, now_ns)
            {
                return Some((Source::Stolen, g));
            }
        }
        None
    }

    fn next_task(&self) -> Option<GRef> {
        // Go's checkTimers at the top of schedule(): a due timer's goroutine goes to run_next.
        let timers = &self.shared.timers;
        if timers.own_due(self.index, now_ns) {
            timers.fire(self.index, now_ns());
        }
        let t = self.tick.get().wrapping_add(1);
        self.tick.set(t);
        if t.is_multiple_of(61) {
            self.drain_inbox();
            if self.active() {
                if let Some(g) = steal_one(&self.shared.injector) {
                    return Some(self.start(Source::Injector, g));
                }
            }
            if let Some(g) = self.joiners.borrow_mut().pop_front() {
                return Some(g);
            }
        }
        if t.is_multiple_of(LOCAL_EVERY) && self.active() {
            // Start our own new goroutines before thieves may take them (`DEQUE_PATIENCE`).
            if let Some(g) = self.local.pop() {
                return Some(self.start(Source::OwnDeque, g));
            }
        }
        if self.burst.get() > 0 && self.active() {
            if let Some(g) = self.burst_start() {
                return Some(g);
            }
        }
        if let Some(g) = self.run_next.borrow_mut().take() {
            return Some(g);
        }
        if self.active() {
            // Above GOMAXPROCS the slot, like the deque, is for thieves.
            if let Some(g) = self.take_slot() {
                return Some(self.start(Source::OwnSlot, g));
            }
        }
        if let Some(g) = self.ready.borrow_mut().pop_front() {
            return Some(g);
        }
        self.drain_inbox();
        if let Some(g) = self.ready.borrow_mut().pop_front() {
            return Some(g);
        }
        if !self.active() {
            // Above GOMAXPROCS: only the goroutines homed here. What is left in the local
            // deque (spawned before the limit dropped) is for thieves.
            return self.joiners.borrow_mut().pop_front();
        }
        if let Some(g) = self.local.pop() {
            return Some(self.start(Source::OwnDeque, g));
        }
        if let Some(g) = self.joiners.borrow_mut().pop_front() {
            return Some(g);
        }
        let (src, g) = self.steal_new()?;
        Some(self.start(src, g))
    }

    fn has_work(&self) -> bool {
        let me = &self.shared.remotes[self.index];
        if !self.joiners.borrow().is_empty() {
            return true;
        }
        if !self.active() {
            return !me.inbox.is_empty();
        }
        !me.inbox.is_empty()
            || !self.local.is_empty()
            || !self.shared.injector.is_empty()
            || self
                .shared
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || r.slot.is_occupied())
    }

    /// Find work, spinning briefly and then sleeping. None means shut down.
    fn find_work(&self) -> Option<GRef> {
        // Work at hand is taken without announcing a search (Go's findrunnable only counts a
        // spinning M once its local queue is empty): the shared search counter is written only
        // by workers that ran dry, so a spawner's `notify_one` reads it from its own cache
        // instead of missing on every `go` (that miss was 15% of spawn+join).
        if !self.shared.is_shutdown() {
            if let Some(g) = self.next_task() {
                return Some(g);
            }
        }
        let idle = &self.shared.idle;
        // Only a worker that takes new goroutines counts as searching: spawners skip waking a
        // sleeper while someone searches, so a worker above GOMAXPROCS must not.
        let mut searching = self.active();
        if searching {
            idle.start_search();
        }
        let stop_search = |searching: &mut bool| {
            if std::mem::take(searching) {
                idle.end_search();
            }
        };
        let mut rounds = 0u32;
        loop {
            if self.shared.is_shutdown() {
                stop_search(&mut searching);
                return None;
            }
            if let Some(g) = self.next_task() {
                if searching {
                    stop_search(&mut searching);
                    // Go's resetspinning: a thief that found work lets another worker look
                    // for more, since spawners only wake one per burst.
                    idle.notify_one();
                }
                return Some(g);
            }
            // Go's stealWork also runs other workers' due timers: one whose worker is busy
            // with a long goroutine is not late while this one idles. (Workers above
            // GOMAXPROCS too: a timer's callback only wakes goroutines, and such a worker may be
            // the one watching the timers while it sleeps.)
            if self.shared.timers.steal_due(self.index, now_ns) > 0 {
                continue;
            }
            if searching && rounds < SPIN_ROUNDS {
                rounds += 1;
                std::hint::spin_loop();
                continue;
            }
            rounds = 0;
            let last = idle.prepare_sleep(self.index);
            stop_search(&mut searching);
            std::sync::atomic::fence(Ordering::SeqCst);
            if !self.has_work() && !self.shared.is_shutdown() {
                // Everyone else sleeps: watch for a deadlock while sleeping.
                self.counters.slept();
                let watching = last && self.shared.watch.armed();
                let now = now_ns();
                match self.shared.timers.plan_sleep(self.index, now) {
                    Plan::RunNow => {}
                    Plan::Forever if watching => self.shared.sleep_watching(self.index, None),
                    Plan::Forever => idle.sleep(self.index),
                    Plan::Until { deadline, word } => {
                        if watching {
                            self.shared.sleep_watching(self.index, Some(deadline));
                        } else {
                            idle.sleep_timeout(self.index, Duration::from_nanos(deadline - now));
                        }
                        self.shared.timers.release_watch(word);
                    }
                }
            }
            idle.finish_sleep(self.index);
            if self.active() {
                searching = true;
                idle.start_search();
            }
        }
    }

    fn run(&self, queued: GRef) {
        // At its first suspension the registry takes over the queue's reference (see
        // `registry.rs`); afterwards the queue's reference is the waker's, and is dropped when
        // this returns.
        let gp = Arc::as_ptr(&queued);
        let mut queued = Some(queued);
        if queued
            .as_ref()
            .is_some_and(|g| g.home.load(Ordering::Relaxed) == goroutine::NO_HOME)
        {
            queued
                .as_ref()
                .expect("checked just above")
                .home
                .store(self.index as u32, Ordering::Release);
            // Only a first run is published: a goroutine that ran before is registered.
            self.shared.registry.running(self.index, gp);
        }
        // SAFETY: the record stays alive to the end of this call: `queued` holds it, or the
        // registry does until `remove` below hands its reference back (only this worker, its
        // home, removes it). The `Arc` made here never drops its count.
        let g = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(gp) });
        // Registers a goroutine at its first suspension, with the queue's reference (an
        // unregistered goroutine is on its first run, from the queue that started it).
        let register = |queued: &mut Option<GRef>| {
            if !Registry::has(&g) {
                let r = queued
                    .take()
                    .expect("a first run holds its queue's reference");
                self.shared.registry.insert(r);
            }
        };
        g.set_status(Status::Running);
        self.spawned.set(0);
        let step = {
            let _running = CurrentGuard::enter(&g);
            // Recording: the turn's entries go through the thread's cursor (`record::Cursor`).
            let _log = crate::record::Cursor::enter(&g);
            coroutine::resume_warm(&g, &self.warm)
        };
        match step {
            Step::Suspended(Request::Park(unlock)) => {
                register(&mut queued);
                g.set_status(Status::Waiting);
                // SAFETY: the closure lives on the parked goroutine's stack, which stays
                // suspended (and so alive) until someone unparks it after this call.
                unsafe { (*unlock)() };
                self.note_park();
            }
            Step::Suspended(Request::ParkTask) => {
                register(&mut queued);
                g.set_status(Status::Waiting);
                crate::task::parked(&g);
            }
            Step::Suspended(Request::Yield) | Step::Suspended(Request::Switch) => {
                if !Registry::has(&g) {
                    self.shared.registry.insert(GRef::clone(&g));
                }
                g.set_status(Status::Runnable);
                // Go's run queue is one FIFO of new and woken goroutines alike; ours is split
                // (new ones must stay stealable), so a yield lets one new goroutine go first.
                let mut ready = self.ready.borrow_mut();
                let new = match self.take_slot() {
                    Some(g) => Some((Source::OwnSlot, g)),
                    None => self.local.pop().map(|g| (Source::OwnDeque, g)),
                };
                if let Some((src, new)) = new {
                    ready.push_back(self.start(src, new));
                }
                ready.push_back(queued.take().unwrap_or_else(|| GRef::clone(&g)));
            }
            Step::Finished(exit) => {
                g.set_status(Status::Dead);
                crate::runtime::hb::exited(g.id);
                // The registry's reference, or else (never suspended) the queue's.
                let last = match self.shared.registry.remove(&g) {
                    Some(r) => Some(r),
                    None => queued.take(),
                };
                if !g.counted_out.get() {
                    self.shared.live[self.index].fetch_sub(1, Ordering::Relaxed);
                }
                match exit {
                    Exit::Returned if g.id == 1 => self.shared.begin_shutdown(),
                    Exit::Returned => {}
                    Exit::Panicked(report) => {
                        let mut p = self.shared.panic.lock().unwrap();
                        if p.is_none() {
                            *p = Some(report);
                        }
                        drop(p);
                        self.shared.begin_shutdown();
                    }
                }
                // The last use of `g`: whichever reference is the last one recycles.
                drop(queued.take());
                if let Some(r) = last {
                    self.warm.records().recycle(r);
                }
            }
        }
    }

    /// Force-unwind every goroutine homed here, and drop the unstarted ones queued here.
    fn tear_down(&self) {
        self.run_next.borrow_mut().take();
        self.ready.borrow_mut().clear();
        self.drain_inbox();
        self.ready.borrow_mut().clear();
        self.joiners.borrow_mut().clear();
        let homed = self.shared.registry.snapshot().into_iter().filter(|g| {
            g.home.load(Ordering::Acquire) as usize == self.index && g.status() != Status::Dead
        });
        for g in homed {
            let _running = CurrentGuard::enter(&g);
            if let Some(report) = coroutine::tear_down(&g) {
                // Its unwind was blocked: the panic was never reported (see `runtime::unwind`).
                self.shared.panic.lock().unwrap().get_or_insert(report);
            }
            g.set_status(Status::Dead);
        }
        while let Some(new) = self.take_slot().or_else(|| self.local.pop()) {
            // A `go`'s cell that never started is dropped, which tells its joiner.
            if let Unstarted::Record(g) = new.open() {
                coroutine::tear_down(&g);
                g.set_status(Status::Dead);
            }
        }
    }
}

/// Take one item from an injector, retrying on contention.
pub(crate) fn steal_one<T>(q: &Injector<T>) -> Option<T> {
    loop {
        match q.steal() {
            Steal::Success(v) => return Some(v),
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}

/// The body of worker thread `index`.
pub(crate) fn run(index: usize, shared: Arc<Shared>, local: Deque<New>) {
    stack::prepare_thread();
    let ctx = WorkerCtx {
        index,
        local,
        ready: RefCell::new(VecDeque::new()),
        joiners: RefCell::new(VecDeque::new()),
        run_next: RefCell::new(None),
        tick: Cell::new(0),
        spawned: Cell::new(0),
        burst: Cell::new(0),
        sightings: (0..shared.remotes.len())
            .map(|_| Sighting::default())
            .collect(),
        deque_seen: (0..shared.remotes.len())
            .map(|_| DequeSighting::default())
            .collect(),
        cells: crate::runtime::cellpool::Cache::new(),
        warm: coroutine::Warm::new(shared.stack_size),
        counters: Counters::default(),
        shared,
    };
    context::set_exec(ExecPtr::Steal(&ctx));
    while let Some(g) = ctx.find_work() {
        ctx.run(g);
        if ctx.shared.is_shutdown() {
            break;
        }
    }
    ctx.tear_down();
    let counts = ctx.counters.snapshot(index);
    ctx.shared.stats.lock().unwrap().push(counts);
    context::set_exec(ExecPtr::None);
}
