//! [`Sema::release_handoff`]: a release for callers on the controlled executor, with three
//! fewer atomic read-modify-writes when a sleeper is queued (a child module of `sema`, for its
//! private fields).
//!
//! `release` banks the permit first (`count += 1`) and takes it back under the queue lock to
//! hand it over (`count -= 1`), so that an acquirer between registering and queueing cannot
//! miss it; it also decrements `nwait` with a read-modify-write. Two facts make the shorter
//! path sound for any interleaving, not only the controlled executor's one thread:
//! - Every write of `nwait` (acquire, the async acquire, both unlink paths, release) happens
//!   under the queue lock, and an acquirer holds that lock from its increment until it is
//!   queued or leaves: so under the lock `nwait == queue.len()`, and a decrement under the
//!   lock may be a plain store.
//! - A permit handed straight to a queued sleeper is never banked, so no acquirer can miss it.
//!   Only the path that banks it keeps `release`'s order (count, then `nwait`), which is what
//!   the acquirer's re-check relies on.
//!
//! What differs from `release` is only which of two racing goroutines gets the permit when a
//! running acquirer (on another thread) tries to take it while a sleeper is queued: `release`
//! lets the runner win, this gives it to the sleeper. On the controlled executor nothing runs
//! between the two steps, so the outcome, the waiter choice and the wake-up are the same as
//! `release`'s, at the same moment.

use std::sync::atomic::Ordering;

use super::Sema;
use crate::runtime::waiter;
use crate::sync::obj::lock_queue;

impl Sema {
    /// [`release`](Sema::release), handing the permit straight to a queued sleeper (see the
    /// module docs). Same sleeper (the head, or the strategy's choice), same wake-up.
    pub(crate) fn release_handoff(&self) {
        if self.nwait.load(Ordering::SeqCst) == 0 {
            // Nobody waits: bank it, in `release`'s order.
            self.count.fetch_add(1, Ordering::SeqCst);
            if self.nwait.load(Ordering::SeqCst) == 0 {
                return;
            }
            return self.hand_banked();
        }
        let mut q = lock_queue(&self.queue);
        if q.is_empty() {
            // Under the lock `nwait` is the queue's length: every acquirer that counted itself
            // has left. Banked while holding the lock, so any later acquirer sees it.
            self.count.fetch_add(1, Ordering::SeqCst);
            return;
        }
        // (The length test first: `pick` would compute it from the ring buffer's two halves.)
        let i = if self.choose && q.len() >= 2 {
            waiter::pick(q.iter(), crate::sync::grant::owner)
        } else {
            0
        };
        let w = if i == 0 { q.pop_front() } else { q.remove(i) }.expect("a queued sleeper");
        // Every write of `nwait` holds the lock (module docs): no update can be lost.
        let n = self.nwait.load(Ordering::Relaxed);
        self.nwait.store(n - 1, Ordering::Release);
        drop(q);
        w.wake();
    }

    /// The rest of `release` once the permit is banked and a sleeper may be queued: take the
    /// permit back to hand it over, unless a running acquirer took it first.
    #[cold]
    fn hand_banked(&self) {
        let mut q = lock_queue(&self.queue);
        if q.is_empty() || !self.try_take() {
            return;
        }
        let i = if self.choose {
            waiter::pick(q.iter(), crate::sync::grant::owner)
        } else {
            0
        };
        let w = if i == 0 { q.pop_front() } else { q.remove(i) }.expect("a queued sleeper");
        let n = self.nwait.load(Ordering::Relaxed);
        self.nwait.store(n - 1, Ordering::Release);
        drop(q);
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    use super::Sema;
    use crate::runtime::goroutine::WaitReason;

    /// Spin (with short sleeps) until `f` holds; fails the test after 10 s.
    fn wait_until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("timed out waiting for {what}");
    }

    #[test]
    fn with_nobody_waiting_the_permit_is_banked() {
        let s = Sema::new();
        s.release_handoff();
        assert_eq!(s.count.load(Ordering::SeqCst), 1);
        assert!(s.try_take(), "the banked permit is there to take");
        assert!(!s.try_take(), "and only one");
    }

    #[test]
    fn a_queued_sleeper_gets_the_permit_without_banking_it() {
        let s = Arc::new(Sema::new());
        let sleeper = {
            let s = s.clone();
            std::thread::spawn(move || {
                s.acquire(
                    WaitReason::MutexLock,
                    std::panic::Location::caller(),
                    false,
                    None,
                )
            })
        };
        wait_until("the sleeper to queue", || {
            s.nwait.load(Ordering::SeqCst) == 1
                && !crate::sync::obj::lock_queue(&s.queue).is_empty()
        });
        s.release_handoff();
        sleeper.join().expect("the sleeper returns with the permit");
        assert_eq!(
            s.nwait.load(Ordering::SeqCst),
            0,
            "the sleeper is counted out"
        );
        assert_eq!(
            s.count.load(Ordering::SeqCst),
            0,
            "the permit went to the sleeper"
        );
        assert!(crate::sync::obj::lock_queue(&s.queue).is_empty());
    }

    #[test]
    fn sleepers_are_woken_in_order_one_per_release() {
        let s = Arc::new(Sema::new());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..3 {
            let (s2, order) = (s.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                s2.acquire(
                    WaitReason::MutexLock,
                    std::panic::Location::caller(),
                    false,
                    None,
                );
                order.lock().unwrap().push(i);
            }));
            // Queued one at a time, so the queue order is 0, 1, 2.
            wait_until("the next sleeper to queue", || {
                s.nwait.load(Ordering::SeqCst) == i + 1
            });
        }
        for woken in 1..=3 {
            s.release_handoff();
            wait_until("one more sleeper to run", || {
                order.lock().unwrap().len() == woken
            });
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2], "FIFO, as `release`");
        assert_eq!(s.count.load(Ordering::SeqCst), 0);
    }
}
