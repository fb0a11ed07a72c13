//! [`sleep_async`]: `time::sleep` as a future, on the executor's own timers (virtual time under
//! the checker). Timers and tickers need nothing more: await `timer.c().recv_async()` or
//! `time::after(d).recv_async()`, the channel futures.
//!
//! Invariant: a `Sleep` that was polled holds its armed timer until the timer fires (which
//! sets `fired`, then wakes the latest waker) or the future is dropped (which disarms it).

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor::{self, Timers};
use crate::runtime::goroutine::WaitReason;
use crate::runtime::timer::TimerId;

/// Wait at least `d` without blocking (Go's `time.Sleep`, awaited): for tasks
/// (`goweave::task`), `task::block_on`, and other executors running inside a goweave runtime.
/// A zero duration completes at the first poll. The timer is armed at the first poll and
/// disarmed if the future is dropped first.
///
/// ```
/// use std::time::Duration;
/// goweave::run(|| {
///     let t0 = goweave::time::now();
///     goweave::task::spawn(goweave::time::sleep_async(Duration::from_millis(2))).join();
///     assert!(goweave::time::since(t0) >= Duration::from_millis(2));
/// });
/// ```
#[track_caller]
pub fn sleep_async(d: Duration) -> Sleep {
    Sleep {
        d,
        site: Location::caller(),
        armed: None,
        done: false,
    }
}

/// What the timer callback and the future share.
struct Slot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// The future of [`sleep_async`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    d: Duration,
    site: &'static Location<'static>,
    /// Once polled: the shared slot, and the timer to disarm on drop.
    armed: Option<(Arc<Slot>, Timers, TimerId)>,
    done: bool,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("d", &self.d)
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

fn lock(m: &Mutex<Option<Waker>>) -> std::sync::MutexGuard<'_, Option<Waker>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        assert!(
            !this.done,
            "goweave: sleep_async future (created at {}) polled after it completed",
            this.site
        );
        if let Some((slot, _, _)) = &this.armed {
            if !slot.fired.load(Ordering::SeqCst) {
                *lock(&slot.waker) = Some(cx.waker().clone());
                if !slot.fired.load(Ordering::SeqCst) {
                    crate::task::awaiting(WaitReason::Sleep, this.site);
                    return Poll::Pending;
                }
            }
            this.armed = None;
            this.done = true;
            return Poll::Ready(());
        }
        executor::sched_point(Event::new(Op::Timer, ObjId(0), this.site));
        if this.d.is_zero() {
            this.done = true;
            return Poll::Ready(());
        }
        let slot = Arc::new(Slot {
            fired: AtomicBool::new(false),
            waker: Mutex::new(Some(cx.waker().clone())),
        });
        let timers = executor::timers();
        let s = slot.clone();
        let id = timers.add(
            executor::now().saturating_add(this.d),
            Box::new(move || {
                s.fired.store(true, Ordering::SeqCst);
                let w = lock(&s.waker).take();
                if let Some(w) = w {
                    w.wake();
                }
            }),
        );
        this.armed = Some((slot, timers, id));
        crate::task::awaiting(WaitReason::Sleep, this.site);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((slot, timers, id)) = self.armed.take() {
            if !slot.fired.load(Ordering::SeqCst) {
                timers.cancel(id);
            }
        }
    }
}
