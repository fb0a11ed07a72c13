//! The work-stealing executor's timers, on the workers as Go's since 1.14: every worker owns a
//! timer heap (a *shard*), checked from its scheduling loop, so that firing a timer armed by a
//! goroutine of this worker is a heap pop and an unpark into the same worker's run-next slot,
//! with no thread in between. There is no timer thread.
//!
//! - **Arming.** A goroutine (or a timer callback) on worker `i` arms on shard `i`. A thread
//!   outside the runtime arms on a shard picked in turn, and then makes sure a worker will see
//!   the timer in time ([`Timers::after_outside_add`]).
//! - **Firing.** A worker checks its own shard at every scheduling decision (one atomic load
//!   when the shard is empty, and a clock read when it is not). An idle worker that searches
//!   for work also fires the due timers of the other shards (Go's `stealWork` with
//!   `stealTimersOrRunNextG`), so a timer is not late because its own worker runs a long
//!   goroutine while another worker has nothing to do.
//! - **Sleeping.** Before it sleeps, a worker computes the earliest deadline over all shards.
//!   One sleeping worker at a time, the *watcher* (Go's `sched.pollUntil` holder), sleeps
//!   until that deadline; the others sleep until woken. A worker that goes to sleep with an
//!   earlier deadline than the watcher's takes the watch over. A watcher woken early by work
//!   hands the watch on through the wake-up the finder of work already makes (`find_work`'s
//!   `notify_one`), and whoever sleeps next claims it again.
//!
//! Invariants:
//! - `Shard::next` is the earliest deadline of an armed timer in that shard's heap (ns since the
//!   runtime epoch, [`NONE`] if none). It is written only under the shard's lock, after the
//!   heap changed; it is read without the lock (a stale read costs one lock round, nothing
//!   more, because the heap is checked again under the lock).
//! - `Shard::firing` counts the batches taken off the heap whose callbacks have not finished;
//!   it goes back down under the lock after the callbacks ran, so the deadlock check, which
//!   takes every shard's lock in [`Timers::is_idle`], sees their wake-ups (see `idle.rs`).
//! - Callbacks run with no shard lock held: they unpark goroutines and re-arm tickers (which
//!   takes a shard lock again).
//! - No wake-up of a timer is lost: an outside thread that arms a timer publishes `next`, then
//!   (SeqCst fence) reads the watch and the sleepers; a worker going to sleep marks itself
//!   sleeping, claims the watch, then (SeqCst fence) reads every `next`. One of the two sees
//!   the other. Modelled with loom below.

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::idle::Idle;
use crate::runtime::timer::{TimerFn, TimerHeap, TimerId};

/// `Shard::next` when the shard has no armed timer.
pub(crate) const NONE: u64 = u64::MAX;

/// The watcher's deadline is kept in units of this many nanoseconds (rounded up), so that the
/// deadline and the watcher's index fit one word for any number of workers.
const WATCH_UNIT_NS: u64 = 1 << 10;

/// A deadline as nanoseconds since the runtime epoch.
pub(crate) fn as_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NONE - 1)
}

/// The fields of a shard guarded by its lock.
#[derive(Default)]
struct Guarded {
    heap: TimerHeap,
    /// See the module invariants.
    firing: u32,
}

/// One worker's timers.
struct Shard {
    /// See the module invariants.
    next: AtomicU64,
    heap: Mutex<Guarded>,
}

impl Shard {
    /// Store the heap's earliest deadline in `next`; under the lock.
    fn publish(&self, g: &mut Guarded) {
        let n = g.heap.next_deadline().map_or(NONE, as_ns);
        self.next.store(n, Ordering::SeqCst);
    }
}

/// What a worker found when it looked at the timers before sleeping ([`Timers::plan_sleep`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No timer is armed, or another worker watches one due no later: sleep until woken.
    Forever,
    /// A timer is due already: do not sleep, fire it.
    RunNow,
    /// This worker is the watcher: sleep until the deadline (ns), then call
    /// [`Timers::release_watch`] with the word.
    Until {
        /// The deadline in ns since the epoch.
        deadline: u64,
        /// The watch word this worker claimed.
        word: u64,
    },
}

/// Every worker's timers, and the watch.
pub(crate) struct Timers {
    shards: Box<[CachePadded<Shard>]>,
    /// The watcher, as `(deadline in WATCH_UNIT_NS, rounded up, + 1) * workers + index`; 0
    /// when no sleeping worker waits for a deadline.
    watch: AtomicU64,
    /// The shard that the next timer armed from outside the runtime goes to.
    outside: AtomicUsize,
}

