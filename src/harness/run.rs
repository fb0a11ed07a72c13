//! Exploring a test (or a part of it), and judging what was found.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ConcTest, ConfigError, Exploration, Layer, Part, TestConfig};
use crate::check::Checker;
use crate::explore::{Dpor, Shard, StrategyKind};

/// Explore the schedules of `part` of a test whose body is `body`, configured by `cfg`.
/// `name` is the test's libtest name (for the replay line). A part that a non-splittable
/// strategy cannot serve (see [`TestConfig::splittable`]) runs everything if its offset is 0 and
/// nothing otherwise.
pub fn explore(
    body: fn(),
    cfg: &TestConfig,
    part: &Part,
    name: &str,
) -> Result<Exploration, ConfigError> {
    let strategy = &cfg.strategy;
    // A fuzzing campaign learns from its own past, so its schedules cannot be dealt out by
    // index: each part runs its share of the schedules as a campaign of its own, with its own
    // seed, and parts that name a corpus directory share it (one subdirectory per test), so
    // that their corpora merge.
    let fuzz = matches!(strategy, StrategyKind::Fuzz { .. });
    let fuzz_seed = cfg
        .seed
        .wrapping_add(part.offset.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let per_test;
    let strategy = match strategy {
        StrategyKind::Fuzz { corpus: Some(root) } => {
            per_test = StrategyKind::Fuzz {
                corpus: Some(root.join(corpus_dir_name(name))),
            };
            &per_test
        }
        s => s,
    };
    if let (Some(n), true) = (cfg.settings.stress, cfg.stressed()) {
        let all = cfg.settings.all_failures == Some(true);
        return Ok(stress(body, n, part, name, all));
    }
    let (offset, stride) = if cfg.splittable() || fuzz {
        (part.offset, part.stride)
    } else if part.offset == 0 {
        (0, 1)
    } else {
        return Ok(Exploration {
            schedules: 0,
            steps: Some(0),
            elapsed: Duration::ZERO,
            failure: None,
            later: Vec::new(),
            exhausted: None,
            wasted: 0,
        });
    };
    let mine = Part {
        offset,
        stride,
        stop: None,
        progress: None,
        estimate: None,
    };
    let mut begun = Arc::new(AtomicU64::new(0));
    let mut checker = Checker::new().apply(&cfg.settings).test_name(name);
    checker = if let StrategyKind::Replay(_) = strategy {
        // The checker's own replay checks that the program still matches the token.
        checker.strategy(strategy.clone()).iterations(1)
    } else {
        // The exhaustive search splits its tree itself (`Dpor::split`); the adaptor still
        // numbers its runs `offset + i * stride`, for the shared bound and the failure's place.
        let inner = match strategy {
            StrategyKind::Dfs {
                max_preemptions: None,
            } if stride > 1 => Box::new(Dpor::split(offset, stride)),
            s => s.build(if fuzz { fuzz_seed } else { cfg.seed }),
        };
        let shard = Shard::new(inner, offset, stride)
            .stop_at(part.stop.clone())
            .progress(part.progress.clone())
            .estimate(part.estimate.clone());
        begun = shard.begun();
        checker
            .adapted_strategy(shard)
            .iterations(mine.count(cfg.iterations))
    };
    let start = Instant::now();
    // Reports say main was created at the test's attribute, when `name` is a registered test.
    if let Some(t) = ConcTest::all().into_iter().find(|t| t.path() == name) {
        checker = checker.main_site(t.site);
    }
    if cfg.settings.all_failures == Some(true) {
        return Ok(explore_to_end(checker, body, offset, stride, start));
    }
    let result = checker.run(body);
    let elapsed = start.elapsed();
    Ok(match result {
        Ok(stats) => Exploration {
            schedules: stats.schedules,
            steps: Some(stats.steps),
            elapsed,
            failure: None,
            later: Vec::new(),
            exhausted: stats.exhausted.then(|| stats.strategy.clone()),
            wasted: stats.wasted,
        },
        Err(f) => Exploration {
            schedules: begun.load(Ordering::Relaxed).max(1),
            steps: None,
            elapsed,
            failure: Some((offset + f.iteration() * stride, f)),
            later: Vec::new(),
            exhausted: None,
            wasted: 0,
        },
    })
}

/// `all_failures`: explore past every failure (`Checker::run_to_end`), keeping the first
/// failure, which decides the verdict, and each later distinct one. The part does not stop the
/// others, nor they it: they are looking for failures of their own.
fn explore_to_end(
    checker: Checker,
    body: fn(),
    offset: u64,
    stride: u64,
    start: Instant,
) -> Exploration {
    let all = checker.run_to_end(body);
    let mut found = all
        .failures
        .into_iter()
        .map(|f| (offset + f.iteration() * stride, f));
    Exploration {
        schedules: all.stats.schedules,
        steps: Some(all.stats.steps),
        elapsed: start.elapsed(),
        failure: found.next(),
        later: found.collect(),
        exhausted: all.stats.exhausted.then(|| all.stats.strategy.clone()),
        wasted: all.stats.wasted,
    }
}

/// `--stress N`: this part's share of `n` recorded runs of `body` on the work-stealing runtime
/// (runs `offset`, `offset + stride`, ...), stopping at the first failure of any part; the
/// failure is the checker's, from following the recorded run (`record::run`). With `all`
/// (`all_failures`), every run is made and each distinct failure (kind and location) kept, the
/// first one deciding the verdict, and no part stops the others.
fn stress(body: fn(), n: u64, part: &Part, name: &str, all: bool) -> Exploration {
    let start = Instant::now();
    let rt = match crate::Runtime::builder().build() {
        Ok(rt) => rt,
        Err(e) => panic!("goweave: --stress needs a runtime: {e}"),
    };
    let mut runs = 0;
    let mut found: Vec<(u64, crate::Failure)> = Vec::new();
    let mut k = part.offset;
    while k < n {
        if !all
            && part
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed) <= k)
        {
            break;
        }
        if let Some(p) = &part.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
        runs += 1;
        if let Err(f) = crate::record::run_named(&rt, body, Some(name)) {
            if !all {
                if let Some(s) = &part.stop {
                    s.fetch_min(k, Ordering::Relaxed);
                }
                found.push((k, f));
                break;
            }
            let seen = found
                .iter()
                .any(|(_, g)| g.kind() == f.kind() && g.location() == f.location());
            if !seen {
                found.push((k, f));
            }
        }
        k += part.stride.max(1);
    }
    let mut found = found.into_iter();
    let failure = found.next();
    Exploration {
        schedules: runs,
        steps: None,
        elapsed: start.elapsed(),
        exhausted: None,
        wasted: 0,
        failure,
        later: found.collect(),
    }
}

