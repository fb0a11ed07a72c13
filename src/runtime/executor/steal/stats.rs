//! Per-worker scheduling counters: where goroutines started and how often a wake-up crossed
//! workers, so that a slow run can be told apart from a fast one by its placement (issue 19:
//! a run of `select4` took 150 or 550 ns per message depending on which worker its four
//! senders started on).
//!
//! Every worker counts in plain `Cell`s of its own (no atomics, no shared cache line: the
//! cost when nobody looks is an add on a line the worker owns). At the end of a run each
//! worker hands its counts to `Shared`, and `block_on` prints them to stderr when the
//! environment variable `GOWEAVE_SCHEDSTATS` is set (like Go's `GODEBUG=schedtrace`), one
//! line per worker:
//!
//! ```text
//! goweave schedstats: worker 0: started 5 (own slot 4, own deque 1, stolen 0, injector 1) wakes: here 999990, sent to other workers 0; slept 1
//! ```

use std::cell::Cell;
use std::fmt;

/// How many goroutine starts per worker keep their time, for the per-run placement picture.
pub(crate) const TIMELINE: usize = 8;

/// Where a worker found a goroutine it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Its own spawn slot (`slot.rs`): a child of a goroutine of this worker.
    OwnSlot,
    /// Its own deque: a child of a goroutine of this worker, displaced from the slot.
    OwnDeque,
    /// Another worker's deque or spawn slot.
    Stolen,
    /// The global injector (goroutines spawned from outside the runtime, main among them).
    Injector,
}

/// One worker's counters, owned by its thread.
#[derive(Default)]
pub(crate) struct Counters {
    own_slot: Cell<u64>,
    own_deque: Cell<u64>,
    stolen: Cell<u64>,
    injector: Cell<u64>,
    wakes_here: Cell<u64>,
    wakes_across: Cell<u64>,
    sleeps: Cell<u64>,
    /// The first [`TIMELINE`] starts: (ns since the run began, source).
    timeline: Cell<[(u64, Option<Source>); TIMELINE]>,
}

impl Counters {
    /// A goroutine starts on this worker, found in `src`, `at` ns after the run began.
    #[inline]
    pub(crate) fn started(&self, src: Source, at: impl FnOnce() -> u64) {
        let c = match src {
            Source::OwnSlot => &self.own_slot,
            Source::OwnDeque => &self.own_deque,
            Source::Stolen => &self.stolen,
            Source::Injector => &self.injector,
        };
        let n = self.total_started();
        c.set(c.get() + 1);
        if (n as usize) < TIMELINE {
            let mut t = self.timeline.get();
            t[n as usize] = (at(), Some(src));
            self.timeline.set(t);
        }
    }

    fn total_started(&self) -> u64 {
        self.own_slot.get() + self.own_deque.get() + self.stolen.get() + self.injector.get()
    }

    /// A goroutine homed here was woken by code running here.
    #[inline]
    pub(crate) fn woke_here(&self) {
        self.wakes_here.set(self.wakes_here.get() + 1);
    }

    /// Code running here woke a goroutine homed on another worker.
    #[inline]
    pub(crate) fn woke_across(&self) {
        self.wakes_across.set(self.wakes_across.get() + 1);
    }

    /// This worker's thread went to sleep (it found no work after spinning).
    #[inline]
    pub(crate) fn slept(&self) {
        self.sleeps.set(self.sleeps.get() + 1);
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self, worker: usize) -> WorkerStats {
        WorkerStats {
            worker,
            own_slot: self.own_slot.get(),
            own_deque: self.own_deque.get(),
            stolen: self.stolen.get(),
            injector: self.injector.get(),
            wakes_here: self.wakes_here.get(),
            wakes_across: self.wakes_across.get(),
            sleeps: self.sleeps.get(),
            timeline: self
                .timeline
                .get()
                .into_iter()
                .filter_map(|(t, s)| s.map(|s| (t, s)))
                .collect(),
        }
    }
}

/// One worker's counts at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerStats {
    pub(crate) worker: usize,
    /// Goroutines started from this worker's own spawn slot.
    pub(crate) own_slot: u64,
    /// Goroutines started from this worker's own deque.
    pub(crate) own_deque: u64,
    /// Goroutines started after stealing them from another worker.
    pub(crate) stolen: u64,
    /// Goroutines started from the global injector.
    pub(crate) injector: u64,
    /// Wake-ups by code on this worker of goroutines homed on it.
    pub(crate) wakes_here: u64,
    /// Wake-ups by code on this worker of goroutines homed on another worker.
    pub(crate) wakes_across: u64,
    /// Times this worker's thread went to sleep.
    pub(crate) sleeps: u64,
    /// The first starts: ns since the run began, and where the goroutine came from.
    pub(crate) timeline: Vec<(u64, Source)>,
}

