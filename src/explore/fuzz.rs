//! `Fuzz`: a coverage-guided schedule fuzzer that needs no libFuzzer, in the spirit of RFF
//! (Wolff et al., "Greybox Fuzzing for Concurrency Testing", ASPLOS 2024).
//!
//! # Inputs
//!
//! An input is a small genome, not a list of choices, so that every input is a complete, valid
//! schedule of any program:
//! - a list of **points** `(at, target)`: at the `at`-th goroutine decision of the schedule, run
//!   goroutine `target` (or, if it is not runnable there, `runnable[target % n]`); target 0
//!   lets virtual time pass there (a timeout fires now), if a timer is pending;
//! - everywhere else the goroutine that is running **keeps running** (no preemption), and when
//!   it blocks, yields or finishes, the next one is drawn from a generator seeded with the
//!   input's **seed**. `select!` cases and `goweave::rand` values come from the same generator;
//! - **noise** (0..=255): at a decision without a point, switch at random with probability
//!   noise/256 anyway. 0 gives preemption-bounded schedules, 255 a random walk.
//!
//! Most concurrency bugs need few preemptions in the right places, so the points are where the
//! search happens.
//!
//! # Coverage
//!
//! Interleaving coverage, computed from each schedule's event trace (the checker records it for
//! this strategy, [`Strategy::wants_trace`]). For every event on an object (a lock, channel,
//! atomic, cell, wait group, ...), the **conflicting event it observed**: the latest earlier event
//! on the same object that conflicts with it (for a read, the latest write; for a write, the
//! latest access). One feature is the pair of their locations, operations, and whether the two
//! were by the same goroutine: a *reads-from* pair for loads and cells, a *lock handoff* for a
//! lock after another goroutine's unlock, a *channel handoff* for a receive after a send. An
//! event that observed nothing (the initial value, a fresh lock) pairs with "init". A second
//! kind of feature is the bigram of two consecutive cross-goroutine pairs of one goroutine
//! (what it saw, then what it saw next), so that "read `a` from the setter, then `b` from init"
//! is new even when each half was seen before.
//!
//! An input joins the corpus when its schedule shows a feature never seen before.
//!
//! # Mutation
//!
//! A child is its parent with one to four of these applied (the parent's run is logged: which
//! goroutine was about to do what at each decision, and which goroutines touched each object
//! from which locations):
//! - **directed insertion** (the main one): pick a *location* uniformly among those the parent's
//!   running goroutines were about to execute at a decision, then one of its occurrences (the
//!   early ones favoured), and preempt there in favour of a goroutine that touches the same
//!   object *from another location*. Goroutines running the same code are symmetric, so
//!   choosing by location rather than by goroutine shrinks the search from
//!   (decisions × goroutines) to (locations × locations);
//! - random insertion, deletion, moving a point a few decisions, retargeting a point, splicing
//!   the points of two inputs, a new seed, a new noise level. A quarter of the insertions at a
//!   decision where a timer was pending let time pass instead (a timeout that fires right
//!   there).
//!
//! One schedule in ten is a fresh input (a new seed, no points, some noise), so the campaign
//! never does worse than a random walk for long. Parents are drawn with a weight of
//! (features they added + 1) / (times drawn + 1). Only the latest 256 run logs stay in memory;
//! a parent drawn without its log is run once more to get it back.
//!
//! # Corpus directory
//!
//! With a directory, every corpus input is written to it as one line of text
//! (`gwfuzz1 seed=.. noise=.. points=at:target,..`) in a file named by the hash of that line,
//! through a temporary file and a rename, so that processes can share a directory. At start
//! the inputs already there are loaded (in file-name order) and run once each before any
//! mutation: a campaign resumes, and directories copied together from several machines merge.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::hash::{fnv1a, MixedFxHasher};

use super::random::{below, schedule_seed};
use super::{default_pick, Decision, Observation, Op, Strategy, ValueDecision};

