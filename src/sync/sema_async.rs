//! [`Sema::acquire_async`]: waiting for a permit as a future, on the same queue and with the
//! same hand-off as the blocking `acquire` (a child module of `sema`, for its private fields).
//!
//! The queue entry of a waiting future is `Waiter::Task` holding a *grant waker*
//! (`sync::grant`): waking it records that `release` handed over a permit, then wakes the
//! future's current waker. That keeps the semaphore's rule (a woken sleeper owns a permit; no
//! spurious wake-ups count) for futures, which may be polled at any time.
//!
//! Invariants (on top of `sema`'s):
//! - While `Queued`, the future's grant waker is in the queue, or `release` has dequeued it
//!   (and the permit is the future's, whether or not `granted` is set yet).
//! - A future dropped while `Queued` unlinks its entry, or, if it was dequeued already,
//!   passes the permit on with `release`, as a torn-down sleeper does.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::Sema;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::waiter::Waiter;
use crate::sync::grant::Grant;
use crate::sync::obj::lock_queue;

/// The future of [`Sema::acquire_async`].
pub(crate) struct Acquire<'a> {
    sema: &'a Sema,
    /// Queue at the head (a woken waiter that lost the race, as in Go's mutex).
    lifo: bool,
    reason: WaitReason,
    site: &'static Location<'static>,
    /// Set once queued (see the module invariants).
    queued: Option<(Arc<Grant>, Waker)>,
    done: bool,
}

impl Sema {
    /// Wait for a permit without blocking: the future resolves once it owns one. `lifo` as
    /// for `acquire`.
    pub(crate) fn acquire_async(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        lifo: bool,
    ) -> Acquire<'_> {
        Acquire {
            sema: self,
            lifo,
            reason,
            site,
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
            "goweave: semaphore future polled after it completed"
        );
        if let Some((grant, _)) = &this.queued {
            if !grant.poll(cx) {
                crate::task::awaiting(this.reason, this.site);
                return Poll::Pending;
            }
            this.queued = None;
            this.done = true;
            return Poll::Ready(());
        }
        let sema = this.sema;
        if sema.try_take() {
            this.done = true;
            return Poll::Ready(());
        }
        let mut q = lock_queue(&sema.queue);
        sema.nwait.fetch_add(1, Ordering::SeqCst);
        if sema.try_take() {
            sema.nwait.fetch_sub(1, Ordering::SeqCst);
            this.done = true;
            return Poll::Ready(());
        }
        let (grant, entry) = Grant::new(cx);
        if this.lifo {
            q.push_front(Waiter::Task(entry.clone()));
        } else {
            q.push_back(Waiter::Task(entry.clone()));
        }
        drop(q);
        this.queued = Some((grant, entry));
        crate::task::awaiting(this.reason, this.site);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some((grant, entry)) = self.queued.take() else {
            return;
        };
        let mut q = lock_queue(&self.sema.queue);
        let at = q.iter().position(|w| Grant::is_entry(w, &entry));
        if let Some(i) = at {
            q.remove(i);
            self.sema.nwait.fetch_sub(1, Ordering::SeqCst);
        } else {
            // Dequeued with a permit we will never use: pass it on.
            drop(q);
            drop(grant);
            self.sema.release();
        }
    }
}
