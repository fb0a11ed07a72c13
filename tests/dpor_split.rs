//! The static split of the exhaustive search (`Dpor::split`, the harness's `--shard i/n` and
//! `--jobs N`): the parts of a split explore disjoint sets of traces whose union is the whole
//! search's, so their counts of schedules add up to the single search's count.
//!
//! Each program logs, right after each of its visible operations, the object, whether it
//! wrote, and the goroutine; a schedule's Mazurkiewicz trace is then, per object, the
//! sequence of writes with the reads between them as sets, each operation named by its
//! goroutine and its index there. Two schedules of one trace give the same text.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};

#[path = "common/trace_text.rs"]
mod trace_text;
use trace_text::trace_text;

use goweave::chan;
use goweave::explore::{Decision, Dpor, Note, Strategy, ValueDecision};
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::{Cond, Mutex, RwLock, WaitGroup};
use goweave::{go, Checker};

/// The operations of the running schedule, and the traces of the schedules run so far.
#[derive(Default)]
struct Tracer {
    log: StdMutex<Vec<(u32, bool, u64)>>,
    traces: StdMutex<Vec<String>>,
}

impl Tracer {
    fn log(&self, obj: u32, write: bool) {
        self.log
            .lock()
            .unwrap()
            .push((obj, write, goweave::runtime::id()));
    }

    /// The schedule is over: its trace.
    fn finish(&self) {
        let ev = std::mem::take(&mut *self.log.lock().unwrap());
        self.traces.lock().unwrap().push(trace_text(ev));
    }
}

type Body = Arc<dyn Fn() + Send + Sync>;
type Program = fn(Arc<Tracer>) -> Body;

fn join_all<T>(hs: Vec<goweave::JoinHandle<T>>) {
    for h in hs {
        h.join();
    }
}

/// `t` goroutines lock one mutex `rounds` times each.
fn mutex(tr: Arc<Tracer>, t: u64, rounds: u64) -> Body {
    Arc::new(move || {
        let m = Arc::new(Mutex::new(0u64));
        let hs = (0..t)
            .map(|_| {
                let (m, tr) = (m.clone(), tr.clone());
                go(move || {
                    for _ in 0..rounds {
                        *m.lock() += 1;
                        tr.log(0, true);
                    }
                })
            })
            .collect();
        join_all(hs);
        tr.finish();
    })
}

fn mutex_3x1(tr: Arc<Tracer>) -> Body {
    mutex(tr, 3, 1)
}

fn mutex_2x3(tr: Arc<Tracer>) -> Body {
    mutex(tr, 2, 3)
}

/// Three senders on a buffered channel, main receives three values.
fn chan_senders_3(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let c = chan::make::<u64>(3);
        let hs = (0..3)
            .map(|i| {
                let (c, tr) = (c.clone(), tr.clone());
                go(move || {
                    c.send(i);
                    tr.log(0, true);
                })
            })
            .collect();
        for _ in 0..3 {
            c.recv();
            tr.log(0, true);
        }
        join_all(hs);
        tr.finish();
    })
}

/// An unbuffered ping-pong, three rounds: each rendezvous is one operation whichever side
/// arrives first (one trace; each side parking first must not count twice).
fn ping_pong_3(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let ping = chan::make::<u64>(0);
        let pong = chan::make::<u64>(0);
        let (pi, po, tr2) = (ping.clone(), pong.clone(), tr.clone());
        let h = go(move || {
            for _ in 0..3 {
                let v = pi.recv().unwrap();
                tr2.log(0, true);
                po.send(v + 1);
            }
        });
        for i in 0..3 {
            ping.send(i);
            pong.recv();
            tr.log(1, true);
        }
        h.join();
        tr.finish();
    })
}

/// Three senders on three channels; main `select!`s three times.
fn select_3(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let cs: Vec<_> = (0..3).map(|_| chan::make::<u64>(1)).collect();
        let hs = (0..3u32)
            .map(|i| {
                let (c, tr) = (cs[i as usize].clone(), tr.clone());
                go(move || {
                    c.send(1);
                    tr.log(i, true);
                })
            })
            .collect();
        for _ in 0..3 {
            let taken = goweave::select! {
                recv(cs[0]) -> _ => 0u32,
                recv(cs[1]) -> _ => 1,
                recv(cs[2]) -> _ => 2,
            };
            tr.log(taken, true);
            for o in (0..3).filter(|&o| o != taken) {
                tr.log(o, false);
            }
        }
        join_all(hs);
        tr.finish();
    })
}