/// Points an input may hold.
const MAX_POINTS: usize = 64;
/// Decisions of a run that are logged for mutation (later ones get only random insertions).
const MAX_LOGGED: usize = 16_384;
/// Distinct (location, goroutine) pairs remembered per object.
const MAX_TOUCHES: usize = 512;
/// Inputs kept in memory.
const MAX_CORPUS: usize = 8_192;
/// Run logs kept in memory (the most recent ones); an input drawn without its log is run once
/// more to get it back.
const MAX_LOGS: usize = 256;
/// Consecutive decisions a goroutine may keep running before a random switch, so that a spin
/// loop without `gosched` cannot stall a schedule.
const MAX_RUN: u32 = 1_000;
/// First line of a corpus file.
const MAGIC: &str = "gwfuzz1";
/// The target of a point that lets time pass (goroutine ids start at 1).
const TIME_TARGET: u32 = 0;

/// A point of an input: at goroutine decision `at`, run goroutine `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Point {
    at: u32,
    target: u32,
}

/// A fuzzing input (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Input {
    seed: u64,
    noise: u8,
    /// Sorted by `at`, at most one per decision.
    points: Vec<Point>,
}

impl Input {
    fn plain(seed: u64) -> Input {
        Input {
            seed,
            noise: 0,
            points: Vec::new(),
        }
    }

    /// Sort, keep one point per decision, cap the count.
    fn normalise(&mut self) {
        self.points.sort();
        self.points.dedup_by_key(|p| p.at);
        self.points.truncate(MAX_POINTS);
    }

    /// The corpus file text.
    fn to_line(&self) -> String {
        let points: Vec<String> = self
            .points
            .iter()
            .map(|p| format!("{}:{}", p.at, p.target))
            .collect();
        format!(
            "{MAGIC} seed={:#x} noise={} points={}\n",
            self.seed,
            self.noise,
            points.join(",")
        )
    }

    /// Parse corpus file text; `None` if it is not one.
    fn from_line(s: &str) -> Option<Input> {
        let mut it = s.split_whitespace();
        if it.next()? != MAGIC {
            return None;
        }
        let mut input = Input::plain(0);
        for field in it {
            let (k, v) = field.split_once('=')?;
            match k {
                "seed" => {
                    let h = v.strip_prefix("0x").unwrap_or(v);
                    input.seed = u64::from_str_radix(h, 16).ok()?;
                }
                "noise" => input.noise = v.parse().ok()?,
                "points" => {
                    for p in v.split(',').filter(|p| !p.is_empty()) {
                        let (a, t) = p.split_once(':')?;
                        input.points.push(Point {
                            at: a.parse().ok()?,
                            target: t.parse().ok()?,
                        });
                    }
                }
                _ => {}
            }
        }
        input.normalise();
        Some(input)
    }
}

/// A location, as a number (0 is "init": no event).
type SiteKey = u64;

fn site_key(l: &'static Location<'static>) -> SiteKey {
    let mut h = Fx::default();
    h.write_usize(l.file().as_ptr() as usize);
    h.write_u64(((l.line() as u64) << 32) | l.column() as u64);
    h.finish() | 1
}

/// An object as coverage sees it: goroutine operations (spawn, join) name goroutines, whose ids
/// may equal object ids, so they get their own space.
fn obj_key(op: Op, obj: u64) -> u64 {
    (obj << 1) | matches!(op, Op::Spawn | Op::Join) as u64
}

fn is_read(op: Op) -> bool {
    matches!(op, Op::AtomicLoad | Op::Read | Op::RLock | Op::RUnlock)
}

/// What the running goroutine was about to do at one decision of a logged run.
#[derive(Clone, Copy, Debug)]
struct DecisionRec {
    /// The goroutine that could have continued (0: none; the decision was not a preemption
    /// point).
    gid: u32,
    site: SiteKey,
    obj: u64,
    /// A timer was pending: time could have passed here.
    time: bool,
}

