//! Differential test of the partial-order reduction: on a few hundred small generated
//! programs (random mixes of goweave's primitives over 2-4 goroutines), `Dfs` (with
//! reduction) reaches exactly the outcomes that the plain search over every interleaving
//! (`dfs:plain`) reaches, and finds a failure (of the same kind) exactly when it does.
//!
//! The mix covers atomics, mutexes (with `RaceCell`s under them), `try_lock`, an `RwLock`,
//! buffered and unbuffered channels (blocking and `try_` operations), `select!` with receive
//! and send cases (with and without `default`), `goweave::rand`, `gosched`, `Once`, a
//! `Semaphore`, `WaitGroup` (`done` at each goroutine's end, `wait` in main and in
//! goroutines), a `Cond` (a guarded wait against a signal or broadcast, sent with or
//! without the lock) and sleeps.
//!
//! An outcome is what every goroutine observed (values loaded, received, chosen) and the
//! final values, recorded outside goweave (a std mutex is not a scheduling point).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::chan::{self, Chan};
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::{Cond, Mutex, Once, RwLock, Semaphore, WaitGroup};
use goweave::{go, Checker, FailureKind, StrategyKind};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// One statement of a generated goroutine.
#[derive(Clone, Debug)]
enum Stmt {
    Load(usize),
    Store(usize, u64),
    Add(usize),
    Cas(usize, u64, u64),
    /// Lock mutex `m`, run the body (atomics and the cell `m` guards), unlock.
    Locked(usize, Vec<Stmt>),
    /// Increment the cell guarded by the enclosing mutex.
    Cell(usize),
    /// Increment cell 9 with no lock (a data race if another goroutine does too).
    RacyCell,
    TryLock(usize),
    /// Read-lock the rwlock and load atomic 0 inside.
    Read,
    /// Write-lock the rwlock and add to atomic 0 inside.
    Write,
    Send(usize, u64),
    Recv(usize),
    TrySend(usize, u64),
    TryRecv(usize),
    /// `select!` receiving from two channels, with or without `default`.
    Select(usize, usize, bool),
    Yield,
    Rand,
    Once,
    /// Acquire one unit of the semaphore, add to atomic 1, release.
    Sem,
    Sleep(u64),
    /// Under mutex 0: wait on the `Cond` once if the flag is not set, then observe it.
    CondWait,
    /// Set the flag under mutex 0 and signal (or broadcast), before or after unlocking.
    CondSignal {
        broadcast: bool,
        locked: bool,
    },
    /// `WaitGroup::wait` from a goroutine (returns at once without a group).
    WgWait,
    /// `select!` sending on channel `a` or receiving from `b`.
    SelectSend(usize, usize),
}

#[derive(Clone, Debug)]
struct Prog {
    gs: Vec<Vec<Stmt>>,
    caps: Vec<usize>,
    wait_group: bool,
    sem_size: u64,
}

/// The generator's random choices: ChaCha8 (the repository's one source of randomness), from
/// a seed a run names (`DPOR_DIFF_SEED`).
struct Rng(ChaCha8Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    /// Uniform below `n` (a small `n`: the modulo's bias is below 2^-59).
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }
}

fn stmt(r: &mut Rng, depth: u32) -> Stmt {
    let a = r.below(2) as usize;
    let c = r.below(2) as usize;
    match r.below(if depth > 0 { 7 } else { 25 }) {
        0 => Stmt::Load(a),
        1 => Stmt::Store(a, 1 + r.below(2)),
        2 => Stmt::Add(a),
        3 => Stmt::Cas(a, r.below(2), 5),
        4 => Stmt::Cell(0),
        5 => Stmt::Load(a),
        6 => Stmt::Add(a),
        7 | 8 => {
            let m = r.below(2) as usize;
            let n = 1 + r.below(2);
            let mut body: Vec<Stmt> = (0..n).map(|_| stmt(r, depth + 1)).collect();
            for s in &mut body {
                if let Stmt::Cell(x) = s {
                    *x = m;
                }
            }
            Stmt::Locked(m, body)
        }
        9 => Stmt::TryLock(r.below(2) as usize),
        10 => Stmt::Read,
        11 => Stmt::Write,
        12 => Stmt::Send(c, r.below(3)),
        13 => Stmt::Recv(c),
        14 => Stmt::TrySend(c, 7),
        15 => Stmt::TryRecv(c),
        16 => Stmt::Select(0, 1, r.below(2) == 0),
        17 => [Stmt::Yield, Stmt::Rand][r.below(2) as usize].clone(),
        18 => Stmt::Once,
        19 => [Stmt::Sem, Stmt::RacyCell][r.below(2) as usize].clone(),
        20 => Stmt::Sleep(1 + r.below(2)),
        21 => Stmt::CondWait,
        22 => Stmt::CondSignal {
            broadcast: r.below(2) == 0,
            locked: r.below(2) == 0,
        },
        23 => Stmt::WgWait,
        _ => Stmt::SelectSend(c, 1 - c),
    }
}

