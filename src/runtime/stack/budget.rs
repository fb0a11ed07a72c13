//! The kernel's mapping budget under `mprotect` guard pages.
//!
//! With `mprotect` guards (the fallback before Linux 6.13, or `GOWEAVE_STACK_GUARD=mprotect`),
//! every stack splits its slab and costs two kernel mappings, so a program with many
//! goroutines can use up `vm.max_map_count`. If stacks took the last mappings, the next thing
//! to fail would be the allocator (glibc maps memory for large blocks and new arenas) or a new
//! thread, and Rust aborts with a bare `memory allocation of N bytes failed` before goweave
//! could say anything. So goweave stops creating stacks while a reserve of mappings is still
//! free, and says why, naming the sysctl.
//!
//! Counting the process's mappings means reading `/proc/self/maps`, which is too slow for every
//! stack. Invariant: `allowance` guards may be installed before the next count, and it is at
//! most a quarter of the mappings that were free above the reserve at the last count; each
//! guard costs at most two mappings, which leaves half of that margin for whatever the rest of
//! the process maps meanwhile.

use std::sync::{Mutex, OnceLock};

use super::{count_mappings, read_proc_number, StackError};

/// Lowers the budget goweave assumes below the kernel's `vm.max_map_count` (never raises it):
/// for tests of this path that must not exhaust the real budget, and for a process that wants
/// to keep more mappings for itself.
const ENV_MAX_MAP_COUNT: &str = "GOWEAVE_MAX_MAP_COUNT";

/// The `GOWEAVE_MAX_MAP_COUNT` value, read once.
fn lowered_max() -> Option<usize> {
    static LOWERED: OnceLock<Option<usize>> = OnceLock::new();
    *LOWERED.get_or_init(|| {
        let v = std::env::var(ENV_MAX_MAP_COUNT).ok()?;
        Some(v.trim().parse().unwrap_or_else(|_| {
            panic!(
                "goweave: invalid {ENV_MAX_MAP_COUNT}={v:?}: expected a whole number of mappings"
            )
        }))
    })
}

/// Guards that may be installed before the mappings are counted again (see the invariant).
static ALLOWANCE: Mutex<usize> = Mutex::new(0);

/// Mappings kept free for the rest of the process, out of a budget of `max`: 1/32 of it, at
/// least 512 (threads cost two each, glibc arenas one or two, large allocations one) and at
/// most 16,384.
pub(super) fn reserve(max: usize) -> usize {
    (max / 32).clamp(512, 16_384)
}

/// Called before an `mprotect` guard is installed: an error once installing it would leave
/// fewer than the reserve of mappings free.
pub(super) fn before_mprotect_guard() -> Result<(), StackError> {
    let mut allowance = ALLOWANCE.lock().unwrap_or_else(|p| p.into_inner());
    if *allowance > 0 {
        *allowance -= 1;
        return Ok(());
    }
    let kernel = read_proc_number("/proc/sys/vm/max_map_count")
        .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    let lowered = lowered_max();
    let max = match (kernel, lowered) {
        (Some(k), Some(l)) => Some(k.min(l)),
        (k, l) => k.or(l),
    };
    let (Some(max), Some(in_use)) = (max, count_mappings()) else {
        // Nothing to count with (no /proc): the kernel's own refusal is still diagnosed.
        *allowance = 1024;
        return Ok(());
    };
    let keep = reserve(max);
    let free = max.saturating_sub(in_use);
    // Two mappings for this guard, and the reserve after it.
    if free < keep + 2 {
        let op = if lowered == Some(max) {
            "mprotect; the budget is lowered by GOWEAVE_MAX_MAP_COUNT"
        } else {
            "mprotect"
        };
        return Err(StackError::map_budget(op, in_use, max, keep));
    }
    *allowance = (free - keep - 2) / 4;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_scales_with_the_budget_within_bounds() {
        assert_eq!(reserve(65_530), 2_047);
        assert_eq!(reserve(1_000), 512);
        assert_eq!(reserve(10_000_000), 16_384);
    }

    #[test]
    fn the_error_says_what_is_kept_and_names_the_sysctl() {
        let s = StackError::map_budget("mprotect", 63_483, 65_530, 2_047).to_string();
        assert!(s.contains("mapping budget is exhausted"), "{s}");
        assert!(s.contains("vm.max_map_count = 65530"), "{s}");
        assert!(s.contains("63483 mappings in use"), "{s}");
        assert!(s.contains("keeps the last 2047"), "{s}");
        assert!(s.contains("sysctl -w vm.max_map_count="), "{s}");
    }
}