/// What a run did, kept with its input for mutation.
#[derive(Debug, Default)]
struct RunLog {
    /// Goroutine decisions (the first `MAX_LOGGED`).
    decisions: Vec<DecisionRec>,
    /// All goroutine decisions of the run.
    total: u32,
    /// Highest goroutine id seen.
    max_gid: u32,
    /// Distinct locations the running goroutine was about to execute at a decision, each with
    /// the decisions where it was (in order).
    sites: Vec<(SiteKey, Vec<u32>)>,
    /// By object: the locations that touched it, each with the goroutines that did (in order
    /// of first appearance).
    touches: BTreeMap<u64, Vec<(SiteKey, Vec<u32>)>>,
}

/// One corpus input.
#[derive(Debug)]
struct Entry {
    input: Input,
    /// The log of its run (`None` until it has run in this process).
    log: Option<Arc<RunLog>>,
    /// Features it added to the coverage.
    added: u32,
    /// Times drawn as a parent.
    drawn: u32,
}

/// Where the input being run came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// A new input (the first, or a fresh one).
    Fresh,
    /// A mutation of corpus entry `parent`.
    Child,
    /// Corpus entry `i`, loaded from the directory, run once to learn its coverage.
    Calibrate(usize),
}

type Fx = MixedFxHasher;

type FxSet = HashSet<u64, BuildHasherDefault<Fx>>;

fn mix(parts: &[u64]) -> u64 {
    let mut h = Fx::default();
    for &p in parts {
        h.write_u64(p);
    }
    h.finish()
}

/// The coverage-guided fuzzing strategy (see the module docs). Select it with
/// `StrategyKind::Fuzz` in the checker, `--strategy fuzz` in the harness or
/// `strategy = "fuzz"` in `#[conc_test]`.
///
/// ```
/// use goweave::explore::Fuzz;
///
/// let stats = goweave::Checker::new()
///     .custom_strategy(Fuzz::new(7))
///     .iterations(50)
///     .run(|| {
///         let h = goweave::go(|| 1);
///         assert_eq!(h.join(), 1);
///     })
///     .unwrap();
/// assert_eq!(stats.schedules, 50);
/// ```
pub struct Fuzz {
    seed: u64,
    /// The mutator's generator (campaign-wide).
    rng: ChaCha8Rng,
    corpus: Vec<Entry>,
    /// Every feature seen.
    coverage: FxSet,
    dir: Option<PathBuf>,
    loaded: bool,
    /// Entries still to run once (loaded, or whose log was dropped), run before any mutation.
    calibrate: Vec<usize>,
    /// Entries holding a log, oldest first (at most `MAX_LOGS`).
    logged: VecDeque<usize>,
    /// Files that could not be written (reported once).
    write_failed: bool,

    // The schedule being run.
    cur: Input,
    origin: Origin,
    /// Its generator: seeded from `cur.seed`.
    srng: ChaCha8Rng,
    /// Goroutine decisions so far.
    k: u32,
    /// The first point not yet passed.
    next_point: usize,
    /// The goroutine that ran at the latest decision, and for how many decisions in a row.
    last: (u64, u32),
    decisions: Vec<DecisionRec>,
}

impl Fuzz {
    /// A fuzzer seeded with `seed`, keeping its corpus in memory only.
    pub fn new(seed: u64) -> Fuzz {
        Fuzz {
            seed,
            rng: ChaCha8Rng::seed_from_u64(schedule_seed(seed, u64::MAX)),
            corpus: Vec::new(),
            coverage: FxSet::default(),
            dir: None,
            loaded: false,
            calibrate: Vec::new(),
            logged: VecDeque::new(),
            write_failed: false,
            cur: Input::plain(seed),
            origin: Origin::Fresh,
            srng: ChaCha8Rng::seed_from_u64(seed),
            k: 0,
            next_point: 0,
            last: (0, 0),
            decisions: Vec::new(),
        }
    }

    /// Keep the corpus in `dir` (created if missing): inputs found there are loaded and run
    /// first, and every input that adds coverage is written there.
    pub fn with_corpus(mut self, dir: impl Into<PathBuf>) -> Fuzz {
        self.dir = Some(dir.into());
        self
    }

    /// Inputs in the corpus.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// Distinct coverage features seen.
    pub fn coverage(&self) -> usize {
        self.coverage.len()
    }