fn prog(r: &mut Rng) -> Prog {
    let n = 2 + r.below(3) as usize; // 2-4 goroutines, main included
    let mut gs = Vec::new();
    for i in 0..n {
        let len = if i == 0 { r.below(2) } else { 1 + r.below(2) };
        let mut g: Vec<Stmt> = (0..len).map(|_| stmt(r, 0)).collect();
        if i > 0 {
            // A goroutine counted by the group that waits for it deadlocks every time: wait
            // in main only.
            for s in &mut g {
                if matches!(s, Stmt::WgWait) {
                    *s = Stmt::Load(0);
                }
            }
        }
        gs.push(g);
    }
    // Half the programs with a waiter end main with a broadcast (so that not every one of
    // them deadlocks); the others rely on their own signals, if any.
    let waits = gs.iter().flatten().any(|s| matches!(s, Stmt::CondWait));
    if waits && r.below(2) == 0 {
        gs[0].push(Stmt::CondSignal {
            broadcast: true,
            locked: true,
        });
    }
    Prog {
        gs,
        caps: vec![r.below(2) as usize, 1],
        wait_group: r.below(3) == 0,
        sem_size: 1 + r.below(2),
    }
}

struct World {
    atomics: [AtomicU64; 2],
    mutexes: [Mutex<()>; 2],
    cells: [RaceCell<u64>; 2],
    racy: RaceCell<u64>,
    rw: RwLock<()>,
    chans: Vec<Chan<u64>>,
    once: Once,
    sem: Semaphore,
    wg: WaitGroup,
    cond: Cond,
    /// The condition the `Cond` stands for, guarded by mutex 0.
    flag: RaceCell<u64>,
}