impl WorkerStats {
    /// Goroutines started on this worker.
    pub(crate) fn started(&self) -> u64 {
        self.own_slot + self.own_deque + self.stolen + self.injector
    }
}

impl fmt::Display for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worker {}: started {} (own slot {}, own deque {}, stolen {}, injector {}) wakes: here {}, sent to other workers {}; slept {}; first starts (us):",
            self.worker,
            self.started(),
            self.own_slot,
            self.own_deque,
            self.stolen,
            self.injector,
            self.wakes_here,
            self.wakes_across,
            self.sleeps
        )?;
        for (t, s) in &self.timeline {
            write!(f, " {:.1} {s:?}", *t as f64 / 1e3)?;
        }
        Ok(())
    }
}

thread_local! {
    /// The counts of the last run that `block_on` ended on this thread.
    static LAST: std::cell::RefCell<Vec<WorkerStats>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keep a finished run's counts for `last_run` on this thread, and print them if asked to.
pub(crate) fn finish_run(mut all: Vec<WorkerStats>) {
    all.sort_by_key(|s| s.worker);
    if std::env::var_os("GOWEAVE_SCHEDSTATS").is_some() {
        for s in &all {
            eprintln!("goweave schedstats: {s}");
        }
    }
    LAST.with(|l| *l.borrow_mut() = all);
}

/// The per-worker counts of the last work-stealing run this thread ended (tests).
#[cfg(test)]
pub(crate) fn last_run() -> Vec<WorkerStats> {
    LAST.with(|l| l.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{chan, go, Runtime};

    /// On one worker every start and wake-up is this worker's: main from the injector, its
    /// children from its own slot and deque, and each hand-off a wake-up here.
    #[test]
    fn one_worker_counts_every_start_and_wake_up() {
        Runtime::builder().workers(1).build().unwrap().block_on(|| {
            let ch = chan::make::<u32>(0);
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let ch = ch.clone();
                    go(move || {
                        for _ in 0..10 {
                            ch.send(i);
                        }
                    })
                })
                .collect();
            for _ in 0..40 {
                ch.recv().unwrap();
            }
            for h in hs {
                h.join();
            }
        });
        let all = last_run();
        // The runtime also starts threads for GOMAXPROCS values it may be raised to; those
        // above the limit take no new goroutines.
        assert!(!all.is_empty(), "{all:?}");
        assert!(all[1..].iter().all(|w| w.started() == 0), "{all:?}");
        let w = &all[0];
        assert_eq!(w.worker, 0);
        assert_eq!((w.injector, w.stolen), (1, 0), "{w}");
        assert_eq!(w.own_slot + w.own_deque, 4, "{w}");
        assert_eq!(w.started(), 5);
        assert_eq!(w.wakes_across, 0, "{w}");
        // Every message on the unbuffered channel woke one side: at least 40 wake-ups.
        assert!(w.wakes_here >= 40, "{w}");
        assert_eq!(w.timeline.len(), 5);
        assert_eq!(w.timeline[0].1, Source::Injector);
        assert!(
            w.timeline.windows(2).all(|p| p[0].0 <= p[1].0),
            "starts in time order: {w}"
        );
    }

    /// The timeline keeps the first starts only; the counts keep going.
    #[test]
    fn the_timeline_keeps_the_first_starts() {
        let c = Counters::default();
        for i in 0..(TIMELINE as u64 + 5) {
            c.started(Source::OwnDeque, || i * 10);
        }
        c.started(Source::Stolen, || 1_000);
        c.woke_across();
        c.slept();
        let s = c.snapshot(3);
        assert_eq!((s.own_deque, s.stolen, s.started()), (13, 1, 14));
        assert_eq!(s.timeline.len(), TIMELINE);
        assert_eq!(
            s.timeline[TIMELINE - 1],
            ((TIMELINE as u64 - 1) * 10, Source::OwnDeque)
        );
        let line = s.to_string();
        for part in [
            "worker 3:",
            "started 14",
            "own deque 13",
            "stolen 1",
            "sent to other workers 1",
            "slept 1",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line:?}");
        }
    }
}
