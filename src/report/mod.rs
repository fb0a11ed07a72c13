//! Failure reports shaped like Go's (`goroutine 7 [chan receive]:`), the numbered trace of an
//! interleaving, and its export as Chrome trace-event JSON (one track per goroutine) for
//! Perfetto or `chrome://tracing`.
//!
//! Everything here is a pure function from data (a [`Verdict`], a list of [`TraceEntry`]s, the
//! backtraces a verdict carries) to text: the one place where goweave writes what a person
//! reads about a failure.

mod html;

pub(crate) use html::{html_trace, write_trace_file, Graph, Page};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

mod backtrace;
mod goroutine;
mod panic;
mod race;
mod stall;

use crate::schedule::FINGERPRINT_EVENTS;
pub use crate::verdict::TraceEntry;
use crate::verdict::{FailureKind, GoroutineDump, ObjId, Op, Status, Verdict};
pub(crate) use stall::{held_back_note, stall_line};

/// Events shown by default at the end of a trace.
pub(crate) const TRACE_TAIL: usize = 40;

/// The kind of a verdict and its Go-shaped report (ending with a newline).
pub(crate) fn verdict_report(v: &Verdict) -> (FailureKind, String) {
    match v {
        Verdict::Panic(p) => {
            let mut s = format!("{p}\n\n");
            let kind = if p.task { "task" } else { "goroutine" };
            match &p.name {
                Some(n) => {
                    let _ = writeln!(s, "{kind} {} \"{n}\" [running]:", p.goroutine);
                }
                None => {
                    let _ = writeln!(s, "{kind} {} [running]:", p.goroutine);
                }
            }
            let _ = writeln!(s, "    panicked at {}", p.location);
            if p.goroutine == 1 {
                s.push_str("created by the checker (main: the body under test)\n");
            } else {
                let _ = writeln!(s, "created at {}", p.spawned_at);
            }
            // With `GOWEAVE_BACKTRACE`, the replay that produced this verdict captured where
            // the goroutine was created.
            if let Some(st) = &p.created {
                let frames = st.render();
                if !frames.is_empty() {
                    let _ = writeln!(s, "{frames}");
                }
            }
            (FailureKind::Panic, s)
        }
        Verdict::Deadlock(dump) => {
            let mut s = String::from("all goroutines are asleep - deadlock!\n");
            push_dumps(&mut s, dump);
            (FailureKind::Deadlock, s)
        }
        Verdict::Livelock {
            max_steps,
            goroutines,
        } => {
            let spinning: Vec<String> = goroutines
                .iter()
                .filter(|d| matches!(d.status, Status::Runnable | Status::Running))
                .map(|d| d.id.to_string())
                .collect();
            let mut s = format!(
                "livelock: the schedule passed {max_steps} scheduling points (max_steps) without finishing; goroutines still spinning: {}\n",
                if spinning.is_empty() {
                    "none".to_string()
                } else {
                    spinning.join(", ")
                }
            );
            push_dumps(&mut s, goroutines);
            (FailureKind::Livelock, s)
        }
        Verdict::Race(r) => (FailureKind::Race, r.to_string()),
        Verdict::Leak(dump) => {
            let mut s = String::from("found unexpected goroutines:\n");
            push_dumps(&mut s, dump);
            (FailureKind::Leak, s)
        }
        Verdict::Nondeterminism { step, reason } => (
            FailureKind::Nondeterminism,
            format!(
                "nondeterminism: the replayed schedule diverged from the program at step {step}: {reason}\n"
            ),
        ),
    }
}

fn push_dumps(s: &mut String, dump: &[GoroutineDump]) {
    for d in dump {
        s.push('\n');
        let _ = writeln!(s, "{d}");
    }
}

/// The report of a replay that did not follow its token, if it did not: `changed` if the
/// first events do not match the token's fingerprint, `diverged` how the schedule diverged,
/// `past_fingerprint` if both runs got beyond the events the fingerprint covers.
pub(crate) fn replay_mismatch(
    changed: bool,
    diverged: Option<&str>,
    past_fingerprint: bool,
) -> Option<String> {
    const CAUSES: &str =
        "(real time, I/O, std threads, a HashMap's order or state kept between runs)";
    if changed {
        let mut s = String::from(
            "replay: this token was recorded from a different program: the first events of the run do not match the token's fingerprint; the code under test (or goweave) has changed since the failure was found\n",
        );
        if let Some(d) = diverged {
            let _ = writeln!(s, "the schedule then diverged: {d}");
        }
        return Some(s);
    }
    let d = diverged?;
    Some(if past_fingerprint {
        format!(
            "nondeterminism: the replay diverged from its token {d}; the first {FINGERPRINT_EVENTS} events matched the recording, so the program is probably nondeterministic {CAUSES}\n"
        )
    } else {
        format!(
            "nondeterminism: the replay diverged from its token {d}; the program has changed since the token was recorded, or it is nondeterministic {CAUSES}\n"
        )
    })
}

/// The report of a goroutine (0: the scheduler) that has not reached a scheduling point for
/// `after`, last seen at `site`.
pub(crate) fn blocked(
    goroutine: u64,
    after: std::time::Duration,
    site: Option<&'static std::panic::Location<'static>>,
) -> String {
    let who = if goroutine == 0 {
        "the scheduler".to_string()
    } else {
        format!("goroutine {goroutine}")
    };
    let site = site.map_or_else(|| "<unknown>".to_string(), |s| s.to_string());
    format!(
        "goweave: {who} has not reached a scheduling point for {after:?}: it is blocked outside goweave's control (a std lock, I/O, a std thread join or sleep) or computing without yielding; it last yielded at {site}"
    )
}

