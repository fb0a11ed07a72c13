//! Parts of a test's schedules, explored separately (shards, jobs), and what exploring one found.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::check::Failure;

/// Which schedules of a test one exploration runs: schedule `k` (from 0) belongs to it when
/// `k % stride == offset`.
#[derive(Clone, Debug)]
pub struct Part {
    /// The first schedule of the part.
    pub offset: u64,
    /// The distance between its schedules.
    pub stride: u64,
    /// Schedules at or after this index are skipped (shared between parts that search for the
    /// first failure together).
    pub stop: Option<Arc<AtomicU64>>,
    /// Incremented at the start of every schedule (for progress lines).
    pub progress: Option<Arc<AtomicU64>>,
    /// An exhaustive search's estimate of the fraction of it done (the bits of an `f64`),
    /// updated at the start of every schedule (for progress lines).
    pub estimate: Option<Arc<AtomicU64>>,
}

impl Part {
    /// Every schedule.
    pub fn whole() -> Part {
        Part {
            offset: 0,
            stride: 1,
            stop: None,
            progress: None,
            estimate: None,
        }
    }

    /// Part `index` (from 0) of `count` parts.
    pub fn nth(index: u64, count: u64) -> Part {
        assert!(count >= 1 && index < count, "part {index} of {count}");
        Part {
            offset: index,
            stride: count,
            stop: None,
            progress: None,
            estimate: None,
        }
    }

    /// The number of schedules of `0..total` in this part.
    pub fn count(&self, total: u64) -> u64 {
        if self.offset >= total {
            0
        } else {
            (total - self.offset - 1) / self.stride + 1
        }
    }
}

/// What exploring (a part of) a test found.
#[derive(Clone, Debug)]
pub struct Exploration {
    /// Schedules run.
    pub schedules: u64,
    /// Scheduling points passed (known when no failure was found).
    pub steps: Option<u64>,
    /// Wall time.
    pub elapsed: Duration,
    /// The first failure, with the index of its schedule in the whole run.
    pub failure: Option<(u64, Failure)>,
    /// With `all_failures`: each distinct failure found after the first, with the index of
    /// its schedule in the whole run, in the order they were found.
    pub later: Vec<(u64, Failure)>,
    /// If an exhaustive strategy explored every schedule it had: its name (`dpor`, `dfs`).
    pub exhausted: Option<String>,
    /// Runs not counted in `schedules` ([`Stats::wasted`](crate::Stats::wasted)): sleep-set
    /// blocked runs, and the runs a part of a split exhaustive search makes to reach its own
    /// subtrees.
    pub wasted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_count_and_partition() {
        for total in 0..20 {
            for n in 1..5 {
                let sum: u64 = (0..n).map(|i| Part::nth(i, n).count(total)).sum();
                assert_eq!(sum, total, "total {total}, {n} parts");
            }
        }
    }
}