impl Timers {
    pub(crate) fn new(workers: usize) -> Timers {
        Timers {
            shards: (0..workers.max(1))
                .map(|_| {
                    CachePadded::new(Shard {
                        next: AtomicU64::new(NONE),
                        heap: Mutex::new(Guarded::default()),
                    })
                })
                .collect(),
            watch: AtomicU64::new(0),
            outside: AtomicUsize::new(0),
        }
    }

    fn workers(&self) -> u64 {
        self.shards.len() as u64
    }

    /// The shard for a timer armed from outside the runtime's workers.
    pub(crate) fn outside_shard(&self) -> usize {
        self.outside.fetch_add(1, Ordering::Relaxed) % self.shards.len()
    }

    /// Arm a timer on shard `i`.
    pub(crate) fn add(&self, i: usize, deadline: Duration, f: TimerFn) -> TimerId {
        let shard = &self.shards[i];
        let mut g = shard.heap.lock().unwrap();
        let seq = g.heap.add(deadline, f).0;
        let n = as_ns(deadline);
        if n < shard.next.load(Ordering::Relaxed) {
            shard.next.store(n, Ordering::SeqCst);
        }
        TimerId(seq * self.workers() + i as u64)
    }

    /// Disarm a timer; true if it had not fired.
    pub(crate) fn cancel(&self, id: TimerId) -> bool {
        let w = self.workers();
        let Some(shard) = self.shards.get((id.0 % w) as usize) else {
            return false;
        };
        let mut g = shard.heap.lock().unwrap();
        let was = g.heap.cancel(TimerId(id.0 / w));
        if was {
            shard.publish(&mut g);
        }
        was
    }

