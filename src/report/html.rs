//! The failing interleaving as one self-contained HTML page (`GOWEAVE_TRACE_FILE=trace.html`).
//!
//! The page needs no network and loads nothing: its style, its script and its data are inline.
//! It shows one lane per goroutine with a mark for each event at its step (operation, object and
//! location on hover), the intervals each goroutine spent blocked, preemptions, the
//! happens-before edges the primitives made (channel hand-offs, unlock → lock, spawn, join,
//! wait groups...), and the failing events highlighted: the panic, the two racing accesses, the
//! goroutines of a deadlock or leak where they block. The replay line is at the top. Zoom
//! (buttons, Ctrl+wheel, fit), collapsible lanes and "failing goroutines only" keep a trace of
//! 10,000 events readable.
//!
//! Rust does the reasoning (which event an edge starts and ends at, which events failed); the
//! script only draws. So everything the page claims is decided here, and tested here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{json_str, object, TraceEntry};
use crate::verdict::graph::{EdgeKind, SyncLog};
use crate::verdict::{FailureKind, Op, Status, Verdict};

/// What the HTML trace of a failure is made from (the parts of a `check::Failure` it shows).
pub(crate) struct Page<'a> {
    /// The failure's kind.
    pub(crate) kind: FailureKind,
    /// The test, if known.
    pub(crate) test_name: Option<&'a str>,
    /// The Go-shaped report.
    pub(crate) report: &'a str,
    /// The line that replays the failure.
    pub(crate) replay_line: String,
    /// Everything the failure prints (report, interleaving, how it was found).
    pub(crate) full_text: String,
    /// The events, in order.
    pub(crate) trace: &'a [TraceEntry],
    /// Hand-offs, blocked intervals and the failing events.
    pub(crate) graph: &'a Graph,
}

/// What the HTML trace needs beyond the trace: the run's hand-offs and blocked intervals, and
/// the failing events.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    /// Edges and blocked intervals recorded in the replay that made the trace.
    log: SyncLog,
    /// The failing events.
    focus: Vec<Focus>,
    /// Goroutine names, from the verdict's goroutine dumps.
    names: BTreeMap<u64, String>,
    /// How each goroutine of the verdict's dump ended up (`[chan receive] at file:line`).
    states: BTreeMap<u64, String>,
}

/// One failing event: the goroutine, its step in the trace (if it has one there) and what
/// went wrong.
#[derive(Clone, Debug)]
struct Focus {
    goroutine: u64,
    step: Option<u64>,
    label: String,
}

impl Graph {
    /// The graph of a failing replay: `log` as recorded, the failing events taken from `v`.
    pub(crate) fn new(log: SyncLog, v: &Verdict, trace: &[TraceEntry]) -> Graph {
        let last_of = |g: u64| {
            trace
                .iter()
                .rev()
                .find(|e| e.goroutine == g)
                .map(|e| e.step)
        };
        let mut g = Graph {
            log,
            ..Graph::default()
        };
        let dumps = match v {
            Verdict::Deadlock(d) | Verdict::Leak(d) => d.as_slice(),
            Verdict::Livelock { goroutines, .. } => goroutines.as_slice(),
            _ => &[],
        };
        for d in dumps {
            if let Some(n) = &d.name {
                g.names.insert(d.id, n.clone());
            }
            let state = match d.status {
                Status::Waiting => format!("[{}] at {}", d.wait_reason, d.site),
                Status::Runnable | Status::Running => format!("[runnable] at {}", d.site),
                Status::Dead => "[finished]".to_string(),
            };
            g.states.insert(d.id, state);
        }
        match v {
            Verdict::Panic(p) => {
                if let Some(n) = &p.name {
                    g.names.insert(p.goroutine, n.clone());
                }
                g.focus.push(Focus {
                    goroutine: p.goroutine,
                    step: last_of(p.goroutine),
                    label: format!("panicked at {}: {}", p.location, p.message),
                });
            }
            Verdict::Race(r) => {
                let access = |g: u64, site: &std::panic::Location<'static>| {
                    trace
                        .iter()
                        .rev()
                        .find(|e| {
                            e.goroutine == g
                                && matches!(e.event.op, Op::Read | Op::Write)
                                && e.event.site.file() == site.file()
                                && e.event.site.line() == site.line()
                                && e.event.site.column() == site.column()
                        })
                        .map(|e| e.step)
                        .or_else(|| last_of(g))
                };
                let rw = |w: bool| if w { "write" } else { "read" };
                g.focus.push(Focus {
                    goroutine: r.previous_goroutine,
                    step: access(r.previous_goroutine, r.previous_site),
                    label: format!(
                        "data race: previous {} of {} at {}",
                        rw(r.previous_write),
                        r.cell,
                        r.previous_site
                    ),
                });
                g.focus.push(Focus {
                    goroutine: r.goroutine,
                    step: access(r.goroutine, r.site),
                    label: format!("data race: {} of {} at {}", rw(r.write), r.cell, r.site),
                });
            }
            Verdict::Deadlock(d) | Verdict::Leak(d) => {
                let what = if matches!(v, Verdict::Deadlock(_)) {
                    "deadlock"
                } else {
                    "leak"
                };
                for d in d.iter().filter(|d| d.status == Status::Waiting) {
                    let mut label =
                        format!("{what}: blocked for good [{}] at {}", d.wait_reason, d.site);
                    if let Some(detail) = &d.detail {
                        let _ = write!(label, " ({detail})");
                    }
                    g.focus.push(Focus {
                        goroutine: d.id,
                        step: last_of(d.id),
                        label,
                    });
                }
            }
            Verdict::Livelock { goroutines, .. } => {
                for d in goroutines
                    .iter()
                    .filter(|d| matches!(d.status, Status::Runnable | Status::Running))
                {
                    g.focus.push(Focus {
                        goroutine: d.id,
                        step: last_of(d.id),
                        label: format!("livelock: still spinning at {}", d.site),
                    });
                }
            }
            Verdict::Nondeterminism { reason, .. } => {
                if let Some(e) = trace.last() {
                    g.focus.push(Focus {
                        goroutine: e.goroutine,
                        step: Some(e.step),
                        label: format!("nondeterminism: {reason}"),
                    });
                }
            }
        }
        g
    }
}