fn run_stmt(w: &World, s: &Stmt, seen: &mut Vec<u64>) {
    match s {
        Stmt::Load(a) => seen.push(w.atomics[*a].load(SeqCst)),
        Stmt::Store(a, v) => w.atomics[*a].store(*v, SeqCst),
        Stmt::Add(a) => {
            w.atomics[*a].fetch_add(1, SeqCst);
        }
        Stmt::Cas(a, old, new) => {
            let ok = w.atomics[*a]
                .compare_exchange(*old, *new, SeqCst, SeqCst)
                .is_ok();
            seen.push(ok as u64);
        }
        Stmt::Locked(m, body) => {
            let _g = w.mutexes[*m].lock();
            for s in body {
                run_stmt(w, s, seen);
            }
        }
        Stmt::Cell(m) => w.cells[*m].with_mut(|v| *v += 1),
        Stmt::RacyCell => w.racy.with_mut(|v| *v += 1),
        Stmt::TryLock(m) => seen.push(w.mutexes[*m].try_lock().is_some() as u64),
        Stmt::Read => {
            let _g = w.rw.read();
            seen.push(w.atomics[0].load(SeqCst));
        }
        Stmt::Write => {
            let _g = w.rw.write();
            w.atomics[0].fetch_add(1, SeqCst);
        }
        Stmt::Send(c, v) => w.chans[*c].send(*v),
        Stmt::Recv(c) => seen.push(w.chans[*c].recv().map_or(99, |v| v)),
        Stmt::TrySend(c, v) => seen.push(w.chans[*c].try_send(*v).is_ok() as u64),
        Stmt::TryRecv(c) => seen.push(w.chans[*c].try_recv().map_or(98, |v| v)),
        Stmt::Select(a, b, default) => {
            let (a, b) = (&w.chans[*a], &w.chans[*b]);
            let got = if *default {
                goweave::select! {
                    recv(a) -> v => 10 + v.unwrap_or(9),
                    recv(b) -> v => 20 + v.unwrap_or(9),
                    default => 30,
                }
            } else {
                goweave::select! {
                    recv(a) -> v => 10 + v.unwrap_or(9),
                    recv(b) -> v => 20 + v.unwrap_or(9),
                }
            };
            seen.push(got);
        }
        Stmt::Yield => goweave::runtime::gosched(),
        Stmt::Rand => seen.push(goweave::rand::below(2)),
        Stmt::Once => w.once.call_once(|| {
            w.atomics[1].fetch_add(10, SeqCst);
        }),
        Stmt::Sem => {
            w.sem.acquire(1);
            w.atomics[1].fetch_add(1, SeqCst);
            w.sem.release(1);
        }
        Stmt::Sleep(ms) => goweave::time::sleep(Duration::from_millis(*ms)),
        Stmt::CondWait => {
            let mut g = w.mutexes[0].lock();
            if w.flag.get() == 0 {
                g = w.cond.wait(g);
            }
            seen.push(w.flag.get());
            drop(g);
        }
        Stmt::CondSignal { broadcast, locked } => {
            let g = w.mutexes[0].lock();
            w.flag.set(1);
            if !*locked {
                drop(g);
            }
            if *broadcast {
                w.cond.broadcast();
            } else {
                w.cond.signal();
            }
        }
        Stmt::WgWait => w.wg.wait(),
        Stmt::SelectSend(a, b) => {
            let (a, b) = (&w.chans[*a], &w.chans[*b]);
            let got = goweave::select! {
                send(a, 4) => 40,
                recv(b) -> v => 50 + v.unwrap_or(9),
            };
            seen.push(got);
        }
    }
}

/// The program as a checker body that adds its outcome to `out`.
fn body(p: &Prog, out: Arc<StdMutex<BTreeSet<String>>>) -> impl Fn() + Send + Sync + 'static {
    let p = p.clone();
    move || {
        let w = Arc::new(World {
            atomics: [AtomicU64::new(0), AtomicU64::new(0)],
            mutexes: [Mutex::new(()), Mutex::new(())],
            cells: [RaceCell::new(0), RaceCell::new(0)],
            racy: RaceCell::new(0),
            rw: RwLock::new(()),
            chans: p.caps.iter().map(|&c| chan::make(c)).collect(),
            once: Once::new(),
            sem: Semaphore::new(p.sem_size),
            wg: WaitGroup::new(),
            cond: Cond::new(),
            flag: RaceCell::new(0),
        });
        if p.wait_group {
            w.wg.add(p.gs.len() as i64 - 1);
        }
        let hs: Vec<_> = p.gs[1..]
            .iter()
            .map(|stmts| {
                let (w, stmts, wg) = (w.clone(), stmts.clone(), p.wait_group);
                go(move || {
                    let mut seen = Vec::new();
                    for s in &stmts {
                        run_stmt(&w, s, &mut seen);
                    }
                    if wg {
                        w.wg.done();
                    }
                    seen
                })
            })
            .collect();
        let mut seen = Vec::new();
        for s in &p.gs[0] {
            run_stmt(&w, s, &mut seen);
        }
        if p.wait_group {
            w.wg.wait();
        }
        let mut all = vec![seen];
        for h in hs {
            all.push(h.join());
        }
        let fin = (
            w.atomics[0].load(SeqCst),
            w.atomics[1].load(SeqCst),
            w.cells[0].get(),
            w.cells[1].get(),
        );
        out.lock().unwrap().insert(format!("{all:?} {fin:?}"));
    }
}

/// What one search reached on a program.
struct Reached {
    /// The outcomes of the schedules that ran main to its end (a leak is found after that:
    /// those schedules' outcomes are in too; the other failures end a schedule before).
    outcomes: BTreeSet<String>,
    /// The kinds of failure found, each once.
    kinds: BTreeSet<FailureKind>,
    /// Every distinct failure, kind and location (see `Failure::location`).
    failures: BTreeSet<(FailureKind, String)>,
    /// Schedules explored (failing ones included).
    schedules: u64,
}

