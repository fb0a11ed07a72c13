//! `RoundRobin`: run the current goroutine until it blocks or yields, then the next by id.

use super::{Decision, Strategy, ValueDecision};

/// Deterministic round robin: keeps the current goroutine while it can run and has not
/// yielded, otherwise moves to the next id after it (wrapping). Where a timer is pending, time
/// passes once per round, when the turn wraps past the highest id. Data choices take case 0.
#[derive(Default)]
pub struct RoundRobin {
    last: u64,
}

impl RoundRobin {
    /// A round-robin scheduler.
    pub fn new() -> RoundRobin {
        RoundRobin::default()
    }
}

impl Strategy for RoundRobin {
    fn begin(&mut self, _iteration: u64) -> bool {
        self.last = 0;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        if let Some(cur) = d.current {
            if !d.yielded {
                if let Ok(i) = d.runnable.binary_search(&cur) {
                    self.last = cur;
                    return i;
                }
            }
            self.last = cur;
        }
        let i = d.runnable.partition_point(|&id| id <= self.last);
        if let (true, Some(t)) = (i == d.runnable.len(), d.time_index()) {
            self.last = 0;
            return t;
        }
        let i = i % d.runnable.len();
        self.last = d.runnable[i];
        i
    }

    fn pick_value(&mut self, _d: &ValueDecision) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "round_robin".into()
    }
}