/// Colour classes of operations (index into the page's `CATS`).
fn category(op: Op) -> u8 {
    match op {
        Op::ChanSend | Op::ChanRecv | Op::ChanClose | Op::Select => 0,
        Op::Lock | Op::Unlock | Op::RLock | Op::RUnlock => 1,
        Op::WaitGroupAdd
        | Op::WaitGroupWait
        | Op::Once
        | Op::Cond
        | Op::Semaphore
        | Op::Context => 2,
        Op::AtomicLoad | Op::AtomicStore | Op::AtomicRmw => 3,
        Op::Read | Op::Write => 4,
        Op::Spawn | Op::Join | Op::Yield => 5,
        Op::Timer | Op::TimerFire => 6,
        _ => 7,
    }
}

/// An edge as drawn: its class, and both ends as (goroutine, step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DrawnEdge {
    /// `chan`, `lock`, `sync`, `spawn` or `join`.
    pub(crate) class: &'static str,
    /// Goroutine and step where the edge starts.
    pub(crate) from: (u64, u64),
    /// Goroutine and step where it ends.
    pub(crate) to: (u64, u64),
}

/// Where each recorded edge is drawn. A release made by the goroutine of the event at its
/// position starts at that event; one made on behalf of a parked goroutine (or at its end)
/// starts at that goroutine's latest event. An acquire ends at the acquirer's event, or, when
/// it was made for a parked goroutine, at the moment it was released on its lane. Edges
/// between atomics are left out: they are not hand-offs a reader looks for.
pub(crate) fn drawn_edges(trace: &[TraceEntry], log: &SyncLog) -> Vec<DrawnEdge> {
    // Per goroutine, the steps of its events in order.
    let mut steps: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in trace {
        steps.entry(e.goroutine).or_default().push(e.step);
    }
    let at = |step: u64| -> Option<&TraceEntry> {
        step.checked_sub(1)
            .and_then(|i| trace.get(i as usize))
            .filter(|e| e.step == step)
    };
    let latest = |g: u64, pos: u64| -> Option<u64> {
        let v = steps.get(&g)?;
        let i = v.partition_point(|&s| s <= pos);
        i.checked_sub(1).map(|i| v[i])
    };
    let mut out = Vec::new();
    for e in &log.edges {
        // A goroutine is created before its parent's `go` event commits: the edge starts at
        // that event.
        let spawn_event = (e.kind == EdgeKind::Spawn)
            .then(|| {
                trace.iter().find(|t| {
                    t.goroutine == e.from.0 && t.event.op == Op::Spawn && t.event.obj.0 == e.to.0
                })
            })
            .flatten();
        let from_step = match at(e.from.1) {
            _ if spawn_event.is_some() => spawn_event.map_or(0, |t| t.step),
            Some(t) if t.goroutine == e.from.0 => e.from.1,
            _ => match latest(e.from.0, e.from.1) {
                Some(s) => s,
                None => continue,
            },
        };
        let to_step = match e.kind {
            // The child's first event.
            EdgeKind::Spawn => match steps.get(&e.to.0).and_then(|v| v.first()) {
                Some(&s) => s,
                None => continue,
            },
            _ => e.to.1,
        };
        let ends = [at(from_step), at(to_step)];
        let atomic = ends
            .iter()
            .flatten()
            .any(|t| category(t.event.op) == 3 && t.goroutine != 0);
        if atomic && e.kind == EdgeKind::Sync {
            continue;
        }
        let class = match e.kind {
            EdgeKind::Spawn => "spawn",
            EdgeKind::Join => "join",
            EdgeKind::Sync => {
                let cats: Vec<u8> = ends
                    .iter()
                    .flatten()
                    .map(|t| category(t.event.op))
                    .collect();
                if cats.contains(&0) {
                    "chan"
                } else if cats.contains(&1) {
                    "lock"
                } else {
                    "sync"
                }
            }
        };
        out.push(DrawnEdge {
            class,
            from: (e.from.0, from_step),
            to: (e.to.0, to_step),
        });
    }
    out
}

