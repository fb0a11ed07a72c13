//! The progress line: on a terminal, once the run has lasted a second, one line on stderr
//! with the schedules done, the rate and an estimate of the time left, rewritten in place.
//!
//! Invariant: the line is written and cleared only under `state`'s lock, and cleared whenever
//! a test finishes, just before libtest-mimic prints that test's result on stdout.
//!
//! When tests run one at a time and stdout is the same terminal, libtest-mimic has already
//! printed `test name ... ` when the line first appears: the line then goes one row below it,
//! and when the test ends the cursor goes back to the end of `test name ... `, so the result
//! lands where libtest-mimic means it to.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One test being explored.
struct Running {
    id: u64,
    /// Schedules begun.
    done: Arc<AtomicU64>,
    /// Schedules planned for this process.
    planned: u64,
    /// An exhaustive search's estimate of the fraction of it done (`f64` bits; 0 if none).
    explored: Arc<AtomicU64>,
    start: Instant,
    deadline: Option<Instant>,
}

#[derive(Default)]
struct State {
    running: Vec<Running>,
    /// Schedules of tests that have finished.
    finished: u64,
    next_id: u64,
    /// A line is on screen.
    shown: bool,
    /// The line was put one row below libtest-mimic's `test name ... ` (sequential runs).
    moved_down: bool,
    stop: bool,
}

/// The progress reporter; inert unless stderr is a terminal.
pub(crate) struct Progress {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
    enabled: bool,
    /// In a sequential run on a terminal: the column (from 1) just after libtest-mimic's
    /// `test name ... `.
    anchor: Option<usize>,
}

/// A test's registration with the reporter.
pub(crate) struct Ticket {
    id: u64,
    /// Incremented at every schedule begun.
    pub(crate) counter: Arc<AtomicU64>,
    /// Where an exhaustive search publishes the fraction of it done (`f64` bits).
    pub(crate) estimate: Arc<AtomicU64>,
}

impl Progress {
    /// Start reporting if stderr is a terminal and `enabled`. `sequential_names` is the width
    /// of the test names when libtest-mimic runs tests one at a time in its pretty format.
    pub(crate) fn start(enabled: bool, sequential_names: Option<usize>) -> Progress {
        let enabled = enabled && std::io::stderr().is_terminal();
        let anchor = sequential_names
            .filter(|_| std::io::stdout().is_terminal())
            .map(|w| "test ".len() + w + " ... ".len() + 1);
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let thread = enabled.then(|| {
            let state = state.clone();
            std::thread::Builder::new()
                .name("goweave-progress".into())
                .spawn(move || ticker(&state, anchor.is_some()))
                .expect("goweave: cannot start the progress thread")
        });
        Progress {
            state,
            thread: Mutex::new(thread),
            enabled,
            anchor,
        }
    }

    /// A test starts: `planned` schedules, within `budget` if set.
    pub(crate) fn begin(&self, planned: u64, budget: Option<Duration>) -> Ticket {
        let counter = Arc::new(AtomicU64::new(0));
        let estimate = Arc::new(AtomicU64::new(0));
        let mut st = self.state.0.lock().expect("progress lock");
        let id = st.next_id;
        st.next_id += 1;
        let now = Instant::now();
        st.running.push(Running {
            id,
            done: counter.clone(),
            planned,
            explored: estimate.clone(),
            start: now,
            deadline: budget.map(|b| now + b),
        });
        Ticket {
            id,
            counter,
            estimate,
        }
    }

    /// A test is done: forget it and clear the line.
    pub(crate) fn end(&self, t: Ticket) {
        let mut st = self.state.0.lock().expect("progress lock");
        st.running.retain(|r| r.id != t.id);
        st.finished += t.counter.load(Ordering::Relaxed);
        if st.shown {
            clear_line();
            st.shown = false;
        }
        if st.moved_down {
            if let Some(col) = self.anchor {
                let mut e = std::io::stderr().lock();
                let _ = write!(e, "\x1b[1A\x1b[{col}G");
                let _ = e.flush();
            }
            st.moved_down = false;
        }
    }

    /// Stop the reporter and clear its line.
    pub(crate) fn finish(&self) {
        if !self.enabled {
            return;
        }
        {
            let mut st = self.state.0.lock().expect("progress lock");
            st.stop = true;
            if st.shown {
                clear_line();
                st.shown = false;
            }
        }
        self.state.1.notify_all();
        if let Some(t) = self.thread.lock().expect("progress thread").take() {
            let _ = t.join();
        }
    }
}

fn clear_line() {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(b"\r\x1b[2K");
    let _ = e.flush();
}