    fn load(&mut self) {
        self.loaded = true;
        let Some(dir) = self.dir.clone() else { return };
        let _ = std::fs::create_dir_all(&dir);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && !is_temp(p))
            .collect();
        files.sort();
        let mut seen = HashSet::new();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            let Some(input) = Input::from_line(&text) else {
                continue;
            };
            if self.corpus.len() >= MAX_CORPUS || !seen.insert(input.clone()) {
                continue;
            }
            self.corpus.push(Entry {
                input,
                log: None,
                added: 0,
                drawn: 0,
            });
        }
        // Run them in file order: `pop` takes from the back.
        self.calibrate = (0..self.corpus.len()).rev().collect();
    }

    fn save(&mut self, input: &Input) {
        let Some(dir) = &self.dir else { return };
        let line = input.to_line();
        let name = format!("{:016x}", mix(&[fnv1a(line.as_bytes())]));
        let path = dir.join(&name);
        if path.exists() {
            return;
        }
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let r = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            if !self.write_failed {
                self.write_failed = true;
                eprintln!(
                    "goweave: fuzz: cannot write to the corpus directory {}: {e}",
                    dir.display()
                );
            }
        }
    }

    /// A parent, drawn with weight (added + 1) / (drawn + 1).
    fn draw_parent(&mut self) -> usize {
        let weights: Vec<f64> = self
            .corpus
            .iter()
            .map(|e| (e.added as f64 + 1.0) / (e.drawn as f64 + 1.0))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut x = unit(&mut self.rng) * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    fn fresh(&mut self) -> Input {
        const NOISE: [u8; 5] = [0, 4, 16, 64, 255];
        Input {
            seed: self.rng.next_u64(),
            noise: NOISE[below(&mut self.rng, NOISE.len() as u64) as usize],
            points: Vec::new(),
        }
    }

    fn mutate(&mut self, parent: usize) -> Input {
        self.corpus[parent].drawn += 1;
        let mut child = self.corpus[parent].input.clone();
        let log = self.corpus[parent]
            .log
            .clone()
            .expect("parents have run in this process");
        let mut n = 1;
        while n < 4 && below(&mut self.rng, 2) == 0 {
            n += 1;
        }
        for _ in 0..n {
            let r = below(&mut self.rng, 100);
            match r {
                0..=44 => self.insert_directed(&mut child, &log),
                45..=54 => self.insert_random(&mut child, &log),
                55..=69 if !child.points.is_empty() => {
                    let i = below(&mut self.rng, child.points.len() as u64) as usize;
                    child.points.remove(i);
                }
                70..=79 if !child.points.is_empty() => {
                    let i = below(&mut self.rng, child.points.len() as u64) as usize;
                    let d = 1 + below(&mut self.rng, 4) as u32;
                    let p = &mut child.points[i];
                    p.at = if below(&mut self.rng, 2) == 0 {
                        p.at.saturating_sub(d)
                    } else {
                        p.at.saturating_add(d)
                    };
                }
                80..=87 if !child.points.is_empty() => {
                    let i = below(&mut self.rng, child.points.len() as u64) as usize;
                    let at = child.points[i].at;
                    child.points[i].target = match log.decisions.get(at as usize) {
                        Some(d) if d.gid != 0 => self.target_for(&log, d),
                        _ => self.random_target(&log, 0),
                    };
                }
                88..=92 if self.corpus.len() > 1 => {
                    let other = below(&mut self.rng, self.corpus.len() as u64) as usize;
                    let cut = below(&mut self.rng, log.total.max(1) as u64) as u32;
                    let theirs: Vec<Point> = self.corpus[other]
                        .input
                        .points
                        .iter()
                        .filter(|p| p.at >= cut)
                        .copied()
                        .collect();
                    child.points.retain(|p| p.at < cut);
                    child.points.extend(theirs);
                }
                93..=96 => child.seed = self.rng.next_u64(),
                97..=99 => {
                    child.noise = match below(&mut self.rng, 3) {
                        0 => 0,
                        1 => child.noise / 2,
                        _ => child.noise.saturating_mul(2).max(4),
                    }
                }
                _ => self.insert_directed(&mut child, &log),
            }
            child.normalise();
        }
        child
    }

    /// Insert a point at a random decision, for a random goroutine.
    fn insert_random(&mut self, input: &mut Input, log: &RunLog) {
        let at = below(&mut self.rng, log.total.max(1) as u64) as u32;
        let target = match log.decisions.get(at as usize) {
            Some(d) if self.time_instead(d) => TIME_TARGET,
            Some(d) => self.random_target(log, d.gid),
            None => self.random_target(log, 0),
        };
        input.points.push(Point { at, target });
    }

    /// Insert a preemption chosen by location (see the module docs).
    fn insert_directed(&mut self, input: &mut Input, log: &RunLog) {
        if log.sites.is_empty() {
            return self.insert_random(input, log);
        }
        let (_, occ) = &log.sites[below(&mut self.rng, log.sites.len() as u64) as usize];
        let i = self.early_index(occ.len());
        let at = occ[i];
        let d = log.decisions[at as usize];
        let target = if self.time_instead(&d) {
            TIME_TARGET
        } else {
            self.target_for(log, &d)
        };
        input.points.push(Point { at, target });
    }

    /// True for a quarter of the insertions at a decision where time could have passed.
    fn time_instead(&mut self, d: &DecisionRec) -> bool {
        d.time && below(&mut self.rng, 4) == 0
    }

    /// An option other than the goroutine that yielded (`d.current`), drawn from the
    /// schedule's generator: another goroutine, or letting time pass. The one that yielded
    /// runs again only if there is nothing else.
    fn give_way(&mut self, d: &Decision<'_>) -> usize {
        let me = d.current.and_then(|c| d.index_of(c));
        let others = d.options() - me.is_some() as usize;
        if others == 0 {
            return default_pick(d);
        }
        let j = below(&mut self.srng, others as u64) as usize;
        match me {
            Some(m) if j >= m => j + 1,
            _ => j,
        }
    }

    /// A goroutine to preempt `d.gid` for: one that touched the same object from a location
    /// (chosen uniformly) other than its own ones.
    fn target_for(&mut self, log: &RunLog, d: &DecisionRec) -> u32 {
        let others: Vec<&(SiteKey, Vec<u32>)> = log
            .touches
            .get(&d.obj)
            .map(|v| {
                v.iter()
                    .filter(|(_, gs)| gs.iter().any(|&g| g != d.gid))
                    .collect()
            })
            .unwrap_or_default();
        if others.is_empty() {
            return self.random_target(log, d.gid);
        }
        let (_, gs) = others[below(&mut self.rng, others.len() as u64) as usize];
        let gs: Vec<u32> = gs.iter().copied().filter(|&g| g != d.gid).collect();
        gs[self.early_index(gs.len())]
    }

    fn random_target(&mut self, log: &RunLog, not: u32) -> u32 {
        let n = log.max_gid.max(2) as u64;
        let mut g = 1 + below(&mut self.rng, n) as u32;
        if g == not {
            g = g % n as u32 + 1;
        }
        g
    }

    /// An index into `0..n`, favouring the first occurrences, where many bugs hide (the first
    /// handoff, the first initialisation): a third of the time the first, a third log-uniform,
    /// a third uniform.
    fn early_index(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        match below(&mut self.rng, 3) {
            0 => 0,
            1 => {
                let u = unit(&mut self.rng);
                (((n as f64 + 1.0).powf(u)).floor() as usize)
                    .saturating_sub(1)
                    .min(n - 1)
            }
            _ => below(&mut self.rng, n as u64) as usize,
        }
    }

    /// The features of a run, and its log.
    fn analyse(&self, obs: &Observation<'_>) -> (FxSet, RunLog) {
        let mut features = FxSet::default();
        let mut log = RunLog {
            decisions: self.decisions.clone(),
            total: self.k,
            ..RunLog::default()
        };
        /// (step, site, op, goroutine) of the latest write-like and read-like event.
        type Last = Option<(u64, SiteKey, Op, u64)>;
        let mut last: HashMap<u64, (Last, Last), BuildHasherDefault<Fx>> = HashMap::default();
        // Per goroutine, the latest cross-goroutine feature (for bigrams).
        let mut prev_cross: HashMap<u64, u64, BuildHasherDefault<Fx>> = HashMap::default();
        let mut touch_index: HashMap<(u64, SiteKey), usize, BuildHasherDefault<Fx>> =
            HashMap::default();
        for (step, e) in obs.trace.iter().enumerate() {
            let step = step as u64;
            log.max_gid = log.max_gid.max(e.goroutine as u32);
            let ev = &e.event;
            if ev.obj.0 == 0 {
                continue;
            }
            let obj = obj_key(ev.op, ev.obj.0);
            let site = site_key(ev.site);
            // Which goroutines touched this object, from where.
            let touches = log.touches.entry(obj).or_default();
            match touch_index.get(&(obj, site)) {
                Some(&i) => {
                    let gs = &mut touches[i].1;
                    if gs.len() < MAX_TOUCHES && !gs.contains(&(e.goroutine as u32)) {
                        gs.push(e.goroutine as u32);
                    }
                }
                None if touches.len() < MAX_TOUCHES => {
                    touch_index.insert((obj, site), touches.len());
                    touches.push((site, vec![e.goroutine as u32]));
                }
                None => {}
            }
            // The conflicting event it observed.
            let (w, r) = last.entry(obj).or_insert((None, None));
            let observed = if is_read(ev.op) {
                *w
            } else {
                match (*w, *r) {
                    (Some(a), Some(b)) => Some(if a.0 > b.0 { a } else { b }),
                    (a, b) => a.or(b),
                }
            };
            let f = match observed {
                Some((_, psite, pop, pg)) => mix(&[
                    1,
                    ev.op as u64,
                    site,
                    pop as u64,
                    psite,
                    (pg == e.goroutine) as u64,
                ]),
                None => mix(&[2, ev.op as u64, site]),
            };
            features.insert(f);
            let cross = observed.is_none_or(|(_, _, _, pg)| pg != e.goroutine);
            if cross {
                let before = prev_cross.insert(e.goroutine, f).unwrap_or(0);
                features.insert(mix(&[3, before, f]));
            }
            let me = Some((step, site, ev.op, e.goroutine));
            if is_read(ev.op) {
                *r = me;
            } else {
                *w = me;
            }
        }
        // Where preemptions may go: decisions at which a goroutine could have continued.
        let mut site_index: HashMap<SiteKey, usize, BuildHasherDefault<Fx>> = HashMap::default();
        for (i, d) in log.decisions.iter().enumerate() {
            if d.gid == 0 {
                continue;
            }
            let at = *site_index.entry(d.site).or_insert_with(|| {
                log.sites.push((d.site, Vec::new()));
                log.sites.len() - 1
            });
            log.sites[at].1.push(i as u32);
        }
        (features, log)
    }
}

