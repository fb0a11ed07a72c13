//! A failing schedule and everything a person needs to understand and replay it.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use crate::explore::TimerMode;
use crate::report;
use crate::schedule::{token_file, Schedule};
pub use crate::verdict::FailureKind;
use crate::verdict::{Stall, Status, TraceEntry, Verdict};

/// The footer line that offers full backtraces, in reports of goroutine dumps made without them.
pub(crate) const BACKTRACE_HINT: &str =
    "full backtraces: add GOWEAVE_BACKTRACE=1 to the replay command";

/// What makes two failing runs "the same failure" for shrinking: the kind, and for a panic
/// also where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Signature {
    Panic(String),
    Other(FailureKind),
}

impl Signature {
    pub(crate) fn of(v: &Verdict) -> Signature {
        match v {
            Verdict::Panic(p) => Signature::Panic(p.location.clone()),
            Verdict::Deadlock(_) => Signature::Other(FailureKind::Deadlock),
            Verdict::Livelock { .. } => Signature::Other(FailureKind::Livelock),
            Verdict::Nondeterminism { .. } => Signature::Other(FailureKind::Nondeterminism),
            Verdict::Race(_) => Signature::Other(FailureKind::Race),
            Verdict::Leak(_) => Signature::Other(FailureKind::Leak),
        }
    }
}

/// Where a failing run failed, as [`Failure::location`] gives it: two failures of one kind
/// at the same location are the same failure for [`Checker::run_to_end`](crate::Checker::run_to_end).
pub(crate) fn location_of(v: &Verdict) -> String {
    // Sorted and deduplicated: which goroutine ids stand where, and in which order the dump
    // lists them, varies between schedules of the same bug.
    let sites = |gs: &[crate::verdict::GoroutineDump], want: fn(Status) -> bool| {
        let mut v: Vec<String> = gs
            .iter()
            .filter(|g| want(g.status))
            .map(|g| match g.status {
                // `Location`'s `Display` is `file:line:column`.
                Status::Waiting => format!("[{}] {}", g.wait_reason.as_str(), g.site),
                _ => g.site.to_string(),
            })
            .collect();
        v.sort();
        v.dedup();
        v.join(", ")
    };
    match v {
        Verdict::Panic(p) => p.location.clone(),
        Verdict::Race(r) => {
            let mut pair = [r.site.to_string(), r.previous_site.to_string()];
            pair.sort();
            format!("{} and {}", pair[0], pair[1])
        }
        Verdict::Deadlock(gs) | Verdict::Leak(gs) => sites(gs, |s| s != Status::Dead),
        Verdict::Livelock { goroutines, .. } => sites(goroutines, |s| {
            matches!(s, Status::Runnable | Status::Running)
        }),
        Verdict::Nondeterminism { .. } => String::new(),
    }
}

/// How shrinking went.
#[derive(Clone, Debug)]
pub(crate) struct ShrinkSummary {
    /// (preemptions, steps) before and after.
    pub(crate) before: (u64, u64),
    pub(crate) after: (u64, u64),
    /// Candidate schedules run.
    pub(crate) runs: u64,
    pub(crate) elapsed: Duration,
    /// True if no schedule with fewer preemptions fails this way (the bounded search
    /// finished).
    pub(crate) minimal: bool,
    /// True if the budget ran out.
    pub(crate) timed_out: bool,
}

/// A failing schedule: the report, the replay tokens (shrunk and original) and the trace.
///
/// `Display` prints the whole report: the Go-shaped description, the interleaving, how it was
/// found and shrunk, and last the line that replays it.
#[derive(Clone)]
pub struct Failure(pub(crate) Box<Data>);

