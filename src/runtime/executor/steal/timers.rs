//! The work-stealing executor's timers: one shared heap, driven by a single timer thread that
//! sleeps until the earliest deadline (not a thread per timer). Callbacks run on that thread and
//! must not block; they typically `unpark` a goroutine or `try_send` on a channel.
//!
//! For the deadlock check (`deadlock.rs`): a timer thread knows which runtime it serves
//! (`on_timer_thread_of`), so that its wake-ups do not count as wake-ups from outside the
//! runtime; and `is_idle` tells whether any timer is armed or firing.

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::runtime::timer::{TimerFn, TimerHeap, TimerId};

use super::real_now;

thread_local! {
    /// The id of the runtime whose timer thread this is (0: not a timer thread).
    static TIMER_THREAD_OF: Cell<u64> = const { Cell::new(0) };
}

/// True on the timer thread of runtime `id`.
pub(crate) fn on_timer_thread_of(id: u64) -> bool {
    TIMER_THREAD_OF.with(|t| t.get() == id)
}

struct Inner {
    heap: TimerHeap,
    /// Set when the runtime ends.
    stopped: bool,
    /// True once the thread has been started (lazily, on the first timer).
    started: bool,
    /// True while the thread runs callbacks it took off the heap (they may still wake
    /// goroutines).
    firing: bool,
}

pub(crate) struct TimerService {
    /// The runtime served.
    runtime: u64,
    inner: Arc<(Mutex<Inner>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl TimerService {
    pub(crate) fn new(runtime: u64) -> TimerService {
        TimerService {
            runtime,
            inner: Arc::new((
                Mutex::new(Inner {
                    heap: TimerHeap::default(),
                    stopped: false,
                    started: false,
                    firing: false,
                }),
                Condvar::new(),
            )),
            thread: Mutex::new(None),
        }
    }

    pub(crate) fn add(&self, deadline: Duration, f: TimerFn) -> TimerId {
        let (lock, cvar) = &*self.inner;
        let mut inner = lock.lock().unwrap();
        let earliest = inner.heap.next_deadline().is_none_or(|d| deadline < d);
        let id = inner.heap.add(deadline, f);
        if !inner.started {
            inner.started = true;
            let shared = self.inner.clone();
            let runtime = self.runtime;
            *self.thread.lock().unwrap() = Some(
                std::thread::Builder::new()
                    .name("goweave-timers".into())
                    .spawn(move || {
                        TIMER_THREAD_OF.with(|t| t.set(runtime));
                        timer_loop(shared)
                    })
                    .expect("goweave: cannot start the timer thread"),
            );
        } else if earliest {
            cvar.notify_one();
        }
        id
    }

    pub(crate) fn cancel(&self, id: TimerId) -> bool {
        self.inner.0.lock().unwrap().heap.cancel(id)
    }

    /// True if no timer is armed and none is firing. Callbacks that ran have finished their
    /// wake-ups before this can return true (they happen before the thread takes the lock
    /// again to clear `firing`).
    pub(crate) fn is_idle(&self) -> bool {
        let mut inner = self.inner.0.lock().unwrap();
        !inner.firing && inner.heap.next_deadline().is_none()
    }

    /// Stop the thread and drop every pending callback.
    pub(crate) fn shut_down(&self) {
        let (lock, cvar) = &*self.inner;
        let heap = {
            let mut inner = lock.lock().unwrap();
            inner.stopped = true;
            std::mem::take(&mut inner.heap)
        };
        cvar.notify_one();
        drop(heap);
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }
}

fn timer_loop(shared: Arc<(Mutex<Inner>, Condvar)>) {
    let (lock, cvar) = &*shared;
    let mut inner = lock.lock().unwrap();
    loop {
        if inner.stopped {
            return;
        }
        let now = real_now();
        match inner.heap.next_deadline() {
            Some(d) if d <= now => {
                let due = inner.heap.pop_due(now);
                inner.firing = true;
                drop(inner);
                for f in due {
                    f();
                }
                inner = lock.lock().unwrap();
                inner.firing = false;
            }
            Some(d) => inner = cvar.wait_timeout(inner, d - now).unwrap().0,
            None => inner = cvar.wait(inner).unwrap(),
        }
    }
}