/// Text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A JSON string literal safe inside a `<script>` element (no `<`, so no `</script>`).
fn js_str(s: &str) -> String {
    json_str(s).replace('<', "\\u003c")
}

/// The page's data, as JSON.
fn data_json(d: &Page<'_>) -> String {
    let trace = d.trace;
    let g = d.graph;
    // Sites, deduplicated.
    let mut site_ix: BTreeMap<String, usize> = BTreeMap::new();
    let mut sites: Vec<String> = Vec::new();
    let mut site = |s: String| -> usize {
        *site_ix.entry(s.clone()).or_insert_with(|| {
            sites.push(s);
            sites.len() - 1
        })
    };
    let mut s = String::with_capacity(64 + trace.len() * 32);
    s.push_str("{\"events\":[");
    for (i, e) in trace.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let si = site(e.event.site.to_string());
        let _ = write!(
            s,
            "[{},{},{},{},{},{},{}]",
            e.step,
            e.goroutine,
            js_str(e.event.op.name()),
            js_str(&object(e)),
            si,
            e.preempted.unwrap_or(0),
            category(e.event.op)
        );
    }
    s.push_str("],\"sites\":[");
    for (i, x) in sites.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&js_str(x));
    }
    // Lanes: every goroutine seen in the trace or named by the verdict.
    let mut lanes: BTreeMap<u64, ()> = trace.iter().map(|e| (e.goroutine, ())).collect();
    // Goroutines spawned that never ran still get their (empty) lane.
    for e in trace.iter().filter(|e| e.event.op == Op::Spawn) {
        lanes.insert(e.event.obj.0, ());
    }
    for f in &g.focus {
        lanes.insert(f.goroutine, ());
    }
    for id in g.states.keys() {
        lanes.insert(*id, ());
    }
    s.push_str("],\"lanes\":[");
    for (i, id) in lanes.keys().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let name = if *id == 0 {
            "timers".to_string()
        } else {
            g.names.get(id).cloned().unwrap_or_default()
        };
        let state = g.states.get(id).cloned().unwrap_or_default();
        let _ = write!(s, "[{id},{},{}]", js_str(&name), js_str(&state));
    }
    s.push_str("],\"blocks\":[");
    for (i, b) in g.log.blocks.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "[{},{},{},{}]",
            b.goroutine,
            b.from,
            b.to.map_or(-1, |t| t as i64),
            js_str(b.reason.as_str())
        );
    }
    s.push_str("],\"edges\":[");
    for (i, e) in drawn_edges(trace, &g.log).iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "[{},{},{},{},{}]",
            js_str(e.class),
            e.from.0,
            e.from.1,
            e.to.0,
            e.to.1
        );
    }
    s.push_str("],\"focus\":[");
    for (i, x) in g.focus.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "[{},{},{}]",
            x.goroutine,
            x.step.map_or(-1, |t| t as i64),
            js_str(&x.label)
        );
    }
    let _ = write!(
        s,
        "],\"kind\":{},\"race\":{},\"truncated\":{}}}",
        js_str(kind_name(d.kind)),
        d.kind == FailureKind::Race,
        g.log.truncated
    );
    s
}

fn kind_name(k: FailureKind) -> &'static str {
    match k {
        FailureKind::Panic => "panic",
        FailureKind::Deadlock => "deadlock",
        FailureKind::Leak => "leak",
        FailureKind::Race => "race",
        FailureKind::Livelock => "livelock",
        FailureKind::Nondeterminism => "nondeterminism",
        FailureKind::Blocked => "blocked",
    }
}