/// Everything in a [`Failure`] (boxed, so that `Result<Stats, Failure>` stays small).
#[derive(Clone)]
pub(crate) struct Data {
    pub(crate) kind: FailureKind,
    /// See [`Failure::location`].
    pub(crate) location: String,
    pub(crate) report: String,
    pub(crate) trace: Vec<TraceEntry>,
    pub(crate) full_trace: bool,
    pub(crate) schedule: Schedule,
    pub(crate) original: Schedule,
    pub(crate) preemptions: u64,
    pub(crate) original_preemptions: u64,
    pub(crate) iteration: u64,
    pub(crate) found_by: String,
    pub(crate) shrink: Option<ShrinkSummary>,
    pub(crate) test_name: Option<String>,
    /// Extra lines (a trace file written, a replay that did not reproduce).
    pub(crate) notes: Vec<String>,
    /// No schedule can be replayed (a watchdog failure).
    pub(crate) replayable: bool,
    /// The report was made with full backtraces on (`GOWEAVE_BACKTRACE`).
    pub(crate) backtraces: bool,
    /// Hand-offs, blocked intervals and the failing events, for the HTML trace.
    pub(crate) graph: report::Graph,
    /// The largest stall the shrunk schedule assumed, and the timer mode it ran under.
    pub(crate) stall: Option<(Stall, TimerMode)>,
    /// `schedule`'s token, made when first asked for.
    pub(crate) token: OnceLock<String>,
    /// `original`'s token, made when first asked for.
    pub(crate) original_token: OnceLock<String>,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, report: String) -> Failure {
        Failure(Box::new(Data {
            kind,
            location: String::new(),
            report,
            trace: Vec::new(),
            full_trace: false,
            schedule: Schedule::default(),
            original: Schedule::default(),
            preemptions: 0,
            original_preemptions: 0,
            iteration: 0,
            found_by: String::new(),
            shrink: None,
            test_name: None,
            notes: Vec::new(),
            replayable: true,
            backtraces: false,
            graph: report::Graph::default(),
            stall: None,
            token: OnceLock::new(),
            original_token: OnceLock::new(),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> FailureKind {
        self.0.kind
    }

    /// Where the schedule failed, as it was found (before shrinking): for a panic its
    /// `file:line:column`; for a race the two accesses' sites (`a.rs:3:9 and a.rs:7:9`, in
    /// sorted order); for a deadlock or a leak the blocked goroutines' wait reasons and sites
    /// (`[chan receive] a.rs:5:20, [sync.Mutex.Lock] a.rs:9:13`, sorted, each once); for a
    /// livelock the sites of the goroutines that could still run. With the kind, it tells
    /// distinct failures apart in [`Checker::run_to_end`](crate::Checker::run_to_end).
    /// Empty for failures that name no place (a replay that diverged, the watchdog's).
    pub fn location(&self) -> &str {
        &self.0.location
    }

    /// The Go-shaped report alone (no trace, no replay line).
    pub fn report(&self) -> &str {
        &self.0.report
    }

    /// The token that replays the shrunk schedule; `None` for a failure no schedule can
    /// replay (the watchdog's [`FailureKind::Blocked`]).
    pub fn token(&self) -> Option<&str> {
        self.0.replayable.then(|| {
            self.0
                .token
                .get_or_init(|| self.0.schedule.token())
                .as_str()
        })
    }

    /// The token that replays the schedule as it was first found (`None` as for
    /// [`token`](Failure::token)).
    pub fn original_token(&self) -> Option<&str> {
        self.0.replayable.then(|| {
            self.0
                .original_token
                .get_or_init(|| self.0.original.token())
                .as_str()
        })
    }

    /// The shrunk schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.0.schedule
    }

    /// The schedule as first found.
    pub fn original_schedule(&self) -> &Schedule {
        &self.0.original
    }

    /// Preemptions in the shrunk schedule.
    pub fn preemptions(&self) -> u64 {
        self.0.preemptions
    }

    /// Preemptions in the schedule as first found.
    pub fn original_preemptions(&self) -> u64 {
        self.0.original_preemptions
    }

    /// True if shrinking proved that no schedule with fewer preemptions fails this way.
    pub fn minimal(&self) -> bool {
        self.0.shrink.as_ref().is_some_and(|s| s.minimal)
    }

    /// The events of the shrunk schedule, in the order they happened.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.0.trace
    }

    /// The trace as Chrome trace-event JSON (one track per goroutine), for Perfetto or
    /// `chrome://tracing`. `GOWEAVE_TRACE_FILE=path` writes it when the failure is found.
    pub fn chrome_trace(&self) -> String {
        report::chrome_trace(&self.0.trace)
    }

    /// The interleaving as one self-contained HTML page (a lane per goroutine, hand-offs,
    /// blocked intervals, the failing events highlighted, the replay line on top).
    /// `GOWEAVE_TRACE_FILE=path.html` writes it when the failure is found.
    pub fn html_trace(&self) -> String {
        report::html_trace(&self.page())
    }

    /// What the HTML trace shows of this failure.
    pub(crate) fn page(&self) -> report::Page<'_> {
        report::Page {
            kind: self.0.kind,
            test_name: self.0.test_name.as_deref(),
            report: &self.0.report,
            replay_line: self.replay_line(),
            full_text: self.to_string(),
            trace: &self.0.trace,
            graph: &self.0.graph,
        }
    }

    /// The largest stall the shrunk schedule assumed: how long time kept a goroutine that could
    /// run waiting while a timer fired (`None` if time passed only with every goroutine blocked
    /// or polling). See [`Checker::max_stall`](crate::Checker::max_stall).
    pub fn stall(&self) -> Option<Stall> {
        self.0.stall.map(|(s, _)| s)
    }

    /// Which schedule (from 0) failed.
    pub fn iteration(&self) -> u64 {
        self.0.iteration
    }

    /// The line that replays the failure, e.g.
    /// `replay: GOWEAVE_REPLAY=gw1:... cargo test -- name --exact`. A token longer than
    /// [`LONG_TOKEN`](crate::schedule::LONG_TOKEN) is written to a file under the target
    /// directory, and the line names it: `GOWEAVE_REPLAY=@/path/to/target/goweave/replay-....token`.
    pub fn replay_line(&self) -> String {
        if !self.0.replayable {
            return "replay: not available (the schedule is stuck in the blocked goroutine)".into();
        }
        let (arg, note) = token_file::replay_arg(self.token().unwrap_or_default());
        let note = note.map(|n| format!("{n}\n")).unwrap_or_default();
        match &self.0.test_name {
            Some(name) => {
                format!("{note}replay: GOWEAVE_REPLAY={arg} cargo test -- {name} --exact")
            }
            None => format!("{note}replay: GOWEAVE_REPLAY={arg}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.report.trim_end())?;
        f.write_str("\n\n")?;
        if let Some((stall, timers)) = &self.0.stall {
            writeln!(f, "{}\n", report::stall_line(stall, *timers))?;
        }
        if !self.0.trace.is_empty() {
            f.write_str(&report::render_trace(&self.0.trace, self.0.full_trace))?;
            f.write_str("\n")?;
        }
        for n in &self.0.notes {
            writeln!(f, "{n}")?;
        }
        if !self.0.found_by.is_empty() {
            write!(
                f,
                "found by {} at schedule {}",
                self.0.found_by,
                self.0.iteration + 1
            )?;
            match &self.0.shrink {
                Some(s) => writeln!(
                    f,
                    "; shrunk from {} preemptions / {} steps to {} / {} in {} runs, {:.2?}{}",
                    s.before.0,
                    s.before.1,
                    s.after.0,
                    s.after.1,
                    s.runs,
                    s.elapsed,
                    if s.minimal {
                        " (fewest possible preemptions)"
                    } else if s.timed_out {
                        " (budget ran out)"
                    } else {
                        ""
                    }
                )?,
                None => writeln!(f)?,
            }
        }
        if self.0.replayable && self.0.shrink.is_some() {
            let (arg, _) = token_file::replay_arg(self.original_token().unwrap_or_default());
            writeln!(f, "original: GOWEAVE_REPLAY={arg}")?;
        }
        if self.0.replayable
            && !self.0.backtraces
            && matches!(
                self.0.kind,
                FailureKind::Deadlock | FailureKind::Leak | FailureKind::Livelock
            )
        {
            writeln!(f, "{BACKTRACE_HINT}")?;
        }
        f.write_str(&self.replay_line())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} failure:\n{self}", self.0.kind)
    }
}

impl std::error::Error for Failure {}