/// Explore `p` to the end, past its failures (`Checker::run_to_end`); `None` if the search
/// did not finish within `cap` schedules.
fn explore(p: &Prog, s: StrategyKind, cap: u64) -> Option<Reached> {
    let out = Arc::new(StdMutex::new(BTreeSet::new()));
    let all = Checker::new()
        .strategy(s)
        .iterations(cap)
        .shrink_budget(Duration::ZERO)
        .run_to_end(body(p, out.clone()));
    if !all.stats.exhausted {
        return None;
    }
    let outcomes = out.lock().unwrap().clone();
    Some(Reached {
        outcomes,
        kinds: all.kinds(),
        failures: all
            .failures
            .iter()
            .map(|f| (f.kind(), f.location().to_string()))
            .collect(),
        schedules: all.stats.schedules,
    })
}

/// The generator seed of a run: `DPOR_DIFF_SEED=<u64>`, or the suite's own.
fn generator_seed() -> u64 {
    std::env::var("DPOR_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

/// Per program, the plain search over every interleaving and the reduced one reach the same
/// outcomes (in the schedules that do not fail) and the same kinds of failure; both run to
/// the end past their failures, so a program that can both deadlock and race must show both
/// in both searches, whichever each meets first.
#[test]
fn dpor_reaches_what_plain_dfs_reaches() {
    // Another generator seed (to look further than the suite does): DPOR_DIFF_SEED=<u64>.
    let mut r = Rng::new(generator_seed());
    let (mut compared, mut failing, mut plain_total, mut dpor_total) = (0, 0, 0u64, 0u64);
    // Programs on which the two searches name different places for failures of kinds they
    // both find (not a mismatch: which of two races in one trace a schedule meets first, and
    // so where it stops, depends on the order the schedule runs the trace in).
    let mut other_places = 0;
    // Every program is compared (not only up to the first mismatch), so that a run on another
    // seed says how many differ.
    let mut mismatches = Vec::new();
    // Programs whose plain search runs longer are left out: DPOR_DIFF_CAP=<n> to take more.
    let plain_cap = std::env::var("DPOR_DIFF_CAP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    // One program (its index), to look at it: DPOR_DIFF_ONLY=<i>.
    let only: Option<u64> = std::env::var("DPOR_DIFF_ONLY")
        .ok()
        .and_then(|s| s.parse().ok());
    for i in 0..500 {
        let p = prog(&mut r);
        if only.is_some_and(|k| k != i) {
            continue;
        }
        let Some(plain) = explore(&p, StrategyKind::DfsPlain, plain_cap) else {
            if only.is_some() {
                eprintln!("program {i}: the plain search did not finish in {plain_cap} schedules");
            }
            continue;
        };
        let dpor = explore(
            &p,
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            1_000_000,
        )
        .expect("dpor finishes");
        if only.is_some() {
            eprintln!(
                "program {i}: plain {} schedules, failures {:?}\ndpor {} schedules, failures {:?}",
                plain.schedules, plain.failures, dpor.schedules, dpor.failures
            );
        }
        let mut why = Vec::new();
        if plain.outcomes != dpor.outcomes {
            why.push(format!(
                "outcomes differ\n  plain: {:?}\n  dpor:  {:?}",
                plain.outcomes, dpor.outcomes
            ));
        }
        if plain.kinds != dpor.kinds {
            why.push(format!(
                "failure kinds differ\n  plain: {:?}\n  dpor:  {:?}",
                plain.failures, dpor.failures
            ));
        }
        if dpor.schedules > plain.schedules {
            why.push(format!(
                "dpor ran {} schedules, plain {}",
                dpor.schedules, plain.schedules
            ));
        }
        if !why.is_empty() {
            mismatches.push(format!("program {i}: {}\n{p:#?}", why.join("\n")));
        }
        failing += u64::from(!plain.kinds.is_empty());
        other_places += u64::from(plain.kinds == dpor.kinds && plain.failures != dpor.failures);
        compared += 1;
        plain_total += plain.schedules;
        dpor_total += dpor.schedules;
    }
    eprintln!(
        "compared {compared} programs ({failing} failing, {other_places} with failures at other places): plain dfs {plain_total} schedules, dpor {dpor_total}; {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} programs differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        compared >= 180 || only.is_some(),
        "only {compared} programs finished under plain dfs"
    );
}

/// What the parts of an `n`-way split reach together, each part run to its end past its
/// failures.
struct SplitReached {
    /// The outcomes (wasted runs included: they are real schedules too).
    outcomes: BTreeSet<String>,
    /// The schedules the parts count, in all.
    schedules: u64,
    /// The runs the parts waste, in all.
    wasted: u64,
    /// The kinds of failure found.
    kinds: BTreeSet<FailureKind>,
}

fn explore_split(p: &Prog, n: u64) -> SplitReached {
    let out = Arc::new(StdMutex::new(BTreeSet::new()));
    let (mut schedules, mut wasted, mut kinds) = (0, 0, BTreeSet::new());
    for i in 0..n {
        let all = Checker::new()
            .custom_strategy(goweave::explore::Dpor::split(i, n))
            .iterations(u64::MAX)
            .shrink_budget(Duration::ZERO)
            .run_to_end(body(p, out.clone()));
        assert!(all.stats.exhausted);
        schedules += all.stats.schedules;
        wasted += all.stats.wasted;
        kinds.extend(all.kinds());
    }
    let outcomes = out.lock().unwrap().clone();
    SplitReached {
        outcomes,
        schedules,
        wasted,
        kinds,
    }
}

/// On the same generated programs, the parts of a split search (2, 3 or 4 of them) reach
/// together exactly the outcomes and the kinds of failure the single search reaches (every
/// search run to its end past its failures). Their schedules add up to the single count
/// where that one is a schedule per trace; the test says on how many programs they do not.
#[test]
fn the_parts_of_a_split_reach_what_the_single_search_reaches() {
    let mut r = Rng::new(generator_seed());
    let (mut compared, mut failing, mut fewer, mut more) = (0, 0, 0, 0);
    // Schedules of the single search and of the parts in all, and the parts' wasted runs,
    // over the programs compared.
    let (mut single_total, mut split_total, mut wasted_total) = (0u64, 0u64, 0u64);
    let mut mismatches = Vec::new();
    // More programs (to look further than the suite does): DPOR_SPLIT_PROGRAMS=<n>.
    let programs = std::env::var("DPOR_SPLIT_PROGRAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    // One program (its index), to look at it: DPOR_SPLIT_ONLY=<i>.
    let only: Option<u64> = std::env::var("DPOR_SPLIT_ONLY")
        .ok()
        .and_then(|s| s.parse().ok());
    for i in 0..programs {
        let p = prog(&mut r);
        if only.is_some_and(|k| k != i) {
            continue;
        }
        // Programs whose single search is long are left out (the suite stays quick).
        let Some(single) = explore(
            &p,
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            5_000,
        ) else {
            continue;
        };
        let n = 2 + i % 3;
        let SplitReached {
            outcomes,
            schedules: nsplit,
            wasted,
            kinds,
        } = explore_split(&p, n);
        let mut why = Vec::new();
        if single.outcomes != outcomes {
            why.push(format!(
                "outcomes differ\n  single: {:?}\n  {n} parts: {outcomes:?}",
                single.outcomes
            ));
        }
        if single.kinds != kinds {
            why.push(format!(
                "failure kinds differ: single {:?}, {n} parts {kinds:?}",
                single.kinds
            ));
        }
        if why.is_empty() {
            // Fewer: the single search ran schedules of one trace twice (its known
            // redundancies), which sleep sets leave to one part; more: spin loops.
            fewer += u64::from(nsplit < single.schedules);
            more += u64::from(nsplit > single.schedules);
        } else {
            mismatches.push(format!("program {i}: {}\n{p:#?}", why.join("\n")));
        }
        failing += u64::from(!single.kinds.is_empty());
        compared += 1;
        single_total += single.schedules;
        split_total += nsplit;
        wasted_total += wasted;
    }
    eprintln!(
        "split: compared {compared} programs ({failing} failing; the parts ran fewer schedules on {fewer}, more on {more}); {} mismatches",
        mismatches.len()
    );
    eprintln!(
        "split: schedules: single {single_total}, the parts {split_total} (and {wasted_total} wasted runs)"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} programs differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
