//! The shard adaptor: one strategy's run dealt out to several explorers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Decision, Observation, Strategy, ValueDecision};

/// Restricts a strategy to every `stride`th schedule from `offset` (schedule `i` of the shard is
/// schedule `offset + i * stride` of the whole run), and stops at a shared bound: how the
/// harness's `--shard i/n` and `--jobs N` deal one run out to several processes or threads.
pub struct Shard {
    inner: Box<dyn Strategy>,
    offset: u64,
    stride: u64,
    stop: Option<Arc<AtomicU64>>,
    /// Schedules begun by this part (a wasted run is taken back at its end: it is not a
    /// schedule, see [`Strategy::wasted`]).
    begun: Arc<AtomicU64>,
    progress: Option<Arc<AtomicU64>>,
    /// Where to publish the inner strategy's [`Strategy::explored`] (as `f64` bits).
    estimate: Option<Arc<AtomicU64>>,
}

impl Shard {
    /// Schedules `offset`, `offset + stride`, ... of `inner`.
    pub fn new(inner: Box<dyn Strategy>, offset: u64, stride: u64) -> Shard {
        Shard {
            inner,
            offset,
            stride: stride.max(1),
            stop: None,
            begun: Arc::new(AtomicU64::new(0)),
            progress: None,
            estimate: None,
        }
    }

    /// Begin no schedule whose index in the whole run is at or past `stop` (shared by shards
    /// that search for the first failure together).
    pub fn stop_at(mut self, stop: Option<Arc<AtomicU64>>) -> Shard {
        self.stop = stop;
        self
    }

    /// Count every schedule begun into `progress` too (for progress lines).
    pub fn progress(mut self, progress: Option<Arc<AtomicU64>>) -> Shard {
        self.progress = progress;
        self
    }

    /// Publish the inner strategy's estimate of the search done ([`Strategy::explored`], as
    /// the bits of an `f64`) into `estimate` at every schedule begun (for progress lines).
    pub fn estimate(mut self, estimate: Option<Arc<AtomicU64>>) -> Shard {
        self.estimate = estimate;
        self
    }

    /// How many schedules this shard has begun, shared.
    pub fn begun(&self) -> Arc<AtomicU64> {
        self.begun.clone()
    }
}

impl Strategy for Shard {
    fn begin(&mut self, i: u64) -> bool {
        let k = self.offset + i * self.stride;
        if self
            .stop
            .as_ref()
            .is_some_and(|s| k >= s.load(Ordering::Relaxed))
        {
            return false;
        }
        if !self.inner.begin(k) {
            return false;
        }
        self.begun.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
        if let (Some(e), Some(f)) = (&self.estimate, self.inner.explored()) {
            e.store(f.to_bits(), Ordering::Relaxed);
        }
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.inner.pick_goroutine(d)
    }

    fn picks_by_count(&self) -> bool {
        self.inner.picks_by_count()
    }

    fn pick_by_count(&mut self, options: usize) -> usize {
        self.inner.pick_by_count(options)
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.inner.pick_value(d)
    }

    fn end(&mut self) {
        self.inner.end();
        if self.inner.wasted() {
            // Counted as begun so that a run in progress shows; it explored nothing new, and
            // the checker does not count it either (`Stats::wasted`).
            self.begun.fetch_sub(1, Ordering::Relaxed);
            if let Some(p) = &self.progress {
                p.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn wants_trace(&self) -> bool {
        self.inner.wants_trace()
    }

    fn observe(&mut self, run: &Observation<'_>) {
        self.inner.observe(run)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn wants_notes(&self) -> bool {
        self.inner.wants_notes()
    }

    fn note(&mut self, n: super::Note) {
        self.inner.note(n)
    }

    fn explored(&self) -> Option<f64> {
        self.inner.explored()
    }

    fn wasted(&self) -> bool {
        self.inner.wasted()
    }

    fn runs_past_races(&self) -> bool {
        self.inner.runs_past_races()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Dpor;
    use crate::sync::Mutex;
    use crate::Checker;

    #[test]
    fn wasted_runs_are_not_counted_as_begun_schedules() {
        // Part 1 of 2 of a split exhaustive search: the runs that only reach the other part's
        // subtrees are wasted.
        let progress = Arc::new(AtomicU64::new(0));
        let shard = Shard::new(Box::new(Dpor::split(1, 2)), 0, 1).progress(Some(progress.clone()));
        let begun = shard.begun();
        let stats = Checker::new()
            .custom_strategy(shard)
            .iterations(u64::MAX)
            .run(|| {
                let m = std::sync::Arc::new(Mutex::new(0));
                let hs: Vec<_> = (0..3)
                    .map(|_| {
                        let m = m.clone();
                        crate::go(move || *m.lock() += 1)
                    })
                    .collect();
                for h in hs {
                    h.join();
                }
            })
            .unwrap();
        assert!(stats.exhausted);
        assert!(stats.wasted > 0, "the split wastes runs here: {stats}");
        assert_eq!(begun.load(Ordering::Relaxed), stats.schedules);
        assert_eq!(progress.load(Ordering::Relaxed), stats.schedules);
    }
}