/// The page.
pub(crate) fn html_trace(d: &Page<'_>) -> String {
    let title = match &d.test_name {
        Some(n) => format!("goweave: {} in {n}", kind_name(d.kind)),
        None => format!("goweave: {}", kind_name(d.kind)),
    };
    let headline = d.report.lines().next().unwrap_or_default();
    let mut s = String::with_capacity(PAGE_HEAD.len() + PAGE_SCRIPT.len() + d.trace.len() * 40);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(s, "<title>{}</title>", escape(&title));
    s.push_str(PAGE_HEAD);
    s.push_str("</head>\n<body>\n<header>\n");
    let _ = writeln!(
        s,
        "<h1><span class=\"kind kind-{}\">{}</span> {}</h1>",
        kind_name(d.kind),
        kind_name(d.kind),
        escape(headline)
    );
    let _ = writeln!(
        s,
        "<div class=\"replay\"><code id=\"replay\" title=\"click to show it whole\">{}</code><button id=\"copy\" type=\"button\">copy</button></div>",
        escape(&d.replay_line)
    );
    s.push_str(PAGE_CONTROLS);
    s.push_str("</header>\n");
    s.push_str(PAGE_BODY);
    let _ = writeln!(
        s,
        "<details id=\"report\"><summary>report</summary><pre>{}</pre></details>",
        escape(&d.full_text)
    );
    s.push_str("<script type=\"application/json\" id=\"data\">");
    s.push_str(&data_json(d));
    s.push_str("</script>\n<script>\n");
    s.push_str(PAGE_SCRIPT);
    s.push_str("</script>\n</body>\n</html>\n");
    s
}

/// Write `f`'s trace to `path`: HTML if the name ends in `.html` or `.htm`, Chrome trace JSON
/// otherwise. Returns the line the report prints about it.
pub(crate) fn write_trace_file(f: &Page<'_>, path: &std::path::Path) -> String {
    let html = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let (text, what) = if html {
        (
            html_trace(f),
            "HTML: open it in any browser, it needs no network",
        )
    } else {
        (
            super::chrome_trace(f.trace),
            "Chrome trace-event JSON: open it in Perfetto or chrome://tracing; name it .html for a page of its own",
        )
    };
    match std::fs::write(path, text) {
        Ok(()) => format!("trace written to {} ({what})", path.display()),
        Err(e) => format!(
            "note: cannot write GOWEAVE_TRACE_FILE={}: {e}",
            path.display()
        ),
    }
}