fn ticker(state: &(Mutex<State>, Condvar), below: bool) {
    let start = Instant::now();
    let mut st = state.0.lock().expect("progress lock");
    loop {
        st = state
            .1
            .wait_timeout(st, Duration::from_millis(250))
            .expect("progress lock")
            .0;
        if st.stop {
            return;
        }
        if start.elapsed() < Duration::from_secs(1) || st.running.is_empty() {
            continue;
        }
        let line = render(&st, start.elapsed());
        let mut e = std::io::stderr().lock();
        if below && !st.moved_down {
            let _ = e.write_all(b"\n");
            st.moved_down = true;
        }
        let _ = write!(e, "\r\x1b[2K{line}");
        let _ = e.flush();
        st.shown = true;
    }
}

/// `goweave: 2 tests running, 12,345 schedules, 4,321/s, ~3s left`; with an exhaustive search
/// (`dfs`, DPOR), the share of its tree explored so far: `..., 4,321/s, ~37% explored, ~9s
/// left` (the time left then assumes the rest of the tree is like what was explored).
fn render(st: &State, elapsed: Duration) -> String {
    let now = Instant::now();
    let running: u64 = st
        .running
        .iter()
        .map(|r| r.done.load(Ordering::Relaxed))
        .sum();
    let total = st.finished + running;
    let rate = total as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut left: Option<f64> = Some(0.0);
    let mut explored = None;
    for r in &st.running {
        let done = r.done.load(Ordering::Relaxed);
        let secs = r.start.elapsed().as_secs_f64().max(1e-9);
        let own_rate = done as f64 / secs;
        let by_count = (r.planned != u64::MAX && own_rate > 0.0)
            .then(|| r.planned.saturating_sub(done) as f64 / own_rate);
        // An exhaustive search that estimates the share of its tree done: the schedules
        // left are in proportion.
        let f = f64::from_bits(r.explored.load(Ordering::Relaxed));
        let by_tree =
            (f > 0.0 && f <= 1.0 && own_rate > 0.0).then(|| done as f64 * (1.0 - f) / f / own_rate);
        if f > 0.0 {
            explored = Some(explored.map_or(f, |e: f64| e.min(f)));
        }
        let by_count = match (by_count, by_tree) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let by_deadline = r
            .deadline
            .map(|d| d.saturating_duration_since(now).as_secs_f64());
        let est = match (by_count, by_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        left = match (left, est) {
            (Some(l), Some(e)) => Some(l.max(e)),
            _ => None,
        };
    }
    let left = match left {
        Some(s) => format!("~{} left", fmt_secs(s)),
        None => "time left unknown".into(),
    };
    let left = match explored {
        Some(f) => format!("~{}% explored, {left}", (f * 100.0).floor() as u64),
        None => left,
    };
    format!(
        "goweave: {} test{} running, {} schedules, {}/s, {left}",
        st.running.len(),
        if st.running.len() == 1 { "" } else { "s" },
        thousands(total),
        thousands(rate as u64),
    )
}

fn fmt_secs(s: f64) -> String {
    if s < 60.0 {
        format!("{}s", s.ceil() as u64)
    } else {
        let s = s.ceil() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `12345` → `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_line_estimates_time_left() {
        let done = Arc::new(AtomicU64::new(500));
        let st = State {
            running: vec![Running {
                id: 0,
                done,
                planned: 1000,
                explored: Arc::default(),
                start: Instant::now() - Duration::from_secs(2),
                deadline: None,
            }],
            finished: 100,
            ..State::default()
        };
        let line = render(&st, Duration::from_secs(2));
        assert!(
            line.starts_with("goweave: 1 test running, 600 schedules, 300/s, ~"),
            "{line}"
        );
        assert!(line.ends_with("s left"), "{line}");
    }

    #[test]
    fn an_exhaustive_search_shows_its_explored_share_and_the_time_it_implies() {
        // 300 schedules in just under 3 s (about 100/s), a quarter of the tree: 900 more,
        // just under 9 s.
        let st = State {
            running: vec![Running {
                id: 0,
                done: Arc::new(AtomicU64::new(300)),
                planned: u64::MAX,
                explored: Arc::new(AtomicU64::new(0.25f64.to_bits())),
                start: Instant::now() - Duration::from_millis(2950),
                deadline: None,
            }],
            ..State::default()
        };
        let line = render(&st, Duration::from_secs(3));
        assert!(line.ends_with(", ~25% explored, ~9s left"), "{line}");
        // Without an estimate, an unbounded search has no time left to show.
        let st = State {
            running: vec![Running {
                explored: Arc::default(),
                ..st.running.into_iter().next().unwrap()
            }],
            ..State::default()
        };
        let line = render(&st, Duration::from_secs(3));
        assert!(line.ends_with(", time left unknown"), "{line}");
    }
}
