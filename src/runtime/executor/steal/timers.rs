//! The work-stealing executor's timers: one shared heap, driven by a single timer thread that
//! sleeps until the earliest deadline (not a thread per timer). Callbacks run on that thread and
//! must not block; they typically `unpark` a goroutine or `try_send` on a channel.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::runtime::timer::{TimerFn, TimerHeap, TimerId};

use super::real_now;

struct Inner {
    heap: TimerHeap,
    /// Set when the runtime ends.
    stopped: bool,
    /// True once the thread has been started (lazily, on the first timer).
    started: bool,
}

pub(crate) struct TimerService {
    inner: Arc<(Mutex<Inner>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl TimerService {
    pub(crate) fn new() -> TimerService {
        TimerService {
            inner: Arc::new((
                Mutex::new(Inner {
                    heap: TimerHeap::default(),
                    stopped: false,
                    started: false,
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
            *self.thread.lock().unwrap() = Some(
                std::thread::Builder::new()
                    .name("goweave-timers".into())
                    .spawn(move || timer_loop(shared))
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
                drop(inner);
                for f in due {
                    f();
                }
                inner = lock.lock().unwrap();
            }
            Some(d) => inner = cvar.wait_timeout(inner, d - now).unwrap().0,
            None => inner = cvar.wait(inner).unwrap(),
        }
    }
}
