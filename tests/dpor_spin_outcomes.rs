//! Peterson's algorithm with a count of spin iterations per goroutine: the program is
//! symmetric (goroutine 0 and 1 swap roles with their flags, and `turn`'s values with them),
//! so every pair of counts `[a, b]` that some schedule reaches, `[b, a]` is reached too.
//!
//! The plain search over every interleaving reaches 32 pairs (5,161,372 schedules, release
//! build; too slow for the suite). The parts of a 2-way split reach the same 32 (each part
//! alone does). The single DPOR search once reached 24 of them (585 schedules): it missed
//! `[2, 4]`, `[2, 5]`, `[3, 4]`, `[4, 0]`, `[5, 0]`, `[5, 1]`, `[5, 2]` and `[6, 1]`, though
//! it reached every mirror image of them. The cause ("Yields" in `explore::dpor`'s docs):
//! after a spin, the reduction offered the other goroutines that could let the spinner on
//! only when the spinner's very next step conflicted with the one that did; that step only
//! returns from `gosched`, and the re-read of the flag comes after it. Now every step of the
//! spinner up to its next yield counts, and the single search reaches the 32 pairs (1,128
//! schedules); `tests/dpor_polling.rs` has the gap shrunk to one spinner.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use goweave::explore::Dpor;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::{go, Checker, StrategyKind};

type Outcomes = Arc<StdMutex<BTreeSet<(u64, u64)>>>;

fn peterson(out: Outcomes) -> impl Fn() + Send + Sync + 'static {
    move || {
        let flag = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let turn = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..2usize)
            .map(|me| {
                let (flag, turn) = (flag.clone(), turn.clone());
                go(move || {
                    let other = 1 - me;
                    flag[me].store(1, SeqCst);
                    turn.store(other as u64, SeqCst);
                    let mut spins = 0;
                    while flag[other].load(SeqCst) == 1 && turn.load(SeqCst) == other as u64 {
                        spins += 1;
                        goweave::runtime::gosched();
                    }
                    flag[me].store(0, SeqCst);
                    spins
                })
            })
            .collect();
        let s: Vec<u64> = hs.into_iter().map(|h| h.join()).collect();
        out.lock().unwrap().insert((s[0], s[1]));
    }
}

fn reached(c: Checker) -> BTreeSet<(u64, u64)> {
    let out = Outcomes::default();
    let stats = c
        .iterations(u64::MAX)
        .shrink_budget(Duration::ZERO)
        .run(peterson(out.clone()))
        .unwrap();
    assert!(stats.exhausted);
    let o = out.lock().unwrap().clone();
    o
}

fn mirrors_missing(o: &BTreeSet<(u64, u64)>) -> Vec<(u64, u64)> {
    o.iter()
        .map(|&(a, b)| (b, a))
        .filter(|m| !o.contains(m))
        .collect()
}

#[test]
fn the_parts_of_a_split_reach_every_mirror_image() {
    let mut parts = BTreeSet::new();
    for i in 0..2 {
        parts.extend(reached(Checker::new().custom_strategy(Dpor::split(i, 2))));
    }
    assert_eq!(mirrors_missing(&parts), [], "{parts:?}");
    assert_eq!(parts.len(), 32, "{parts:?}");
    let single = reached(Checker::new().strategy(StrategyKind::Dfs {
        max_preemptions: None,
    }));
    assert!(single.is_subset(&parts), "{single:?}");
}

#[test]
fn the_single_search_reaches_every_mirror_image() {
    let single = reached(Checker::new().strategy(StrategyKind::Dfs {
        max_preemptions: None,
    }));
    assert_eq!(mirrors_missing(&single), [], "{single:?}");
    assert_eq!(single.len(), 32, "{single:?}");
}