/// A test's corpus subdirectory: its path with `::` as `.` and anything unusual as `_`.
fn corpus_dir_name(test: &str) -> String {
    test.replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Decide a test's outcome from what its exploration found: `Ok` with a note (the expected
/// failure that was found) or `Err` with the message to fail with.
pub fn judge(cfg: &TestConfig, ex: &Exploration) -> Result<Option<String>, String> {
    let found = ex.failure.as_ref().map(|(k, f)| (*k, f));
    crate::check::judge(cfg.expect, found, ex.schedules, &cfg.describe())
}

/// The body of the `#[test]` function that `#[conc_test]` generates: explore the test with
/// its options and the `GOWEAVE_*` variables, and panic with the report if it fails.
pub fn run_test(t: &'static ConcTest) {
    let env = Layer::from_env();
    let cfg = match TestConfig::resolve(t.options, &[&env]) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let ex = match explore(t.body, &cfg, &Part::whole(), &t.path()) {
        Ok(ex) => ex,
        Err(e) => panic!("{e}"),
    };
    let later: Vec<_> = ex.later.iter().map(|(_, f)| f.clone()).collect();
    let also = crate::check::also_found(&later);
    match judge(&cfg, &ex) {
        Ok(Some(note)) => eprintln!("goweave: {}: {note}{also}", t.path()),
        // An exhaustive search says that it covered everything (libtest shows it with
        // `--nocapture`), as the harness's summary and `Stats` do.
        Ok(None) => {
            if let Some(by) = &ex.exhausted {
                eprintln!(
                    "goweave: {}: explored all {} schedules ({by})",
                    t.path(),
                    ex.schedules
                );
            }
        }
        Err(msg) => panic!("{msg}{also}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Origin;

    #[test]
    fn fuzz_runs_and_names_a_corpus_per_test() {
        let cfg = TestConfig::resolve(&[("strategy", "fuzz"), ("iterations", "20")], &[]).unwrap();
        assert_eq!(cfg.strategy, StrategyKind::Fuzz { corpus: None });
        let ex = explore(|| {}, &cfg, &Part::whole(), "t").unwrap();
        assert_eq!(ex.schedules, 20);
        let flags = Layer::new(Origin::Flag).with("strategy", "fuzz:target/corpus");
        let cfg = TestConfig::resolve(&[], &[&flags]).unwrap();
        assert_eq!(
            cfg.strategy,
            StrategyKind::Fuzz {
                corpus: Some("target/corpus".into())
            }
        );
        assert_eq!(corpus_dir_name("my_crate::a::b<1>"), "my_crate.a.b_1_");
    }

    #[test]
    fn a_replay_runs_once_and_a_later_strategy_replaces_it() {
        let t = crate::Schedule::new(Vec::new(), 0, 0).token();
        let cfg = TestConfig::resolve(&[("replay", t.as_str())], &[]).unwrap();
        assert!(matches!(cfg.strategy, StrategyKind::Replay(_)));
        assert_eq!(cfg.iterations, 1);
        let flags = Layer::new(Origin::Flag).with("strategy", "pos");
        let cfg = TestConfig::resolve(&[("replay", t.as_str())], &[&flags]).unwrap();
        assert_eq!(cfg.strategy, StrategyKind::Pos);
    }
}
