//! The Fuzz strategy's corpus directory: a campaign writes the inputs that added coverage, a
//! new campaign on the same directory resumes from them, and directories merge by copying.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use goweave::explore::{Decision, Fuzz, Observation, Strategy, ValueDecision};
use goweave::sync::{Mutex as GoMutex, WaitGroup};
use goweave::Checker;

/// A Fuzz strategy the test can look at after the checker is done with it.
#[derive(Clone)]
struct Shared(Arc<Mutex<Fuzz>>);

impl Strategy for Shared {
    fn begin(&mut self, i: u64) -> bool {
        self.0.lock().unwrap().begin(i)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.0.lock().unwrap().pick_goroutine(d)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.0.lock().unwrap().pick_value(d)
    }
    fn wants_trace(&self) -> bool {
        true
    }
    fn observe(&mut self, run: &Observation<'_>) {
        self.0.lock().unwrap().observe(run)
    }
}

/// Three goroutines handing a counter around under a lock, and a channel of results: a correct
/// program with many interleavings.
fn program() {
    let m = Arc::new(GoMutex::new(0u32));
    let results = goweave::chan::make::<u32>(3);
    let wg = WaitGroup::new();
    for i in 0..3 {
        let (m, results) = (m.clone(), results.clone());
        wg.go(move || {
            let mut g = m.lock();
            *g += i;
            drop(g);
            results.send(i);
        });
    }
    wg.wait();
    let total: u32 = (0..3).map(|_| results.recv().unwrap()).sum();
    assert_eq!(total, 3);
    assert_eq!(*m.lock(), 3);
}

/// Run a campaign of `n` schedules; the strategy afterwards.
fn campaign(fuzz: Fuzz, n: u64) -> Fuzz {
    let shared = Shared(Arc::new(Mutex::new(fuzz)));
    let stats = Checker::new()
        .custom_strategy(shared.clone())
        .iterations(n)
        .run(program)
        .unwrap();
    assert_eq!(stats.schedules, n);
    let fuzz = std::mem::replace(&mut *shared.0.lock().unwrap(), Fuzz::new(0));
    fuzz
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goweave-fuzz-corpus-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn a_campaign_resumes_from_its_directory() {
    let dir = temp_dir("resume");
    let first = campaign(Fuzz::new(1).with_corpus(&dir), 300);
    let saved = files(&dir);
    assert_eq!(saved.len(), first.corpus_len());
    assert!(first.corpus_len() > 3, "{}", first.corpus_len());
    for f in &saved {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.starts_with("gwfuzz1 seed="), "{text}");
    }
    // A new campaign first runs every saved input once, and so is back at the same coverage
    // after exactly that many schedules.
    let resumed = campaign(Fuzz::new(2).with_corpus(&dir), saved.len() as u64);
    assert_eq!(resumed.corpus_len(), first.corpus_len());
    assert_eq!(resumed.coverage(), first.coverage());
    assert_eq!(files(&dir), saved, "resuming rewrites nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corpora_from_two_machines_merge_by_copying() {
    let (a, b, merged) = (temp_dir("a"), temp_dir("b"), temp_dir("merged"));
    let fa = campaign(Fuzz::new(10).with_corpus(&a), 150);
    let fb = campaign(Fuzz::new(20).with_corpus(&b), 150);
    std::fs::create_dir_all(&merged).unwrap();
    for f in files(&a).into_iter().chain(files(&b)) {
        std::fs::copy(&f, merged.join(f.file_name().unwrap())).unwrap();
    }
    let n = files(&merged).len();
    let fm = campaign(Fuzz::new(30).with_corpus(&merged), n as u64);
    assert_eq!(fm.corpus_len(), n);
    assert!(fm.coverage() >= fa.coverage().max(fb.coverage()));
    for d in [a, b, merged] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn the_checker_takes_a_corpus_directory_by_name() {
    let dir = temp_dir("by-name");
    let s: goweave::StrategyKind = format!("fuzz:{}", dir.display()).parse().unwrap();
    Checker::new()
        .strategy(s)
        .iterations(100)
        .run(program)
        .unwrap();
    assert!(!files(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn harness_shards_run_their_own_campaigns_into_one_corpus_per_test() {
    use goweave::check::{Layer, Origin};
    use goweave::harness::{explore, Part, TestConfig};
    let root = temp_dir("shards");
    let flags = Layer::new(Origin::Flag)
        .with("strategy", format!("fuzz:{}", root.display()))
        .with("iterations", "200");
    let cfg = TestConfig::resolve(&[], &[&flags]).unwrap();
    let mut total = 0;
    for i in 0..2 {
        let ex = explore(program, &cfg, &Part::nth(i, 2), "suite::program").unwrap();
        assert!(ex.failure.is_none());
        total += ex.schedules;
    }
    assert_eq!(total, 200, "the shards share the iterations out");
    let per_test = root.join("suite.program");
    assert!(!files(&per_test).is_empty());
    let _ = std::fs::remove_dir_all(&root);
}