/// Two readers and two writers of one RwLock.
fn rwlock_2r2w(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let l = Arc::new(RwLock::new(0u64));
        let mut hs = Vec::new();
        for w in [false, true, false, true] {
            let (l, tr) = (l.clone(), tr.clone());
            hs.push(go(move || {
                if w {
                    *l.write() += 1;
                } else {
                    let _g = l.read();
                }
                tr.log(0, w);
            }));
        }
        join_all(hs);
        tr.finish();
    })
}

/// Four goroutines call `done` on one WaitGroup after work of their own; main waits.
fn waitgroup_4(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let wg = Arc::new(WaitGroup::new());
        wg.add(4);
        for i in 0..4u32 {
            let (wg, tr) = (wg.clone(), tr.clone());
            go(move || {
                let x = AtomicU64::new(0);
                x.fetch_add(1, SeqCst);
                tr.log(10 + i, true);
                wg.done();
                tr.log(0, true);
            });
        }
        wg.wait();
        tr.log(0, false);
        tr.finish();
    })
}

/// Two producers set a counter under a mutex and signal a Cond; a consumer waits for both.
fn cond_2(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let s = Arc::new((Mutex::new(0u64), Cond::new()));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (s, tr) = (s.clone(), tr.clone());
                go(move || {
                    let (m, c) = &*s;
                    let mut g = m.lock();
                    tr.log(0, true);
                    *g += 1;
                    c.signal();
                })
            })
            .collect();
        let (m, c) = &*s;
        let mut g = m.lock();
        tr.log(0, true);
        while *g < 2 {
            g = c.wait(g);
            tr.log(0, true);
        }
        drop(g);
        join_all(hs);
        tr.finish();
    })
}

/// Peterson's mutual exclusion for two goroutines; the waiting loop yields (a spin).
fn peterson(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let flag = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let turn = Arc::new(AtomicU64::new(0));
        let hs = (0..2usize)
            .map(|me| {
                let (flag, turn, tr) = (flag.clone(), turn.clone(), tr.clone());
                go(move || {
                    let other = 1 - me;
                    flag[me].store(1, SeqCst);
                    tr.log(me as u32, true);
                    turn.store(other as u64, SeqCst);
                    tr.log(2, true);
                    loop {
                        let f = flag[other].load(SeqCst);
                        tr.log(other as u32, false);
                        if f == 0 {
                            break;
                        }
                        let t = turn.load(SeqCst);
                        tr.log(2, false);
                        if t != other as u64 {
                            break;
                        }
                        goweave::runtime::gosched();
                    }
                    tr.log(3, true);
                    flag[me].store(0, SeqCst);
                    tr.log(me as u32, true);
                })
            })
            .collect();
        join_all(hs);
        tr.finish();
    })
}

/// A poller spins on `try_recv` (yielding when it finds nothing) while a worker bumps a
/// shared atomic and then sends; the poller bumps the atomic once it has the value.
fn poller(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let c = chan::make::<u64>(1);
        let x = Arc::new(AtomicU64::new(0));
        let (c2, x2, tr2) = (c.clone(), x.clone(), tr.clone());
        let w = go(move || {
            x2.fetch_add(1, SeqCst);
            tr2.log(1, true);
            c2.send(7);
            tr2.log(0, true);
        });
        let (x3, tr3) = (x.clone(), tr.clone());
        let o = go(move || {
            x3.fetch_add(10, SeqCst);
            tr3.log(1, true);
        });
        loop {
            let got = c.try_recv();
            tr.log(0, got.is_ok());
            if got.is_ok() {
                break;
            }
            goweave::runtime::gosched();
        }
        x.fetch_add(100, SeqCst);
        tr.log(1, true);
        w.join();
        o.join();
        tr.finish();
    })
}

/// Three philosophers, each taking the lower-numbered fork first.
fn philosophers_3(tr: Arc<Tracer>) -> Body {
    Arc::new(move || {
        let forks: Arc<Vec<Mutex<u64>>> = Arc::new((0..3).map(|_| Mutex::new(0)).collect());
        let hs = (0..3)
            .map(|p| {
                let (forks, tr) = (forks.clone(), tr.clone());
                go(move || {
                    let (a, b) = (p.min((p + 1) % 3), p.max((p + 1) % 3));
                    let _fa = forks[a].lock();
                    tr.log(a as u32, true);
                    let _fb = forks[b].lock();
                    tr.log(b as u32, true);
                })
            })
            .collect();
        join_all(hs);
        tr.finish();
    })
}

