//! What [`Checker::run_to_end`](crate::Checker::run_to_end) returns: an exploration that went
//! on past its failures, and every distinct failure it met.

use std::collections::BTreeSet;

use super::{Failure, FailureKind, Stats};

/// The result of [`Checker::run_to_end`](crate::Checker::run_to_end): what the exploration
/// did, and each distinct failure it found (a kind and a [`Failure::location`]), in the
/// order it first met them.
///
/// ```
/// use goweave::{Checker, FailureKind, StrategyKind};
///
/// let all = Checker::new()
///     .strategy(StrategyKind::Dfs { max_preemptions: None })
///     .iterations(u64::MAX)
///     .run_to_end(|| {
///         let flag = std::sync::Arc::new(goweave::sync::atomic::AtomicU64::new(0));
///         let f = flag.clone();
///         let h = goweave::go(move || f.store(1, goweave::sync::atomic::Ordering::SeqCst));
///         // Fails in the schedules where the child stored first, and the search goes on.
///         assert_eq!(flag.load(goweave::sync::atomic::Ordering::SeqCst), 0, "stored first");
///         h.join();
///     });
/// assert!(all.stats.exhausted);
/// assert_eq!(all.kinds().into_iter().collect::<Vec<_>>(), [FailureKind::Panic]);
/// assert!(all.first().unwrap().token().is_some());
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "an exploration's failures are in its `failures`"]
pub struct Exploration {
    /// The exploration, failing schedules included (`Stats::exhausted` says whether the
    /// strategy explored everything there was).
    pub stats: Stats,
    /// One report per distinct failure, in the order they were found; the first is the one
    /// [`Checker::run`](crate::Checker::run) would have returned.
    pub failures: Vec<Failure>,
}

impl Exploration {
    /// The first failure found, if any: what [`Checker::run`](crate::Checker::run) returns.
    pub fn first(&self) -> Option<&Failure> {
        self.failures.first()
    }

    /// The kinds of failure found (each once).
    pub fn kinds(&self) -> BTreeSet<FailureKind> {
        self.failures.iter().map(Failure::kind).collect()
    }

    /// `Ok(stats)` if nothing failed, else the first failure, as [`Checker::run`](crate::Checker::run)
    /// would have returned it.
    pub fn into_result(mut self) -> Result<Stats, Failure> {
        if self.failures.is_empty() {
            Ok(self.stats)
        } else {
            Err(self.failures.swap_remove(0))
        }
    }
}