/// Style, after the `<title>`.
const PAGE_HEAD: &str = r##"<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root { --lane: 38px; --label: 260px; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0; color: #1d2330; background: #fafbfc; }
header { padding: 10px 14px 6px; border-bottom: 1px solid #d8dde6; background: #fff; position: sticky; top: 0; z-index: 3; }
h1 { font-size: 16px; margin: 0 0 6px; font-weight: 600; }
.kind { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #c62828; color: #fff; font-size: 13px; margin-right: 6px; text-transform: uppercase; letter-spacing: .04em; }
.replay { margin-bottom: 6px; }
.replay { display: flex; gap: 6px; align-items: center; }
.replay code { background: #f1f3f7; border: 1px solid #d8dde6; border-radius: 4px; padding: 2px 6px; font-size: 12.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.replay code.open { white-space: normal; word-break: break-all; max-height: 8em; overflow-y: auto; }
button { font-size: 12px; padding: 2px 8px; cursor: pointer; }
.controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; font-size: 12.5px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; font-size: 12px; margin-top: 6px; color: #3a4254; }
.legend svg { vertical-align: middle; }
#focus-list { margin: 8px 14px; padding: 0; list-style: none; font-size: 13px; }
#focus-list li { margin: 2px 0; cursor: pointer; }
#focus-list li::before { content: "\25B6  "; color: #c62828; }
#view { display: flex; margin: 0 14px; border: 1px solid #d8dde6; background: #fff; }
#labels { width: var(--label); flex: none; border-right: 1px solid #d8dde6; font-size: 12.5px; }
#labels .axis-label { height: 22px; border-bottom: 1px solid #e4e7ee; color: #6b7385; padding-left: 6px; line-height: 22px; }
.lane-label { box-sizing: border-box; height: var(--lane); padding: 0 6px; display: flex; flex-direction: column; justify-content: center; border-bottom: 1px solid #eef0f4; cursor: pointer; overflow: hidden; white-space: nowrap; }
.lane-label .st { color: #6b7385; font-size: 11px; overflow: hidden; text-overflow: ellipsis; }
.lane-label.failing { background: #fdecea; font-weight: 600; }
.lane-label.collapsed { height: 10px; font-size: 0; padding: 0; }
#scroll { overflow-x: auto; overflow-y: hidden; flex: 1; position: relative; }
svg#trace { display: block; }
.ev { stroke: rgba(0,0,0,.25); stroke-width: .5; }
.ev:hover, .ev.hl { stroke: #000; stroke-width: 1.5; }
.ev.fail { stroke: #d50000; stroke-width: 3; }
.fail-ring { fill: none; stroke: #d50000; stroke-width: 2; stroke-dasharray: 3 2; }
.block { fill: url(#hatch); stroke: #9aa3b5; stroke-width: .6; }
.block.forever { fill: url(#hatch-fail); stroke: #d50000; }
.preempt { fill: #d50000; }
.edge { fill: none; stroke-width: 1.3; opacity: .75; }
.edge:hover { stroke-width: 3; opacity: 1; }
.edge.chan { stroke: #1565c0; } .edge.lock { stroke: #e65100; } .edge.sync { stroke: #00897b; }
.edge.spawn { stroke: #2e7d32; stroke-dasharray: 4 2; } .edge.join { stroke: #6a1b9a; stroke-dasharray: 4 2; }
.head-chan { fill: #1565c0; } .head-lock { fill: #e65100; } .head-sync { fill: #00897b; } .head-spawn { fill: #2e7d32; } .head-join { fill: #6a1b9a; }
.race-link { stroke: #d50000; stroke-width: 2.5; stroke-dasharray: 6 3; fill: none; }
.noedges .edge { display: none; }
.tick { stroke: #e4e7ee; } .tick-label { font-size: 10px; fill: #6b7385; }
.lane-bg.odd { fill: #f7f8fb; } .lane-bg.even { fill: #fff; } .lane-bg.failing { fill: #fff3f2; }
#tip { position: fixed; pointer-events: none; background: #1d2330; color: #fff; font-size: 12px; padding: 5px 8px; border-radius: 4px; max-width: 560px; display: none; z-index: 5; white-space: pre-wrap; }
#report { margin: 10px 14px 20px; }
#report pre { font-size: 12px; background: #fff; border: 1px solid #d8dde6; padding: 8px; overflow-x: auto; }
.note { margin: 6px 14px; font-size: 12px; color: #8a4b00; }
</style>
"##;

/// Zoom, filters and the legend, inside the header.
const PAGE_CONTROLS: &str = r##"<div class="controls">
<span>zoom <button id="zoom-out" type="button" title="zoom out (Ctrl+wheel)">&minus;</button> <button id="zoom-in" type="button" title="zoom in (Ctrl+wheel)">+</button> <button id="zoom-fit" type="button">fit</button> <button id="zoom-1" type="button">1:1</button></span>
<button id="goto-fail" type="button">show the failure</button>
<label><input type="checkbox" id="show-edges" checked> happens-before arrows</label>
<label><input type="checkbox" id="only-failing"> failing goroutines only</label>
<span id="stats"></span>
</div>
<div class="legend" id="legend"></div>
"##;

/// The failing events, the lanes and the tooltip.
const PAGE_BODY: &str = r##"<ul id="focus-list"></ul>
<div id="view"><div id="labels"></div><div id="scroll"><svg id="trace"></svg></div></div>
<div id="tip"></div>
"##;

/// The drawing. It reads the JSON in `#data` and draws into `#trace`; nothing else.
const PAGE_SCRIPT: &str = r##""use strict";
(function () {
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); document.body.setAttribute("data-errors", errors.join(" | ")); });
  var D = JSON.parse(document.getElementById("data").textContent);
  var CATS = [["channel", "#1e88e5"], ["lock", "#fb8c00"], ["wait group, once, cond, semaphore, context", "#26a69a"], ["atomic", "#8e24aa"], ["RaceCell read/write", "#8d6e63"], ["go, join, gosched", "#43a047"], ["timer", "#90a4ae"], ["other", "#cfd8dc"]];
  var EDGE = [["chan", "channel hand-off"], ["lock", "unlock \u2192 lock"], ["sync", "other synchronisation"], ["spawn", "go (spawn)"], ["join", "end \u2192 join"]];
  var LANE = 38, AXIS = 22, COLLAPSED = 10;
  var maxStep = D.events.length ? D.events[D.events.length - 1][0] : 1;
  var svg = document.getElementById("trace"), scroll = document.getElementById("scroll");
  var labels = document.getElementById("labels"), tip = document.getElementById("tip");
  var failing = {}, failStep = {};
  D.focus.forEach(function (f) { failing[f[0]] = true; if (f[1] >= 0) { failStep[f[1]] = f[2]; } });
  var collapsed = {};
  var onlyFailing = false;
  var laneIds = D.lanes.map(function (l) { return l[0]; });
  var laneOf = {};
  var scale = 14;
  // A goroutine still parked when the run stopped is blocked for good only in a deadlock or a
  // leak; otherwise the run stopped for another reason first.
  var forever = D.kind === "deadlock" || D.kind === "leak";
  var eventsByLane = {}, blocksByLane = {};
  D.events.forEach(function (e, i) { (eventsByLane[e[1]] || (eventsByLane[e[1]] = [])).push(i); });
  D.blocks.forEach(function (b, i) { (blocksByLane[b[0]] || (blocksByLane[b[0]] = [])).push(i); });

  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" }[c]; }); }
  function isCollapsed(g) { return collapsed[g] || (onlyFailing && !failing[g]); }
  function layout() {
    var y = AXIS; laneOf = {};
    laneIds.forEach(function (g) { var h = isCollapsed(g) ? COLLAPSED : LANE; laneOf[g] = { y: y, h: h }; y += h; });
    return y;
  }
  function x(step) { return 8 + step * scale; }
  function midY(g) { var l = laneOf[g]; return l.y + l.h / 2; }

  function legend() {
    var h = "";
    CATS.forEach(function (c) { h += '<span><svg width="12" height="12"><rect width="10" height="10" x="1" y="1" fill="' + c[1] + '"/></svg> ' + esc(c[0]) + "</span>"; });
    h += '<span><svg width="22" height="12"><rect width="20" height="10" x="1" y="1" fill="url(#hatch)" stroke="#9aa3b5" stroke-width=".6"/></svg> blocked</span>';
    h += '<span><svg width="22" height="12"><rect width="20" height="10" x="1" y="1" fill="url(#hatch-fail)" stroke="#d50000"/></svg> blocked for good</span>';
    h += '<span><svg width="12" height="12"><path d="M1 1 L11 1 L6 9 Z" class="preempt"/></svg> preemption</span>';
    h += '<span><svg width="14" height="14"><rect width="10" height="10" x="2" y="2" fill="#eee" stroke="#d50000" stroke-width="3"/></svg> failing event</span>';
    EDGE.forEach(function (e) { h += '<span><svg width="26" height="12"><line x1="1" y1="6" x2="25" y2="6" class="edge ' + e[0] + '"/></svg> ' + esc(e[1]) + "</span>"; });
    document.getElementById("legend").innerHTML = h;
  }

  function defs() {
    return '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f5"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b7bfcf" stroke-width="2"/></pattern>' +
      '<pattern id="hatch-fail" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde3e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#ef9a9a" stroke-width="2"/></pattern>' +
      EDGE.map(function (e) { return '<marker id="arrow-' + e[0] + '" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" class="head-' + e[0] + '"/></marker>'; }).join("") +
      "</defs>";
  }

  function draw() {
    var height = layout();
    var width = x(maxStep + 2);
    var h = [defs()];
    laneIds.forEach(function (g, i) {
      var l = laneOf[g];
      h.push('<rect class="lane-bg ' + (failing[g] ? "failing" : (i % 2 ? "odd" : "even")) + '" x="0" y="' + l.y + '" width="' + width + '" height="' + l.h + '"/>');
    });
    var every = Math.max(1, Math.ceil(70 / scale));
    var nice = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
    for (var k = 0; k < nice.length; k++) { if (nice[k] >= every) { every = nice[k]; break; } }
    for (var s = every; s <= maxStep; s += every) {
      h.push('<line class="tick" x1="' + x(s) + '" x2="' + x(s) + '" y1="' + (AXIS - 6) + '" y2="' + height + '"/><text class="tick-label" x="' + (x(s) + 2) + '" y="12">' + s + "</text>");
    }
    var markW = Math.max(1, Math.min(scale * 0.6, 22));
    laneIds.forEach(function (g) {
      var l = laneOf[g], c = isCollapsed(g);
      h.push('<g class="lane" data-goroutine="' + g + '">');
      (blocksByLane[g] || []).forEach(function (i) {
        var b = D.blocks[i];
        var end = b[2] < 0 ? maxStep + 1.5 : b[2] + 0.5;
        var x0 = x(b[1] + 0.5);
        h.push('<rect class="block' + (b[2] < 0 && forever ? " forever" : "") + '" data-b="' + i + '" x="' + x0 + '" y="' + (l.y + (c ? 2 : 6)) + '" width="' + Math.max(1, x(end) - x0) + '" height="' + (l.h - (c ? 4 : 12)) + '"/>');
      });
      (eventsByLane[g] || []).forEach(function (i) {
        var e = D.events[i], fail = failStep[e[0]] !== undefined;
        if (c && !fail) { return; }
        var mh = c ? l.h - 2 : LANE - 12;
        h.push('<rect class="ev' + (fail ? " fail" : "") + '" data-i="' + i + '" x="' + (x(e[0]) - markW / 2) + '" y="' + (l.y + (l.h - mh) / 2) + '" width="' + markW + '" height="' + mh + '" fill="' + CATS[e[6]][1] + '"/>');
        if (e[5] > 0 && !c) {
          h.push('<path class="preempt" data-i="' + i + '" d="M' + (x(e[0]) - 4) + " " + (l.y + 1) + " L" + (x(e[0]) + 4) + " " + (l.y + 1) + " L" + x(e[0]) + " " + (l.y + 6) + ' Z"/>');
        }
      });
      h.push("</g>");
    });
    var out = h.join("");
    var e2 = ['<g class="edges">'];
    D.edges.forEach(function (e, i) {
      if (!laneOf[e[1]] || !laneOf[e[3]]) { return; }
      var x1 = x(e[2]), y1 = midY(e[1]), x2 = x(e[4]), y2 = midY(e[3]);
      var dy = y2 > y1 ? -LANE / 3 : LANE / 3;
      y1 -= dy * 0.4; y2 += dy * 0.4;
      var mx = (x1 + x2) / 2 + (x1 === x2 ? 10 : 0);
      e2.push('<path class="edge ' + e[0] + '" data-e="' + i + '" marker-end="url(#arrow-' + e[0] + ')" d="M' + x1 + " " + y1 + " Q" + mx + " " + ((y1 + y2) / 2) + " " + x2 + " " + y2 + '"/>');
    });
    if (D.race && D.focus.length === 2 && D.focus[0][1] >= 0 && D.focus[1][1] >= 0 && laneOf[D.focus[0][0]] && laneOf[D.focus[1][0]]) {
      e2.push('<line class="race-link" x1="' + x(D.focus[0][1]) + '" y1="' + midY(D.focus[0][0]) + '" x2="' + x(D.focus[1][1]) + '" y2="' + midY(D.focus[1][0]) + '"/>');
    }
    D.focus.forEach(function (f) {
      if (f[1] >= 0 && laneOf[f[0]]) { e2.push('<circle class="fail-ring" cx="' + x(f[1]) + '" cy="' + midY(f[0]) + '" r="' + (LANE / 2) + '"/>'); }
    });
    e2.push("</g>");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.innerHTML = out + e2.join("");
    var lh = ['<div class="axis-label">goroutine \u2193 &nbsp; step \u2192</div>'];
    D.lanes.forEach(function (l) {
      var g = l[0], c = isCollapsed(g);
      var name = g === 0 ? "timers" : "goroutine " + g + (l[1] ? ' "' + l[1] + '"' : "");
      lh.push('<div class="lane-label' + (failing[g] ? " failing" : "") + (c ? " collapsed" : "") + '" data-goroutine="' + g + '" title="click to collapse or expand" style="height:' + laneOf[g].h + 'px"><span>' + esc(name) + '</span>' + (l[2] ? '<span class="st">' + esc(l[2]) + "</span>" : "") + "</div>");
    });
    labels.innerHTML = lh.join("");
    document.getElementById("stats").textContent = D.events.length + " events, " + D.lanes.length + " goroutines, " + D.edges.length + " happens-before edges" + (D.truncated ? " (edges truncated)" : "");
  }

  function describeEvent(i) {
    var e = D.events[i];
    var who = e[1] === 0 ? "timers" : "goroutine " + e[1];
    var t = "step " + e[0] + " \u00b7 " + who + "\n" + e[2] + (e[3] !== "-" ? " " + e[3] : "") + "\nat " + D.sites[e[4]];
    if (e[5] > 0) { t += "\npreempts goroutine " + e[5]; }
    if (failStep[e[0]] !== undefined) { t += "\n\u26a0 " + failStep[e[0]]; }
    return t;
  }
  function eventAt(step) { var i = step - 1; return D.events[i] && D.events[i][0] === step ? i : -1; }
  function describeEdge(i) {
    var e = D.edges[i], a = eventAt(e[2]), b = eventAt(e[4]);
    var end = function (g, s, j) { return (j >= 0 && D.events[j][1] === g ? D.events[j][2] + " " : "") + "(goroutine " + g + ", step " + s + ")"; };
    return e[0] + ": " + end(e[1], e[2], a) + " happens before " + end(e[3], e[4], b);
  }
  function describeBlock(i) {
    var b = D.blocks[i];
    return "goroutine " + b[0] + " blocked [" + b[3] + "] after step " + b[1] + (b[2] < 0 ? (forever ? ", never woken" : ", still blocked when the run stopped") : ", woken at step " + b[2]);
  }

  svg.addEventListener("mousemove", function (ev) {
    var t = ev.target, text = null;
    if (t.hasAttribute("data-i")) { text = describeEvent(+t.getAttribute("data-i")); }
    else if (t.hasAttribute("data-e")) { text = describeEdge(+t.getAttribute("data-e")); }
    else if (t.hasAttribute("data-b")) { text = describeBlock(+t.getAttribute("data-b")); }
    if (text === null) { tip.style.display = "none"; return; }
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 380) + "px";
    tip.style.top = (ev.clientY + 14) + "px";
  });
  svg.addEventListener("mouseleave", function () { tip.style.display = "none"; });

  function zoom(f, cx) {
    var before = (scroll.scrollLeft + (cx === undefined ? scroll.clientWidth / 2 : cx) - 8) / scale;
    scale = Math.max(0.02, Math.min(60, scale * f));
    draw();
    scroll.scrollLeft = before * scale + 8 - (cx === undefined ? scroll.clientWidth / 2 : cx);
  }
  function fit() { scale = Math.max(0.02, Math.min(48, (scroll.clientWidth - 24) / (maxStep + 2))); draw(); scroll.scrollLeft = 0; }
  function showFailure() {
    var steps = D.focus.map(function (f) { return f[1]; }).filter(function (s) { return s >= 0; });
    if (!steps.length) { return; }
    var s = Math.max.apply(null, steps);
    scroll.scrollLeft = Math.max(0, x(s) - scroll.clientWidth * 0.7);
  }
  document.getElementById("zoom-in").onclick = function () { zoom(1.6); };
  document.getElementById("zoom-out").onclick = function () { zoom(1 / 1.6); };
  document.getElementById("zoom-fit").onclick = fit;
  document.getElementById("zoom-1").onclick = function () { scale = 14; draw(); showFailure(); };
  document.getElementById("goto-fail").onclick = showFailure;
  scroll.addEventListener("wheel", function (ev) {
    if (!ev.ctrlKey) { return; }
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - scroll.getBoundingClientRect().left);
  }, { passive: false });
  document.getElementById("show-edges").onchange = function (ev) { svg.classList.toggle("noedges", !ev.target.checked); };
  document.getElementById("only-failing").onchange = function (ev) { onlyFailing = ev.target.checked; draw(); };
  labels.addEventListener("click", function (ev) {
    var el = ev.target.closest(".lane-label");
    if (!el) { return; }
    var g = +el.getAttribute("data-goroutine");
    collapsed[g] = !isCollapsed(g);
    draw();
  });
  document.getElementById("copy").onclick = function () {
    var text = document.getElementById("replay").textContent.replace(/^replay: /, "");
    if (navigator.clipboard) { navigator.clipboard.writeText(text).catch(function () {}); }
  };
  document.getElementById("replay").onclick = function (ev) { ev.target.classList.toggle("open"); };
  var fl = document.getElementById("focus-list");
  D.focus.forEach(function (f) {
    var li = document.createElement("li");
    li.className = "focus";
    li.setAttribute("data-goroutine", f[0]);
    li.textContent = (f[0] === 0 ? "timers" : "goroutine " + f[0]) + (f[1] >= 0 ? " at step " + f[1] : "") + ": " + f[2];
    li.onclick = function () { if (f[1] >= 0) { scroll.scrollLeft = Math.max(0, x(f[1]) - scroll.clientWidth / 2); } };
    fl.appendChild(li);
  });

  legend();
  // Few events: the whole run at once; many: readable marks, scrolled to the failure.
  if (maxStep <= 300) { fit(); }
  else { draw(); showFailure(); }
  document.documentElement.setAttribute("data-rendered", errors.length ? "with-errors" : "ok");
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::event::{Event, ObjId};
    use crate::runtime::hbgraph::Edge;
    use std::panic::Location;

    fn entry(step: u64, g: u64, op: Op) -> TraceEntry {
        TraceEntry {
            step,
            goroutine: g,
            event: Event::new(op, ObjId(7), Location::caller()),
            preempted: None,
            task: false,
        }
    }

    fn spawn(step: u64, g: u64, child: u64) -> TraceEntry {
        TraceEntry {
            event: Event::new(Op::Spawn, ObjId(child), Location::caller()),
            ..entry(step, g, Op::Spawn)
        }
    }

    #[test]
    fn edges_start_at_the_releasing_event_and_end_where_the_acquirer_goes_on() {
        // g1 sends at 1 and parks; g2 spawns g3 at 2 and receives at 3 (a hand-off on behalf
        // of the parked g1); g1 goes on at 5; g3 first runs at 6.
        let t = vec![
            entry(1, 1, Op::ChanSend),
            spawn(2, 2, 3),
            entry(3, 2, Op::ChanRecv),
            entry(4, 2, Op::AtomicStore),
            entry(5, 1, Op::Yield),
            entry(6, 3, Op::AtomicLoad),
        ];
        let log = SyncLog {
            edges: vec![
                // g1 (parked) released at position 3, g2 acquires at 3.
                Edge {
                    kind: EdgeKind::Sync,
                    from: (1, 3),
                    to: (2, 3),
                },
                // g2 released for parked g1, which goes on later.
                Edge {
                    kind: EdgeKind::Sync,
                    from: (2, 3),
                    to: (1, 3),
                },
                // Between atomics: left out.
                Edge {
                    kind: EdgeKind::Sync,
                    from: (2, 4),
                    to: (3, 6),
                },
                Edge {
                    kind: EdgeKind::Spawn,
                    from: (2, 1),
                    to: (3, 1),
                },
            ],
            ..SyncLog::default()
        };
        let d = drawn_edges(&t, &log);
        assert_eq!(
            d,
            vec![
                DrawnEdge {
                    class: "chan",
                    from: (1, 1),
                    to: (2, 3)
                },
                DrawnEdge {
                    class: "chan",
                    from: (2, 3),
                    to: (1, 3)
                },
                DrawnEdge {
                    class: "spawn",
                    from: (2, 2),
                    to: (3, 6)
                },
            ]
        );
    }

    #[test]
    fn script_data_cannot_close_its_element() {
        assert_eq!(js_str("</script>"), "\"\\u003c/script>\"");
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