/// Runs `inner` and drops the trace of every schedule it says was wasted (the body logged
/// one, but the checker does not count the schedule).
struct Counted {
    inner: Box<dyn Strategy>,
    tracer: Arc<Tracer>,
}

impl Strategy for Counted {
    fn begin(&mut self, i: u64) -> bool {
        self.inner.begin(i)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.inner.pick_goroutine(d)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.inner.pick_value(d)
    }
    fn end(&mut self) {
        self.inner.end();
        if self.inner.wasted() {
            self.tracer.traces.lock().unwrap().pop();
        }
    }
    fn wasted(&self) -> bool {
        self.inner.wasted()
    }
    fn wants_notes(&self) -> bool {
        true
    }
    fn note(&mut self, n: Note) {
        self.inner.note(n)
    }
}

/// The traces of the schedules `strategy` counts over a whole search of `program`, and the
/// runs it wasted.
fn search(program: Program, strategy: Box<dyn Strategy>) -> (Vec<String>, u64) {
    let tracer = Arc::new(Tracer::default());
    let body = program(tracer.clone());
    let stats = Checker::new()
        .custom_strategy(Counted {
            inner: strategy,
            tracer: tracer.clone(),
        })
        .iterations(u64::MAX)
        .run(move || body())
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(stats.exhausted);
    let traces = std::mem::take(&mut *tracer.traces.lock().unwrap());
    assert_eq!(traces.len() as u64, stats.schedules);
    (traces, stats.wasted)
}

const PROGRAMS: [(&str, Program); 9] = [
    ("ping_pong_3", ping_pong_3),
    ("mutex_3x1", mutex_3x1),
    ("mutex_2x3", mutex_2x3),
    ("chan_senders_3", chan_senders_3),
    ("select_3", select_3),
    ("rwlock_2r2w", rwlock_2r2w),
    ("waitgroup_4", waitgroup_4),
    ("cond_2", cond_2),
    ("philosophers_3", philosophers_3),
];

/// The parts of an `n`-way split explore each trace of the single search exactly once.
fn check_split(name: &str, program: Program) {
    let (whole, wasted) = search(program, Box::new(Dpor::new()));
    let all: BTreeSet<&String> = whole.iter().collect();
    assert_eq!(all.len(), whole.len(), "{name}: one schedule per trace");
    assert_eq!(wasted, 0, "{name}: the single search wastes nothing");
    for n in 2..=4 {
        let mut seen = BTreeSet::new();
        let mut counts = Vec::new();
        let mut waste = Vec::new();
        for i in 0..n {
            let (part, w) = search(program, Box::new(Dpor::split(i, n)));
            waste.push(w);
            for t in &part {
                assert!(
                    all.contains(t),
                    "{name}: part {i} of {n} explored a trace the single search did not: {t}"
                );
                assert!(
                    seen.insert(t.clone()),
                    "{name}: part {i} of {n} explored a trace another schedule explored too: {t}"
                );
            }
            counts.push(part.len());
        }
        if std::env::var_os("DPOR_SPLIT_VERBOSE").is_some() {
            eprintln!("{name}: {n} parts: schedules {counts:?}, wasted {waste:?}");
        }
        assert_eq!(
            counts.iter().sum::<usize>(),
            whole.len(),
            "{name}, {n} parts: {counts:?} against {} schedules",
            whole.len()
        );
        assert_eq!(seen.len(), all.len(), "{name}, {n} parts: every trace");
        assert!(
            whole.len() == 1 || counts.iter().all(|&c| c < whole.len()),
            "{name}, {n} parts: a part explored everything: {counts:?}"
        );
    }
}

#[test]
fn the_parts_of_a_split_explore_each_trace_once() {
    for (name, program) in PROGRAMS {
        check_split(name, program);
    }
}

