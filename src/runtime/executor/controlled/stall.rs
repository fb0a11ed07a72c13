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
//! - `since[g]` is not `NOT_WAITING` exactly while goroutine `g` waits: it is when it started to;
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

/// `since` of a goroutine that is blocked (or finished, or not created yet).
const NOT_WAITING: u64 = u64::MAX;
/// `since` of a goroutine that is runnable but polling.
const POLLING: u64 = u64::MAX - 1;

/// Virtual time in nanoseconds (saturating, at 584 years).
#[inline]
fn nanos(t: Duration) -> u64 {
    u64::try_from(t.as_nanos()).unwrap_or(POLLING - 1)
}

/// The waiting goroutines, by when they started to wait. (Times are kept as nanoseconds: this
/// is on the path of every scheduling point.)
pub(super) struct StallClock {
    /// By goroutine id: when it started to wait (ns), or `NOT_WAITING`, or `POLLING`.
    since: Vec<u64>,
    /// Goroutines whose `since` is `POLLING` (while there are none, a scheduling point that is
    /// not a yield has nothing to update).
    polling: u32,
    /// A timer has been armed in this run. Until then the clock stands at zero, so every
    /// waiting goroutine waits since zero: the waits are only counted from the first timer on
    /// (`activate`), and a run without timers pays only for its yields.
    active: bool,
    /// (when (ns), how many goroutines started to wait then), oldest first.
    waiting: VecDeque<(u64, u32)>,
    /// The largest stall time has caused so far in this run.
    pub(super) worst: Option<Stall>,
}

