//! Failure reports shaped like Go's (`goroutine 7 [chan receive]:`), the numbered trace of an
//! interleaving, and its export as Chrome trace-event JSON (one track per goroutine) for
//! Perfetto or `chrome://tracing`.
//!
//! Everything here is a pure function from what the controlled executor left behind (a
//! verdict, a list of [`TraceEntry`]s) to text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

mod backtrace;
mod goroutine;
mod panic;
mod race;

use crate::runtime::dump::backtraces;
pub use crate::verdict::TraceEntry;
use crate::verdict::{FailureKind, GoroutineDump, ObjId, Op, Status, Verdict};

/// Events shown by default at the end of a trace.
pub(crate) const TRACE_TAIL: usize = 40;

/// The kind of a verdict and its Go-shaped report (ending with a newline).
pub(crate) fn verdict_report(v: &Verdict) -> (FailureKind, String) {
    match v {
        Verdict::Panic(p) => {
            let mut s = format!("{p}\n\n");
            match &p.name {
                Some(n) => {
                    let _ = writeln!(s, "goroutine {} \"{n}\" [running]:", p.goroutine);
                }
                None => {
                    let _ = writeln!(s, "goroutine {} [running]:", p.goroutine);
                }
            }
            let _ = writeln!(s, "    panicked at {}", p.location);
            if p.goroutine == 1 {
                s.push_str("created by the checker (main: the body under test)\n");
            } else {
                let _ = writeln!(s, "created at {}", p.spawned_at);
            }
            // With `GOWEAVE_BACKTRACE`, the replay that produced this verdict left behind where
            // the goroutine was created.
            if let Some(st) = backtraces::created_stacks(p.goroutine) {
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

/// Resolve the backtraces that `v`'s report will print (`GOWEAVE_BACKTRACE`) on a helper
/// thread, calling `alive` every few milliseconds meanwhile: symbolizing a large debug binary
/// takes a while the first time, and the checker's watchdog must not take that for a hang.
pub(crate) fn resolve_backtraces(v: &Verdict, alive: impl Fn()) {
    let dumps: &[GoroutineDump] = match v {
        Verdict::Deadlock(d) | Verdict::Leak(d) => d,
        Verdict::Livelock { goroutines, .. } => goroutines,
        _ => &[],
    };
    let mut stacks: Vec<_> = dumps.iter().filter_map(|d| d.stacks.clone()).collect();
    if let Verdict::Panic(p) = v {
        stacks.extend(backtraces::created_stacks(p.goroutine));
    }
    if stacks.is_empty() {
        return;
    }
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            for st in &stacks {
                st.render();
            }
        });
        while !h.is_finished() {
            alive();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}

fn push_dumps(s: &mut String, dump: &[GoroutineDump]) {
    for d in dump {
        s.push('\n');
        let _ = writeln!(s, "{d}");
    }
}

/// The text of an object id in a trace: `g5` for goroutine operations, `#3` for objects, `-`
/// for none.
fn object(e: &TraceEntry) -> String {
    match e.event.op {
        Op::Spawn | Op::Join => format!("g{}", e.event.obj.0),
        _ if e.event.obj == ObjId(0) => "-".into(),
        _ => e.event.obj.to_string(),
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
            format!("g{}", e.goroutine),
            e.event.op.name(),
            object(e),
            e.event.site
        );
        if let Some(p) = e.preempted {
            let _ = write!(s, "  <- preempts g{p}");
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
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
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