/// Spin loops (a goroutine that yields until another lets it on) are where the split
/// explores *more* than the single search: logged traces that differ in how often a
/// goroutine polls are not all reached by the single search (on Peterson's algorithm the
/// plain search reaches 56 logged traces, the single DPOR 38), and a closed decision of the
/// split reaches some of the others. The parts still explore every trace the single search
/// does, and each part less than all of them.
#[test]
fn on_spin_loops_the_parts_cover_the_single_search() {
    for (name, program) in [("poller", poller as Program), ("peterson", peterson)] {
        let (whole, _) = search(program, Box::new(Dpor::new()));
        let all: BTreeSet<String> = whole.into_iter().collect();
        for n in [2, 4] {
            let mut union = BTreeSet::new();
            let mut counts = Vec::new();
            for i in 0..n {
                let (part, _) = search(program, Box::new(Dpor::split(i, n)));
                counts.push(part.len());
                union.extend(part);
            }
            assert!(
                union.is_superset(&all),
                "{name}: {n} parts miss {} traces of the single search",
                all.difference(&union).count()
            );
            let total: usize = counts.iter().sum();
            assert!(
                counts.iter().all(|&c| c < total),
                "{name}, {n} parts: one part explored everything: {counts:?}"
            );
        }
    }
}

/// Four goroutines append their numbers to a vector under one mutex (24 lock orders); one
/// order is a bug. With `fail`, main asserts that it did not happen; without it, main logs
/// whether it did (`bad` or `good` as the schedule's trace).
fn needle(tr: Arc<Tracer>, fail: bool) -> Body {
    Arc::new(move || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let hs = (0..4u64)
            .map(|i| {
                let m = m.clone();
                go(move || m.lock().push(i))
            })
            .collect();
        join_all(hs);
        let bad = *m.lock() == [2, 0, 3, 1];
        if fail {
            assert!(!bad, "the one bad order");
        }
        tr.traces
            .lock()
            .unwrap()
            .push(if bad { "bad" } else { "good" }.to_string());
    })
}

#[test]
fn a_failure_is_reported_by_exactly_the_parts_whose_subtrees_hold_it() {
    let n = 4;
    // Which parts' counted schedules lose an update.
    let holds: Vec<bool> = (0..n)
        .map(|i| {
            let (part, _) = search(|tr| needle(tr, false), Box::new(Dpor::split(i, n)));
            part.iter().any(|t| t == "bad")
        })
        .collect();
    assert!(holds.iter().any(|&h| h), "some part holds the needle");
    assert!(holds.iter().any(|&h| !h), "not every part does: {holds:?}");
    for i in 0..n {
        let tracer = Arc::new(Tracer::default());
        let body = needle(tracer, true);
        let b = body.clone();
        let found = Checker::new()
            .custom_strategy(Dpor::split(i, n))
            .iterations(u64::MAX)
            .run(move || b());
        match found {
            Err(f) => {
                assert!(
                    holds[i as usize],
                    "part {i} reported a failure it does not hold: {f}"
                );
                assert_eq!(f.kind(), goweave::FailureKind::Panic, "{f}");
                assert!(f.report().contains("the one bad order"), "{f}");
                // A token is a list of choices: it replays whichever part found it.
                let token: goweave::Schedule = f.token().expect("a token").parse().unwrap();
                let again = goweave::replay(&token, move || body()).unwrap_err();
                assert_eq!(again.kind(), goweave::FailureKind::Panic, "{again}");
            }
            Ok(stats) => {
                assert!(!holds[i as usize], "part {i} missed its needle");
                assert!(stats.exhausted);
            }
        }
    }
}

#[test]
fn a_lock_order_deadlock_is_found_by_the_parts_together_and_replays() {
    let body = || {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let (a2, b2) = (a.clone(), b.clone());
        let h = go(move || {
            let _x = b2.lock();
            let _y = a2.lock();
        });
        {
            let _x = a.lock();
            let _y = b.lock();
        }
        h.join();
    };
    let n = 4;
    let mut found = 0;
    for i in 0..n {
        match Checker::new()
            .custom_strategy(Dpor::split(i, n))
            .iterations(u64::MAX)
            .run(body)
        {
            Err(f) => {
                found += 1;
                assert_eq!(f.kind(), goweave::FailureKind::Deadlock, "{f}");
                let token: goweave::Schedule = f.token().expect("a token").parse().unwrap();
                let again = goweave::replay(&token, body).unwrap_err();
                assert_eq!(again.kind(), goweave::FailureKind::Deadlock, "{again}");
            }
            Ok(stats) => assert!(stats.exhausted, "part {i}: {stats}"),
        }
    }
    assert!(found >= 1, "no part found the deadlock");
    assert!(
        found < n,
        "every part found it: the deadlock's traces were not split"
    );
}
