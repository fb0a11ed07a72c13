//! A timer heap shared by both executors: the work-stealing executor drives it from the real
//! clock, the controlled executor from its virtual clock.
//!
//! Timers with equal deadlines fire in the order they were added (their sequence number), so the
//! order is deterministic. Cancelling removes the callback; the heap entry is skipped lazily.
//!
//! A deadline at the end of the clock ([`NEVER`], where every deadline computation saturates:
//! `now + Duration::MAX`) is "never", as Go's clamped timers are: such a timer stays armed (it
//! can be cancelled, and cancelling reports it as pending) but is never due and is not a
//! pending deadline, so neither executor's clock waits for it. A goroutine sleeping for
//! `Duration::MAX` with nothing else to wake it is therefore reported as deadlocked, rather than
//! the controlled executor's virtual clock jumping to the end of time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

/// What a timer does when it fires. It runs on a scheduler stack (a worker's, or the controlled
/// executor's), never inside a goroutine, so it must not block.
pub(crate) type TimerFn = Box<dyn FnOnce() + Send>;

/// Identity of an armed timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimerId(pub(crate) u64);

/// The deadline that never comes: the end of the executor's clock.
pub(crate) const NEVER: Duration = Duration::MAX;

/// Deadlines are durations since the executor's epoch.
#[derive(Default)]
pub(crate) struct TimerHeap {
    /// (deadline, sequence) of every armed timer, possibly with cancelled leftovers.
    heap: BinaryHeap<Reverse<(Duration, u64)>>,
    /// Callbacks of the timers still armed, by sequence number.
    armed: BTreeMap<u64, TimerFn>,
    /// Next sequence number.
    next: u64,
}

impl TimerHeap {
    /// Arm a timer. Arming happens before the callback runs, for the race detector (Go's
    /// `racerelease` in `modtimer`): the callback starts from the arming goroutine's clock.
    pub(crate) fn add(&mut self, deadline: Duration, f: TimerFn) -> TimerId {
        let seq = self.next;
        self.next += 1;
        if deadline < NEVER {
            self.heap.push(Reverse((deadline, seq)));
        }
        self.armed.insert(seq, super::hb::timer(f));
        TimerId(seq)
    }

    /// True if the timer was still armed (it will now never fire).
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        self.armed.remove(&id.0).is_some()
    }

    /// True if no timer was ever armed here: the heap is as `default()` made it.
    pub(crate) fn never_armed(&self) -> bool {
        self.next == 0
    }

    /// True if no deadline is in the heap, so [`next_deadline`](Self::next_deadline) is
    /// `None` (without looking for cancelled leftovers).
    #[inline]
    pub(crate) fn none_pending(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest deadline of an armed timer.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        while let Some(Reverse((d, seq))) = self.heap.peek().copied() {
            if self.armed.contains_key(&seq) {
                return Some(d);
            }
            self.heap.pop();
        }
        None
    }

    /// Remove and return every armed timer due at `now`, earliest first.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Vec<TimerFn> {
        let mut due = Vec::new();
        while let Some(Reverse((d, seq))) = self.heap.peek().copied() {
            if d > now {
                break;
            }
            self.heap.pop();
            if let Some(f) = self.armed.remove(&seq) {
                due.push(f);
            }
        }
        due
    }

    /// Number of armed timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.armed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn fires_in_deadline_then_insertion_order_and_skips_cancelled() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut h = TimerHeap::default();
        let mk = |n: u32| {
            let log = log.clone();
            Box::new(move || log.lock().unwrap().push(n)) as TimerFn
        };
        h.add(Duration::from_secs(2), mk(1));
        let c = h.add(Duration::from_secs(1), mk(2));
        h.add(Duration::from_secs(1), mk(3));
        h.add(Duration::from_secs(1), mk(4));
        assert!(h.cancel(c));
        assert!(!h.cancel(c));
        assert_eq!(h.next_deadline(), Some(Duration::from_secs(1)));
        for f in h.pop_due(Duration::from_secs(1)) {
            f();
        }
        assert_eq!(*log.lock().unwrap(), vec![3, 4]);
        assert_eq!(h.len(), 1);
        assert_eq!(h.next_deadline(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_timer_at_the_end_of_the_clock_never_comes_due_but_can_be_cancelled() {
        let mut h = TimerHeap::default();
        let never = h.add(NEVER, Box::new(|| panic!("fired at the end of time")));
        assert_eq!(h.next_deadline(), None);
        assert!(h.pop_due(NEVER).is_empty());
        assert_eq!(h.len(), 1);
        assert!(h.cancel(never));
        assert_eq!(h.len(), 0);
    }
}