/// A clock's two buffers.
type Buffers = (Vec<u64>, VecDeque<(u64, u32)>);

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
            polling: 0,
            active: false,
            worst: None,
        }
    }

    /// Back to the state of [`new`](Self::new), keeping the buffers (a reused run state).
    pub(super) fn reset(&mut self) {
        self.since.clear();
        self.waiting.clear();
        self.polling = 0;
        self.active = false;
        self.worst = None;
    }

    /// A timer is armed at `now`: from now on waits count. `runnable` lists the goroutines that
    /// can run (those not polling wait from now).
    pub(super) fn activate(&mut self, runnable: &[u64], now: Duration) {
        if self.active {
            return;
        }
        self.active = true;
        for &g in runnable {
            if self.since.get(g as usize) != Some(&POLLING) {
                self.runnable(g, now);
            }
        }
    }

    /// Goroutine `g` became runnable at `now` (created or woken), or stopped polling: it waits
    /// from now.
    #[inline(always)]
    pub(super) fn runnable(&mut self, g: u64, now: Duration) {
        if !self.active && self.polling == 0 {
            // No timer and nobody polling (every run without timers or yields): there is
            // nothing to count, and this is on the path of every wake-up.
            return;
        }
        self.runnable_counted(g, now);
    }

    /// [`runnable`](Self::runnable) with something to count (out of line: the check above is
    /// all most wake-ups pay).
    #[inline(never)]
    fn runnable_counted(&mut self, g: u64, now: Duration) {
        let i = g as usize;
        if self.since.len() <= i {
            self.since.resize(i + 1, NOT_WAITING);
        }
        if self.since[i] == POLLING {
            self.polling -= 1;
            self.since[i] = NOT_WAITING;
        }
        if !self.active {
            return;
        }
        if self.since[i] == NOT_WAITING {
            let now = nanos(now);
            self.since[i] = now;
            match self.waiting.back_mut() {
                Some((t, n)) if *t == now => *n += 1,
                _ => self.waiting.push_back((now, 1)),
            }
        }
    }

    /// Goroutine `g` blocked or finished: it no longer waits.
    #[inline]
    pub(super) fn blocked(&mut self, g: u64) {
        if !self.active && self.polling == 0 {
            // As in `runnable`: `since` holds no wait and no poller to clear.
            return;
        }
        self.stop_waiting(g, NOT_WAITING);
    }

    /// Goroutine `g` no longer waits: it is now `state` (`NOT_WAITING` or `POLLING`).
    #[inline]
    fn stop_waiting(&mut self, g: u64, state: u64) {
        let i = g as usize;
        if self.since.len() <= i {
            self.since.resize(i + 1, NOT_WAITING);
        }
        let t = std::mem::replace(&mut self.since[i], state);
        if state == POLLING && t != POLLING {
            self.polling += 1;
        } else if state != POLLING && t == POLLING {
            self.polling -= 1;
        }
        if t >= POLLING {
            return;
        }
        match self.waiting.front_mut() {
            // Usually everything waits since the same time.
            Some((f, n)) if *f == t => *n -= 1,
            _ => {
                if let Ok(i) = self.waiting.binary_search_by_key(&t, |&(t, _)| t) {
                    self.waiting[i].1 -= 1;
                }
            }
        }
        while self.waiting.front().is_some_and(|&(_, n)| n == 0) {
            self.waiting.pop_front();
        }
    }

    /// Goroutine `g`, which is running, reached a scheduling point at `now`: a yield means it
    /// is polling (not waiting); anything else means it is working, and waits from now if it
    /// was polling.
    #[inline]
    pub(super) fn decided(&mut self, g: u64, yielded: bool, now: Duration) {
        if yielded {
            self.stop_waiting(g, POLLING);
        } else if self.polling > 0 && self.since.get(g as usize) == Some(&POLLING) {
            self.runnable(g, now);
        }
    }

    /// How long time passing to `deadline` stalls the goroutine that has waited longest (zero
    /// if none waits).
    #[inline]
    pub(super) fn stall_at(&self, deadline: Duration) -> Duration {
        self.waiting.front().map_or(Duration::ZERO, |&(t, _)| {
            Duration::from_nanos(nanos(deadline).saturating_sub(t))
        })
    }

    /// The goroutine among `ids` that has waited longest (the lowest id among equals).
    pub(super) fn longest_waiting(&self, ids: &[u64]) -> Option<u64> {
        let &(oldest, _) = self.waiting.front()?;
        ids.iter()
            .copied()
            .find(|&g| self.since.get(g as usize) == Some(&oldest))
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
    fn waits_count_from_the_first_timer_and_pollers_are_left_out() {
        let mut c = StallClock::new();
        for g in 1..=3 {
            c.runnable(g, Duration::ZERO);
        }
        c.decided(2, true, Duration::ZERO);
        c.blocked(3);
        c.activate(&[1, 2], Duration::ZERO);
        assert_eq!(c.stall_at(5 * MS), 5 * MS);
        assert_eq!(c.longest_waiting(&[1, 2]), Some(1));
        c.blocked(1);
        assert_eq!(c.stall_at(5 * MS), Duration::ZERO, "2 polls");
        c.decided(2, false, 2 * MS);
        assert_eq!(c.stall_at(5 * MS), 3 * MS);
        assert_eq!(c.polling, 0);
    }

    #[test]
    fn the_stall_is_measured_from_the_goroutine_that_waited_longest() {
        let mut c = StallClock::new();
        c.runnable(1, Duration::ZERO);
        assert_eq!(c.stall_at(10 * MS), Duration::ZERO, "no timer yet");
        c.activate(&[1], Duration::ZERO);
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
        assert_eq!(c.polling, 2);
        c.decided(2, false, 8 * MS);
        assert_eq!(c.stall_at(10 * MS), 2 * MS);
        c.decided(2, false, 9 * MS);
        assert_eq!(
            c.stall_at(10 * MS),
            2 * MS,
            "a working goroutine keeps waiting"
        );
        c.decided(3, true, 9 * MS);
        c.blocked(3);
        c.blocked(2);
        c.blocked(2);
        assert_eq!(c.stall_at(10 * MS), Duration::ZERO);
        assert!(c.waiting.is_empty());
        assert_eq!(c.polling, 0, "a poller that blocks no longer polls");
    }

    #[test]
    fn holes_in_the_middle_are_dropped_when_they_reach_the_front() {
        let mut c = StallClock::new();
        c.activate(&[], Duration::ZERO);
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