/// The text of an object id in a trace: `g5` for goroutine operations, `#3` for objects, `-`
/// for none.
fn object(e: &TraceEntry) -> String {
    object_in(e, &BTreeSet::new())
}

/// [`object`], with the goroutines in `tasks` labelled `t5`.
fn object_in(e: &TraceEntry, tasks: &BTreeSet<u64>) -> String {
    match e.event.op {
        Op::Spawn | Op::Join => who(e.event.obj.0, tasks),
        _ if e.event.obj == ObjId(0) => "-".into(),
        _ => e.event.obj.to_string(),
    }
}

/// `g5`, or `t5` for a task.
fn who(g: u64, tasks: &BTreeSet<u64>) -> String {
    if tasks.contains(&g) {
        format!("t{g}")
    } else {
        format!("g{g}")
    }
}

/// The numbered interleaving: the last [`TRACE_TAIL`] events, or all of them with `full`.
pub(crate) fn render_trace(trace: &[TraceEntry], full: bool) -> String {
    let mut s = String::new();
    if trace.is_empty() {
        return s;
    }
    let from = if full {
        0
    } else {
        trace.len().saturating_sub(TRACE_TAIL)
    };
    if from == 0 {
        let _ = writeln!(s, "interleaving ({} events):", trace.len());
    } else {
        let _ = writeln!(
            s,
            "interleaving (last {} of {} events; GOWEAVE_TRACE=full shows all):",
            trace.len() - from,
            trace.len()
        );
    }
    // The tasks among the goroutines that ran (a task that never ran is labelled `g`).
    let tasks: BTreeSet<u64> = trace
        .iter()
        .filter(|e| e.task)
        .map(|e| e.goroutine)
        .collect();
    let w = trace.last().map_or(4, |e| e.step.to_string().len()).max(5);
    let _ = writeln!(
        s,
        "  {:>w$}  {:<9}  {:<12}  {:<6}  location",
        "step", "goroutine", "operation", "object"
    );
    for e in &trace[from..] {
        let _ = write!(
            s,
            "  {:>w$}  {:<9}  {:<12}  {:<6}  {}",
            e.step,
            who(e.goroutine, &tasks),
            e.event.op.name(),
            object_in(e, &tasks),
            e.event.site
        );
        if let Some(p) = e.preempted {
            let _ = write!(s, "  <- preempts {}", who(p, &tasks));
        }
        s.push('\n');
    }
    s
}

/// The trace as Chrome trace-event JSON: one track (thread) per goroutine, one slice per
/// event, one microsecond per step.
pub(crate) fn chrome_trace(trace: &[TraceEntry]) -> String {
    let mut s = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    let mut goroutines = BTreeMap::new();
    for e in trace {
        goroutines.entry(e.goroutine).or_insert(());
    }
    let mut first = true;
    let mut sep = |s: &mut String| {
        if !first {
            s.push_str(",\n");
        }
        first = false;
    };
    sep(&mut s);
    s.push_str(
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"goweave schedule\"}}",
    );
    for g in goroutines.keys() {
        sep(&mut s);
        let _ = write!(
            s,
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{g},\"args\":{{\"name\":\"goroutine {g}\"}}}}"
        );
    }
    for e in trace {
        sep(&mut s);
        let name = match e.event.obj {
            ObjId(0) => e.event.op.name().to_string(),
            _ => format!("{} {}", e.event.op.name(), object(e)),
        };
        let _ = write!(
            s,
            "{{\"name\":{},\"cat\":\"goweave\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{},\"dur\":1,\"args\":{{\"step\":{},\"location\":{}",
            json_str(&name),
            e.goroutine,
            e.step,
            e.step,
            json_str(&e.event.site.to_string())
        );
        if let Some(p) = e.preempted {
            let _ = write!(s, ",\"preempts\":\"goroutine {p}\"");
        }
        s.push_str("}}");
    }
    s.push_str("\n]}\n");
    s
}

/// A JSON string literal.
fn json_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    crate::util::json::escape_into(&mut s, v);
    s.push('"');
    s
}

/// `s` escaped for the inside of a JSON string (RFC 8259): quotes and backslashes escaped, control
/// characters as escapes (for tools that write goweave's reports into JSON, as
/// `goweave-harness --format json` does).
///
/// ```
/// assert_eq!(goweave::report::escape_json("a\"b\n"), "a\\\"b\\n");
/// ```
pub fn escape_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::util::json::escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::event::Event;
    use std::panic::Location;

    fn entry(step: u64, g: u64, op: Op, obj: u64) -> TraceEntry {
        TraceEntry {
            step,
            goroutine: g,
            event: Event::new(op, ObjId(obj), Location::caller()),
            preempted: (step == 2).then_some(1),
            task: false,
        }
    }

    #[test]
    fn trace_shows_the_tail_and_marks_preemptions() {
        let t: Vec<_> = (1..=50).map(|i| entry(i, 1 + i % 2, Op::Lock, 3)).collect();
        let r = render_trace(&t, false);
        assert!(r.starts_with("interleaving (last 40 of 50 events;"), "{r}");
        assert_eq!(r.lines().count(), 42);
        let full = render_trace(&t, true);
        assert_eq!(full.lines().count(), 52);
        assert!(full.contains("<- preempts g1"), "{full}");
    }

    #[test]
    fn chrome_trace_has_one_track_per_goroutine() {
        let t = vec![entry(1, 1, Op::Spawn, 2), entry(2, 2, Op::Lock, 3)];
        let j = chrome_trace(&t);
        assert!(j.contains("\"args\":{\"name\":\"goroutine 1\"}"), "{j}");
        assert!(j.contains("\"args\":{\"name\":\"goroutine 2\"}"), "{j}");
        assert!(j.contains("\"name\":\"go g2\""), "{j}");
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
