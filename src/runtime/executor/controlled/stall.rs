//! How long each runnable goroutine has waited to run, in virtual time: what
//! `TimerMode::MaxStall` bounds when time passes ahead of goroutines that could run, and the
//! stall a run assumed (see `explore`'s "Time as a choice").
//!
//! A goroutine *waits* from the virtual time it becomes runnable (it is created, woken, or it
//! reaches a scheduling point that is not a yield after polling) until it blocks, finishes or
//! polls (its scheduling point is a yield). Goroutine operations take no virtual time, so every
//! tick of the clock while a goroutine waits is time it was kept from running: time passing to
//! `deadline` stalls it for `deadline - since`.
//!
//! Invariants:
//! - `since[g]` is `Some(t)` exactly while goroutine `g` waits, `t` being when it started to;
//!   the executor calls [`runnable`](StallClock::runnable), [`blocked`](StallClock::blocked) and
//!   [`decided`](StallClock::decided) at the moments that change this.
//! - `waiting` counts the waiting goroutines by the time they started to wait: `(t, n)` with `t`
//!   strictly increasing, the sum of the `n` equal to the number of `Some` in `since`, and the
//!   front's `n` non-zero (entries further in may be zero until they reach the front). Times are
//!   only ever pushed at the back, because the clock never goes backwards, so every update is
//!   O(1) or a binary search, whatever the number of goroutines.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use crate::verdict::Stall;

/// The waiting goroutines, by when they started to wait.
pub(super) struct StallClock {
    /// By goroutine id: when it started to wait, if it is waiting.
    since: Vec<Option<Duration>>,
    /// (when, how many goroutines started to wait then), oldest first.
    waiting: VecDeque<(Duration, u32)>,
    /// The largest stall time has caused so far in this run.
    pub(super) worst: Option<Stall>,
}

/// A clock's two buffers.
type Buffers = (Vec<Option<Duration>>, VecDeque<(Duration, u32)>);

thread_local! {
    /// The buffers of the previous run on this thread, so that a schedule does not begin by
    /// allocating.
    static SPARE: RefCell<Buffers> = RefCell::default();
}

impl StallClock {
    /// An empty clock (reusing this thread's spare buffers).
    pub(super) fn new() -> StallClock {
        let (mut since, mut waiting) = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
        since.clear();
        waiting.clear();
        StallClock {
            since,
            waiting,
            worst: None,
        }
    }

    /// Goroutine `g` became runnable at `now` (created or woken): it waits from now.
    #[inline]
    pub(super) fn runnable(&mut self, g: u64, now: Duration) {
        let i = g as usize;
        if self.since.len() <= i {
            self.since.resize(i + 1, None);
        }
        if self.since[i].is_none() {
            self.since[i] = Some(now);
            match self.waiting.back_mut() {
                Some((t, n)) if *t == now => *n += 1,
                _ => self.waiting.push_back((now, 1)),
            }
        }
    }

    /// Goroutine `g` blocked, finished or started polling: it no longer waits.
    #[inline]
    pub(super) fn blocked(&mut self, g: u64) {
        let Some(t) = self.since.get_mut(g as usize).and_then(Option::take) else {
            return;
        };
        if let Ok(i) = self.waiting.binary_search_by_key(&t, |&(t, _)| t) {
            self.waiting[i].1 -= 1;
        }
        while self.waiting.front().is_some_and(|&(_, n)| n == 0) {
            self.waiting.pop_front();
        }
    }

    /// Goroutine `g` reached a scheduling point at `now`: a yield means it is polling (not
    /// waiting); anything else means it is working, and waits from now if it was polling.
    #[inline]
    pub(super) fn decided(&mut self, g: u64, yielded: bool, now: Duration) {
        if yielded {
            self.blocked(g);
        } else {
            self.runnable(g, now);
        }
    }

    /// How long time passing to `deadline` stalls the goroutine that has waited longest (zero
    /// if none waits).
    #[inline]
    pub(super) fn stall_at(&self, deadline: Duration) -> Duration {
        self.waiting
            .front()
            .map_or(Duration::ZERO, |&(t, _)| deadline.saturating_sub(t))
    }

    /// The goroutine among `ids` that has waited longest (the lowest id among equals).
    pub(super) fn longest_waiting(&self, ids: &[u64]) -> Option<u64> {
        let &(oldest, _) = self.waiting.front()?;
        ids.iter()
            .copied()
            .find(|&g| self.since.get(g as usize).copied().flatten() == Some(oldest))
    }
}

impl Drop for StallClock {
    fn drop(&mut self) {
        let since = std::mem::take(&mut self.since);
        let waiting = std::mem::take(&mut self.waiting);
        // At thread exit the spare may be gone already; then the buffers are simply freed.
        let _ = SPARE.try_with(|s| *s.borrow_mut() = (since, waiting));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_stall_is_measured_from_the_goroutine_that_waited_longest() {
        let mut c = StallClock::new();
        assert_eq!(c.stall_at(10 * MS), Duration::ZERO, "nobody waits");
        c.runnable(1, Duration::ZERO);
        c.runnable(2, 5 * MS);
        c.runnable(3, 5 * MS);
        assert_eq!(c.stall_at(10 * MS), 10 * MS);
        assert_eq!(c.longest_waiting(&[1, 2, 3]), Some(1));
        // Becoming runnable again while already waiting changes nothing.
        c.runnable(1, 7 * MS);
        assert_eq!(c.stall_at(10 * MS), 10 * MS);
        c.blocked(1);
        assert_eq!(c.stall_at(10 * MS), 5 * MS);
        assert_eq!(c.longest_waiting(&[2, 3]), Some(2));
        // Polling is not waiting; working again after polling waits from then.
        c.decided(2, true, 6 * MS);
        assert_eq!(c.stall_at(10 * MS), 5 * MS, "3 still waits since 5ms");
        c.decided(3, true, 6 * MS);
        assert_eq!(c.stall_at(10 * MS), Duration::ZERO, "both poll");
        c.decided(2, false, 8 * MS);
        assert_eq!(c.stall_at(10 * MS), 2 * MS);
        c.decided(2, false, 9 * MS);
        assert_eq!(
            c.stall_at(10 * MS),
            2 * MS,
            "a working goroutine keeps waiting"
        );
        c.blocked(2);
        c.blocked(2);
        assert_eq!(c.stall_at(10 * MS), Duration::ZERO);
        assert!(c.waiting.is_empty());
    }

    #[test]
    fn holes_in_the_middle_are_dropped_when_they_reach_the_front() {
        let mut c = StallClock::new();
        for g in 1..=4u64 {
            c.runnable(g, g as u32 * MS);
        }
        c.blocked(2);
        c.blocked(3);
        assert_eq!(c.stall_at(10 * MS), 9 * MS);
        c.blocked(1);
        assert_eq!(c.stall_at(10 * MS), 6 * MS, "4 waits since 4ms");
        assert_eq!(c.waiting.len(), 1);
    }
}