    /// The earliest deadline over every shard (ns), or [`NONE`].
    pub(crate) fn earliest(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.next.load(Ordering::SeqCst))
            .min()
            .unwrap_or(NONE)
    }

    /// True if shard `i` has a timer due at `now` (ns); one load when it has none.
    #[inline]
    pub(crate) fn own_due(&self, i: usize, now: impl FnOnce() -> u64) -> bool {
        let n = self.shards[i].next.load(Ordering::Relaxed);
        n != NONE && n <= now()
    }

    /// Fire the timers of shard `i` due at `now` (ns), earliest first; how many fired.
    pub(crate) fn fire(&self, i: usize, now: u64) -> usize {
        let shard = &self.shards[i];
        let due = {
            let mut g = shard.heap.lock().unwrap();
            let due = g.heap.pop_due(Duration::from_nanos(now));
            if due.is_empty() {
                return 0;
            }
            g.firing += 1;
            shard.publish(&mut g);
            due
        };
        /// Lowers `firing` again after the callbacks, also if one of them panics.
        struct Done<'a>(&'a Shard);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut g = self.0.heap.lock().unwrap_or_else(|p| p.into_inner());
                g.firing -= 1;
            }
        }
        let _done = Done(shard);
        let n = due.len();
        for f in due {
            crate::record::fire_timer(f);
        }
        n
    }

    /// Fire the due timers of every shard but `me` (an idle worker's timer stealing); how many
    /// fired. Costs loads only when no other shard has a timer.
    pub(crate) fn steal_due(&self, me: usize, now: impl FnOnce() -> u64) -> usize {
        let k = self.shards.len();
        let mut now = Some(now);
        let mut t = 0;
        let mut fired = 0;
        for off in 1..k {
            let i = (me + off) % k;
            let n = self.shards[i].next.load(Ordering::Relaxed);
            if n == NONE {
                continue;
            }
            if let Some(f) = now.take() {
                t = f();
            }
            if n <= t {
                fired += self.fire(i, t);
            }
        }
        fired
    }

    /// True if no timer is armed and none is firing, on any shard (for the deadlock check;
    /// see `Idle::verify_quiet`).
    pub(crate) fn is_idle(&self) -> bool {
        self.shards.iter().all(|s| {
            let mut g = s.heap.lock().unwrap();
            g.firing == 0 && g.heap.next_deadline().is_none()
        })
    }

    fn word(&self, deadline: u64, i: usize) -> u64 {
        (deadline.div_ceil(WATCH_UNIT_NS) + 1) * self.workers() + i as u64
    }

    /// The deadline a watch word stands for, in units (comparable with `units`).
    fn word_units(&self, word: u64) -> u64 {
        word / self.workers() - 1
    }

    fn units(deadline: u64) -> u64 {
        deadline.div_ceil(WATCH_UNIT_NS)
    }

    /// Worker `i`, marked sleeping (`Idle::prepare_sleep`) and having found no work, decides
    /// how to sleep: see [`Plan`].
    pub(crate) fn plan_sleep(&self, i: usize, now: u64) -> Plan {
        loop {
            let e = self.earliest();
            if e == NONE {
                return Plan::Forever;
            }
            if e <= now {
                return Plan::RunNow;
            }
            let cur = self.watch.load(Ordering::SeqCst);
            if cur != 0 && self.word_units(cur) <= Self::units(e) {
                return Plan::Forever;
            }
            let word = self.word(e, i);
            if self
                .watch
                .compare_exchange(cur, word, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            // Against an outside thread arming an earlier timer right now: either it sees our
            // word (and wakes us), or we see its timer here.
            fence(Ordering::SeqCst);
            if self.earliest() < e {
                self.release_watch(word);
                continue;
            }
            return Plan::Until { deadline: e, word };
        }
    }

    /// The watcher woke up (at its deadline or earlier): give the watch up, unless another
    /// worker took it over meanwhile.
    pub(crate) fn release_watch(&self, word: u64) {
        let _ = self
            .watch
            .compare_exchange(word, 0, Ordering::SeqCst, Ordering::Relaxed);
    }

    /// A thread outside the runtime armed a timer due at `deadline` (ns): make sure a worker
    /// will fire it in time. Workers arming timers need not call this: they look at the timers
    /// again before they sleep.
    pub(crate) fn after_outside_add(&self, deadline: u64, idle: &Idle) {
        fence(Ordering::SeqCst);
        let cur = self.watch.load(Ordering::SeqCst);
        if cur == 0 {
            // Nobody sleeps with a deadline: a worker that sleeps must plan again (one that is
            // about to sleep sees the timer in `plan_sleep`).
            idle.notify_one();
        } else if self.word_units(cur) > Self::units(deadline) {
            idle.wake_worker((cur % self.workers()) as usize);
        }
    }

    /// Drop every pending callback (the runtime ended).
    pub(crate) fn shut_down(&self) {
        for s in self.shards.iter() {
            let heap = {
                let mut g = s.heap.lock().unwrap_or_else(|p| p.into_inner());
                s.next.store(NONE, Ordering::SeqCst);
                std::mem::take(&mut g.heap)
            };
            drop(heap);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as Count;
    use std::sync::Arc;

    fn counter(c: &Arc<Count>) -> TimerFn {
        let c = c.clone();
        Box::new(move || {
            c.fetch_add(1, Ordering::Relaxed);
        })
    }

    #[test]
    fn ids_find_their_shard_and_next_follows_the_heap() {
        let t = Timers::new(3);
        let c = Arc::new(Count::new(0));
        let a = t.add(1, Duration::from_nanos(500), counter(&c));
        let b = t.add(2, Duration::from_nanos(300), counter(&c));
        assert_eq!(t.earliest(), 300);
        assert!(t.cancel(b));
        assert!(!t.cancel(b));
        assert_eq!(t.earliest(), 500);
        assert!(!t.own_due(1, || 499));
        assert!(t.own_due(1, || 500));
        assert_eq!(t.steal_due(0, || 500), 1);
        assert_eq!(c.load(Ordering::Relaxed), 1);
        assert!(!t.cancel(a), "a fired timer cannot be cancelled");
        assert_eq!(t.earliest(), NONE);
        assert!(t.is_idle());
    }

    #[test]
    fn the_earliest_sleeper_watches_and_others_sleep_forever() {
        let t = Timers::new(2);
        let c = Arc::new(Count::new(0));
        assert_eq!(t.plan_sleep(0, 0), Plan::Forever);
        t.add(1, Duration::from_micros(100), counter(&c));
        let Plan::Until { deadline, word } = t.plan_sleep(0, 0) else {
            panic!("worker 0 should watch");
        };
        assert_eq!(deadline, 100_000);
        // A second sleeper with the same earliest deadline leaves the watch alone.
        assert_eq!(t.plan_sleep(1, 0), Plan::Forever);
        // An earlier timer: the next sleeper takes the watch over.
        t.add(1, Duration::from_micros(50), counter(&c));
        let Plan::Until {
            deadline: d1,
            word: w1,
        } = t.plan_sleep(1, 0)
        else {
            panic!("worker 1 should take the watch");
        };
        assert_eq!(d1, 50_000);
        // The displaced watcher's release does not clear the new watch.
        t.release_watch(word);
        assert_eq!(t.plan_sleep(0, 0), Plan::Forever);
        t.release_watch(w1);
        assert_eq!(t.plan_sleep(0, 60_000), Plan::RunNow);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_tests --target-dir target/loom`
    use super::*;
    use loom::sync::atomic::AtomicUsize as LAtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// A timer armed from outside the runtime while the only worker goes to sleep is never
    /// slept through: the worker either sees it when it plans its sleep (and sleeps only until
    /// its deadline, or fires it at once), or is woken by the arming thread. The model's clock
    /// stands still at 0 and the timer is due at 0 or later; a sleep with a deadline may end at
    /// once (loom does not model time), which is the timer coming due.
    #[test]
    fn an_outside_timer_is_never_slept_through() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let timers = Arc::new(Timers::new(1));
            let fired = Arc::new(LAtomicUsize::new(0));
            let (i2, t2, f2) = (idle.clone(), timers.clone(), fired.clone());
            let outside = thread::spawn(move || {
                let i = t2.outside_shard();
                t2.add(
                    i,
                    Duration::from_nanos(5),
                    Box::new(move || {
                        f2.fetch_add(1, Ordering::SeqCst);
                    }),
                );
                t2.after_outside_add(5, &i2);
            });
            // The worker: search (fire what is due), then sleep as planned, until it fired.
            let mut now = 0;
            while fired.load(Ordering::SeqCst) == 0 {
                if timers.own_due(0, || now) {
                    timers.fire(0, now);
                    continue;
                }
                idle.prepare_sleep(0);
                match timers.plan_sleep(0, now) {
                    Plan::RunNow => {}
                    Plan::Forever => idle.sleep(0),
                    Plan::Until { deadline, word } => {
                        if !idle.sleep_timeout(0, Duration::from_nanos(deadline - now)) {
                            now = deadline;
                        }
                        timers.release_watch(word);
                    }
                }
                idle.finish_sleep(0);
            }
            outside.join().unwrap();
        });
    }

    /// Two sleeping workers and a timer on worker 1's shard: whichever interleaving of their
    /// planning, one of them watches it (no worker sleeps for ever while it is pending), and
    /// the other's timer stealing fires it when its owner does not.
    #[test]
    fn a_pending_timer_always_has_a_watcher() {
        // Two workers looping over timers, mutexes and the watch: bound the preemptions, as
        // `idle.rs` does for its three-thread model, or the search does not end in minutes.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let idle = Arc::new(Idle::new(2));
            let timers = Arc::new(Timers::new(2));
            let fired = Arc::new(LAtomicUsize::new(0));
            let f2 = fired.clone();
            timers.add(
                1,
                Duration::from_nanos(5),
                Box::new(move || {
                    f2.fetch_add(1, Ordering::SeqCst);
                }),
            );
            let worker =
                |i: usize, idle: Arc<Idle>, timers: Arc<Timers>, fired: Arc<LAtomicUsize>| {
                    move || {
                        let mut now = 0;
                        while fired.load(Ordering::SeqCst) == 0 {
                            if timers.own_due(i, || now) {
                                timers.fire(i, now);
                            }
                            timers.steal_due(i, || now);
                            if fired.load(Ordering::SeqCst) != 0 {
                                break;
                            }
                            idle.prepare_sleep(i);
                            match timers.plan_sleep(i, now) {
                                Plan::RunNow => {}
                                Plan::Forever => {
                                    if fired.load(Ordering::SeqCst) == 0 {
                                        idle.sleep(i)
                                    }
                                }
                                Plan::Until { deadline, word } => {
                                    if !idle.sleep_timeout(i, Duration::from_nanos(deadline - now))
                                    {
                                        now = deadline;
                                    }
                                    timers.release_watch(word);
                                }
                            }
                            idle.finish_sleep(i);
                        }
                        // The timer fired: release the other worker, as the runtime's shutdown
                        // would.
                        idle.wake_all();
                    }
                };
            let w1 = thread::spawn(worker(1, idle.clone(), timers.clone(), fired.clone()));
            worker(0, idle.clone(), timers.clone(), fired.clone())();
            w1.join().unwrap();
            assert_eq!(fired.load(Ordering::SeqCst), 1);
        });
    }
}
