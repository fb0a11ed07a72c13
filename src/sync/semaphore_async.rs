//! [`Semaphore::acquire_async`]: the weighted acquire as a future, on the same FIFO queue as
//! the blocking `acquire` (a child module of `semaphore`, for its private state). The queue
//! entry is a grant waker (`sync::grant`): `grant` counts the weight in before it wakes it.
//!
//! Invariants (on top of `semaphore`'s): while `Queued`, the future's entry is in the queue,
//! or it was granted (its weight is in `cur`). Dropped while `Queued`, it leaves the queue, or
//! gives its granted weight back; either may let the waiters behind it through.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::Semaphore;
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::waiter::Waiter;
use crate::sync::grant::Grant;
use crate::sync::obj::lock_queue;

/// The future of [`Semaphore::acquire_async`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    n: u64,
    site: &'static Location<'static>,
    /// Set once the scheduling point was passed: whether on the controlled executor.
    controlled: Option<bool>,
    /// Set once queued.
    queued: Option<(Arc<Grant>, Waker)>,
    done: bool,
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("n", &self.n)
            .field("queued", &self.queued.is_some())
            .finish()
    }
}

impl Semaphore {
    /// [`acquire`](Semaphore::acquire) as a future, for tasks (`goweave::task`) and any other
    /// executor: the same FIFO queue, with the future's waker in it instead of a parked
    /// goroutine. Asking for more than the size never completes (with no waker kept, which the
    /// checker reports as a leak). Dropping the future while it waits leaves the queue (or
    /// gives back the weight granted meanwhile).
    ///
    /// ```
    /// use std::sync::Arc;
    /// goweave::run(|| {
    ///     let sem = Arc::new(goweave::sync::Semaphore::new(2));
    ///     let hs: Vec<_> = (0..4)
    ///         .map(|_| {
    ///             let sem = sem.clone();
    ///             goweave::task::spawn(async move {
    ///                 sem.acquire_async(1).await;
    ///                 assert!(sem.held() <= 2);
    ///                 sem.release(1);
    ///             })
    ///         })
    ///         .collect();
    ///     hs.into_iter().for_each(|h| h.join());
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_async(&self, n: u64) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            site: Location::caller(),
            controlled: None,
            queued: None,
            done: false,
        }
    }
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        assert!(
            !this.done,
            "goweave: Semaphore::acquire_async future (at {}) polled after it completed",
            this.site
        );
        let controlled = *this
            .controlled
            .get_or_insert_with(|| this.sem.obj.point(Op::Semaphore, this.site));
        if let Some((grant, _)) = &this.queued {
            if !grant.poll(cx) {
                crate::task::awaiting(WaitReason::SemaphoreAcquire, this.site);
                return Poll::Pending;
            }
            this.queued = None;
            this.done = true;
            this.sem.acquired(controlled);
            return Poll::Ready(());
        }
        let mut st = lock_queue(&this.sem.state);
        if st.size - st.cur >= this.n && st.waiters.is_empty() {
            st.cur += this.n;
            drop(st);
            this.done = true;
            this.sem.acquired(controlled);
            return Poll::Ready(());
        }
        if this.n > st.size {
            // Never satisfiable (as `acquire`): pending for good, queued nowhere.
            drop(st);
            crate::task::awaiting(WaitReason::SemaphoreAcquire, this.site);
            return Poll::Pending;
        }
        let (grant, entry) = Grant::new(cx);
        st.waiters.push_back((this.n, Waiter::Task(entry.clone())));
        drop(st);
        this.queued = Some((grant, entry));
        crate::task::awaiting(WaitReason::SemaphoreAcquire, this.site);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some((_, entry)) = self.queued.take() else {
            return;
        };
        let woken = {
            let mut st = lock_queue(&self.sem.state);
            match st
                .waiters
                .iter()
                .position(|(_, w)| Grant::is_entry(w, &entry))
            {
                Some(i) => {
                    st.waiters.remove(i);
                }
                None => st.cur -= self.n,
            }
            st.grant()
        };
        for w in woken {
            w.wake();
        }
    }
}
