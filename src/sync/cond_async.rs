//! [`Cond::wait_async`]: `Cond::wait` awaited, on the same ticketed notify list (a child
//! module of `cond`, for its private list). The future's entry in the list holds its waker;
//! whether it was signalled is the ticket rule itself (`ticket < notify`, read under the list's
//! lock), so a poll for any other reason just re-checks it.
//!
//! Invariant: while waiting, the future's ticket is in `sleepers` with its latest waker, or
//! was notified (and removed by `signal`/`broadcast`). Dropped while waiting, it removes its
//! entry; a signal that had already picked its ticket is spent on it (as for a goroutine torn
//! down while waiting).

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Cond;
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::waiter::Waiter;
use crate::sync::obj::{lock_queue, watched};
use crate::sync::{Mutex, OwnedMutexGuard};

/// Waits until a ticket of a `Cond` is notified.
struct Notified<'a> {
    cond: &'a Cond,
    ticket: u64,
    site: &'static Location<'static>,
    /// The entry is in `sleepers`.
    queued: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut l = lock_queue(&this.cond.list);
        if this.ticket < l.notify {
            // Signalled (the signaller removed the entry), or between the unlock and now.
            this.queued = false;
            return Poll::Ready(());
        }
        let w = Waiter::Task(cx.waker().clone());
        match l.sleepers.iter_mut().find(|(t, _)| *t == this.ticket) {
            Some(entry) => entry.1 = w,
            None => l.sleepers.push_back((this.ticket, w)),
        }
        this.queued = true;
        drop(l);
        crate::task::awaiting(WaitReason::CondWait, this.site);
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.queued {
            let t = self.ticket;
            lock_queue(&self.cond.list)
                .sleepers
                .retain(|(s, _)| *s != t);
        }
    }
}

impl Cond {
    /// [`wait`](Cond::wait) as a future, for tasks (`goweave::task`) and any other executor,
    /// with the sendable guard of [`Mutex::lock_owned_async`]: unlock, wait (wait reason
    /// `sync.Cond.Wait`) until signalled, lock again. As with `wait`, check the condition in a
    /// loop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goweave::sync::{Cond, Mutex};
    /// goweave::run(|| {
    ///     let s = Arc::new((Arc::new(Mutex::new(false)), Cond::new()));
    ///     let s2 = s.clone();
    ///     let waiter = goweave::task::spawn(async move {
    ///         let (m, c) = &*s2;
    ///         let mut ready = m.lock_owned_async().await;
    ///         while !*ready {
    ///             ready = c.wait_async(ready).await;
    ///         }
    ///     });
    ///     *s.0.lock() = true;
    ///     s.1.signal();
    ///     waiter.join();
    /// });
    /// ```
    #[track_caller]
    pub fn wait_async<T>(
        &self,
        guard: OwnedMutexGuard<T>,
    ) -> impl Future<Output = OwnedMutexGuard<T>> + Send + '_
    where
        T: Send + 'static,
    {
        let site = Location::caller();
        async move {
            let controlled = self.obj.point(Op::Cond, site);
            let ticket = {
                let mut l = lock_queue(&self.list);
                l.wait += 1;
                l.wait - 1
            };
            let mutex: Arc<Mutex<T>> = OwnedMutexGuard::mutex(&guard).clone();
            drop(guard);
            Notified {
                cond: self,
                ticket,
                site,
                queued: false,
            }
            .await;
            if watched(controlled) {
                hb::acquire(self.obj.key());
            }
            mutex.lock_owned_async().await
        }
    }
}