fn is_temp(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// A uniform value in [0, 1).
fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl Strategy for Fuzz {
    fn begin(&mut self, iteration: u64) -> bool {
        if !self.loaded {
            self.load();
        }
        let (input, origin) = if let Some(i) = self.calibrate.pop() {
            (self.corpus[i].input.clone(), Origin::Calibrate(i))
        } else if iteration == 0 || self.corpus.is_empty() {
            (Input::plain(self.seed), Origin::Fresh)
        } else if below(&mut self.rng, 10) == 0 {
            (self.fresh(), Origin::Fresh)
        } else {
            match self.draw_parent() {
                p if self.corpus[p].log.is_none() => {
                    (self.corpus[p].input.clone(), Origin::Calibrate(p))
                }
                p => (self.mutate(p), Origin::Child),
            }
        };
        self.srng = ChaCha8Rng::seed_from_u64(input.seed);
        self.cur = input;
        self.origin = origin;
        self.k = 0;
        self.next_point = 0;
        self.last = (0, 0);
        self.decisions.clear();
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        let k = self.k;
        self.k = self.k.saturating_add(1);
        let cont = d.can_continue();
        if self.decisions.len() < MAX_LOGGED {
            let rec = match cont.and_then(|i| d.pending(i).map(|p| (i, p))) {
                Some((i, p)) => DecisionRec {
                    gid: d.runnable[i] as u32,
                    site: site_key(p.event.site),
                    obj: obj_key(p.event.op, p.event.obj.0),
                    time: d.time.is_some(),
                },
                None => DecisionRec {
                    gid: 0,
                    site: 0,
                    obj: 0,
                    time: d.time.is_some(),
                },
            };
            self.decisions.push(rec);
        }
        let points = &self.cur.points;
        while self.next_point < points.len() && points[self.next_point].at < k {
            self.next_point += 1;
        }
        // Random choices may also let time pass (option `runnable.len()`, when a timer is
        // pending); points name goroutines, or time (`TIME_TARGET`).
        let n = d.options();
        let pick = if self.next_point < points.len() && points[self.next_point].at == k {
            let t = points[self.next_point].target;
            match d.time_index() {
                Some(time) if t == TIME_TARGET => time,
                _ => d
                    .index_of(t as u64)
                    .unwrap_or(t as usize % d.runnable.len()),
            }
        } else {
            match cont {
                Some(i)
                    if self.last.1 < MAX_RUN
                        && (self.cur.noise == 0
                            || below(&mut self.srng, 256) >= self.cur.noise as u64) =>
                {
                    i
                }
                Some(_) => below(&mut self.srng, n as u64) as usize,
                None if d.yielded => self.give_way(d),
                None => below(&mut self.srng, n as u64) as usize,
            }
        };
        let g = d.runnable.get(pick).copied().unwrap_or(0);
        self.last = if g == self.last.0 {
            (g, self.last.1 + 1)
        } else {
            (g, 0)
        };
        pick
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        below(&mut self.srng, d.n)
    }

    fn wants_trace(&self) -> bool {
        true
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        let (features, log) = self.analyse(obs);
        let before = self.coverage.len();
        self.coverage.extend(features);
        let added = (self.coverage.len() - before) as u32;
        let keep = match self.origin {
            Origin::Calibrate(i) => {
                self.corpus[i].added = self.corpus[i].added.max(added);
                Some(i)
            }
            Origin::Fresh | Origin::Child if added > 0 && self.corpus.len() < MAX_CORPUS => {
                let input = self.cur.clone();
                self.save(&input);
                self.corpus.push(Entry {
                    input,
                    log: None,
                    added,
                    drawn: 0,
                });
                Some(self.corpus.len() - 1)
            }
            Origin::Fresh | Origin::Child => None,
        };
        if let Some(i) = keep {
            self.corpus[i].log = Some(Arc::new(log));
            self.logged.retain(|&j| j != i);
            self.logged.push_back(i);
            while self.logged.len() > MAX_LOGS {
                let old = self.logged.pop_front().expect("not empty");
                self.corpus[old].log = None;
            }
        }
    }

    fn describe(&self) -> String {
        match &self.dir {
            Some(d) => format!("fuzz(seed={}, corpus={})", self.seed, d.display()),
            None => format!("fuzz(seed={})", self.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip_through_text() {
        let mut i = Input {
            seed: 0xdead_beef,
            noise: 16,
            points: vec![Point { at: 40, target: 3 }, Point { at: 2, target: 21 }],
        };
        i.normalise();
        assert_eq!(Input::from_line(&i.to_line()), Some(i.clone()));
        assert_eq!(
            Input::from_line("gwfuzz1 seed=0x0 noise=0 points="),
            Some(Input::plain(0))
        );
        assert_eq!(Input::from_line("something else"), None);
        assert_eq!(Input::from_line("gwfuzz1 seed=zz"), None);
    }

    #[test]
    fn early_index_stays_in_range_and_favours_the_start() {
        let mut f = Fuzz::new(1);
        let mut first = 0;
        for _ in 0..10_000 {
            let i = f.early_index(100);
            assert!(i < 100);
            first += (i == 0) as u32;
        }
        // Uniform alone would give about 33; the first-occurrence third adds about 3,333.
        assert!(first > 3_000, "{first}");
        assert_eq!(f.early_index(1), 0);
    }
}
