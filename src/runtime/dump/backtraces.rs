//! Full backtraces of goroutines in reports (`GOWEAVE_BACKTRACE=1`).
//!
//! With capture on, the controlled executor records for each goroutine an unresolved
//! [`Backtrace`] where it was spawned (on its parent's stack) and one each time it parks (on its
//! own stack, just before the switch), keeping the latest. A dump then carries them, and a report
//! prints them resolved, Go style: a function line, then an indented `file:line:column` line, per
//! frame, trimmed to the user's frames (plus the goweave API function the user called, such as
//! `goweave::sync::mutex::Mutex<T>::lock`, as the top frame). A goroutine being dumped while it
//! runs (the one that hit the step bound of a livelock) is captured right then.
//!
//! **Capture happens only while the checker replays the shrunk failing schedule to build its
//! report**, never while it explores or shrinks: a run starts with [`begin`] and the run's
//! `Config::backtraces`, which the checker sets for that final replay alone. Exploration speed is
//! therefore the same with `GOWEAVE_BACKTRACE=1` as without, and with capture off the hooks cost
//! one predictable branch on a thread-local flag (no capture, no allocation).
//!
//! The table lives in a thread-local of the controlled executor's thread, indexed by goroutine
//! id. [`begin`] empties it; [`end`] turns capture off but keeps the table until the next run on
//! the thread, so that a report built right after the run (a panic's creation site) can still
//! read it.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use backtrace::Backtrace;
use once_cell::sync::Lazy;

use crate::runtime::context;
use crate::runtime::goroutine::{Status, G};

/// The environment variable that turns full backtraces on.
pub(crate) const ENV_VAR: &str = "GOWEAVE_BACKTRACE";

/// `GOWEAVE_BACKTRACE`, read once per process: `None` if unset or empty, else its value and
/// what it means.
static ENV: Lazy<Option<(String, Result<bool, String>)>> = Lazy::new(|| {
    let v = std::env::var(ENV_VAR).ok()?;
    if v.trim().is_empty() {
        return None;
    }
    let parsed = parse(v.trim());
    Some((v, parsed))
});

/// The meaning of a `GOWEAVE_BACKTRACE` value.
pub(crate) fn parse(v: &str) -> Result<bool, String> {
    match v {
        "1" | "full" | "true" | "on" => Ok(true),
        "0" | "false" | "off" => Ok(false),
        _ => Err("expected 1 (or full) to print full backtraces in reports, or 0".into()),
    }
}

/// `GOWEAVE_BACKTRACE` as set in this process: `None` if unset, else (value, meaning).
pub(crate) fn env_setting() -> Option<(String, Result<bool, String>)> {
    ENV.clone()
}

/// True if `GOWEAVE_BACKTRACE` asks for backtraces (an unusable value counts as no).
pub(crate) fn env_enabled() -> bool {
    matches!(&*ENV, Some((_, Ok(true))))
}

/// What the table keeps of one goroutine.
#[derive(Default)]
struct Slot {
    /// Where it was spawned (on its parent's stack).
    created: Option<Backtrace>,
    /// The goroutine that spawned it.
    parent: u64,
    /// Where it last parked.
    parked: Option<Backtrace>,
}

thread_local! {
    /// Capture is on for the run on this thread.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// The table holds something (so that [`begin`] leaves it alone otherwise).
    static DIRTY: Cell<bool> = const { Cell::new(false) };
    /// By goroutine id.
    static TABLE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// True while the run on this thread captures backtraces.
#[inline(always)]
fn capturing() -> bool {
    ON.with(Cell::get)
}

/// A controlled run starts on this thread: forget the previous run's backtraces, and capture
/// this run's if `on`.
pub(crate) fn begin(on: bool) {
    if DIRTY.with(|d| d.replace(false)) {
        TABLE.with(|t| t.borrow_mut().clear());
    }
    ON.with(|c| c.set(on));
}

/// The run on this thread has ended: capture off (the table stays until the next [`begin`]).
pub(crate) fn end() {
    ON.with(|c| c.set(false));
}

/// Forget the backtraces of the last run (its report is not the one being built).
pub(crate) fn forget() {
    begin(false);
}

/// Goroutine `id` is being spawned by `parent` (0: the runtime), on the parent's stack.
#[inline]
pub(crate) fn spawned(id: u64, parent: u64) {
    if capturing() {
        record_spawn(id, parent);
    }
}

/// Goroutine `id` is about to park, on its own stack.
#[inline]
pub(crate) fn parking(id: u64) {
    if capturing() {
        record_park(id);
    }
}

fn with_slot<R>(id: u64, f: impl FnOnce(&mut Slot) -> R) -> R {
    DIRTY.with(|d| d.set(true));
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let i = id as usize;
        if t.len() <= i {
            t.resize_with(i + 1, Slot::default);
        }
        f(&mut t[i])
    })
}

#[cold]
#[inline(never)]
fn record_spawn(id: u64, parent: u64) {
    if parent == 0 {
        // Main, spawned by the checker: no frames of the user's there.
        return;
    }
    let bt = Backtrace::new_unresolved();
    with_slot(id, |s| {
        s.created = Some(bt);
        s.parent = parent;
    });
}

#[cold]
#[inline(never)]
fn record_park(id: u64) {
    let bt = Backtrace::new_unresolved();
    with_slot(id, |s| s.parked = Some(bt));
}

/// The backtraces of one goroutine for a dump: where it is (blocked or running) and where it
/// was created. Resolved and rendered once, when first printed.
pub(crate) struct Stacks {
    /// Where it blocked (`Waiting`) or runs now.
    at: Option<(Backtrace, &'static str)>,
    /// Where it was spawned.
    created: Option<Backtrace>,
    rendered: OnceLock<String>,
}

impl fmt::Debug for Stacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stacks")
            .field("at", &self.at.as_ref().map(|(_, what)| *what))
            .field("created", &self.created.is_some())
            .finish_non_exhaustive()
    }
}

/// The backtraces to show for `g` in a dump taken now, if this run captures them.
#[inline]
pub(crate) fn stacks_of(g: &G) -> Option<Arc<Stacks>> {
    if capturing() {
        collect(g)
    } else {
        None
    }
}

#[cold]
#[inline(never)]
fn collect(g: &G) -> Option<Arc<Stacks>> {
    let (created, parked) = TABLE.with(|t| {
        let t = t.borrow();
        t.get(g.id as usize)
            .map_or((None, None), |s| (s.created.clone(), s.parked.clone()))
    });
    let at = match g.status() {
        Status::Waiting => parked.map(|b| (b, "where it blocked:")),
        // Dumped by itself (a livelock found at its scheduling point): we are on its stack.
        Status::Running if std::ptr::eq(context::current_ptr(), g) => {
            Some((Backtrace::new_unresolved(), "where it is running:"))
        }
        // Runnable: its last park is out of date, and it has not been captured since.
        _ => None,
    };
    if at.is_none() && created.is_none() {
        return None;
    }
    Some(Arc::new(Stacks {
        at,
        created,
        rendered: OnceLock::new(),
    }))
}

/// The creation backtrace of goroutine `id` in the last run on this thread, if it captured one
/// (for a panic's report).
pub(crate) fn created_stacks(id: u64) -> Option<Arc<Stacks>> {
    let created = TABLE.with(|t| t.borrow().get(id as usize)?.created.clone())?;
    Some(Arc::new(Stacks {
        at: None,
        created: Some(created),
        rendered: OnceLock::new(),
    }))
}

impl Stacks {
    /// The resolved frames, Go style, without a trailing newline; empty if no frame of the
    /// user's was found.
    ///
    /// ```text
    ///   where it blocked:
    ///     goweave::sync::mutex::Mutex<T>::lock
    ///         src/sync/mutex.rs:422:9
    ///     my_test::deadlock::{{closure}}::{{closure}}
    ///         tests/my_test.rs:30:15
    ///   where it was created:
    ///     goweave::runtime::join::go
    ///         src/runtime/join.rs:227:5
    ///     my_test::deadlock::{{closure}}
    ///         tests/my_test.rs:28:9
    /// ```
    pub(crate) fn render(&self) -> &str {
        self.rendered.get_or_init(|| {
            let cwd = std::env::current_dir().ok();
            let mut s = String::new();
            if let Some((bt, what)) = &self.at {
                push_section(&mut s, what, bt, cwd.as_deref());
            }
            if let Some(bt) = &self.created {
                push_section(&mut s, "where it was created:", bt, cwd.as_deref());
            }
            s.truncate(s.trim_end().len());
            s
        })
    }
}

fn push_section(s: &mut String, title: &str, bt: &Backtrace, cwd: Option<&Path>) {
    let frames = user_frames(bt);
    if frames.is_empty() {
        return;
    }
    let _ = writeln!(s, "  {title}");
    for f in frames {
        let _ = writeln!(s, "    {}", f.function);
        let _ = writeln!(s, "        {}", f.place(cwd));
    }
}

/// One resolved frame (an inlined call counts as a frame of its own).
#[derive(Debug)]
struct Frame {
    function: String,
    file: Option<std::path::PathBuf>,
    line: Option<u32>,
    column: Option<u32>,
}

impl Frame {
    /// `file:line:column`, the file relative to the working directory when under it.
    fn place(&self, cwd: Option<&Path>) -> String {
        let Some(file) = &self.file else {
            return "<unknown location>".into();
        };
        let file = cwd.and_then(|c| file.strip_prefix(c).ok()).unwrap_or(file);
        let mut p = file.display().to_string();
        if let Some(l) = self.line {
            let _ = write!(p, ":{l}");
            if let Some(c) = self.column {
                let _ = write!(p, ":{c}");
            }
        }
        p
    }
}

/// Who a frame belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
    /// The program under test.
    User,
    /// goweave itself (its API, or its machinery).
    Goweave,
    /// std, core, alloc, corosensei, backtrace, the C runtime.
    Runtime,
    /// No symbol.
    Unknown,
}

/// The crates whose frames are never the user's.
const RUNTIME_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "corosensei",
    "backtrace",
    "panic_unwind",
    "compiler_builtins",
];

fn owner(name: Option<&str>) -> Owner {
    let Some(name) = name else {
        return Owner::Unknown;
    };
    // `<&mut goweave::sync::chan::Iter<T> as core::iter::Iterator>::next`: the self type's crate.
    let mut n = name.trim_start_matches(['<', '&', '*', '(', '[']);
    for p in ["mut ", "const ", "dyn "] {
        n = n.strip_prefix(p).unwrap_or(n);
    }
    let Some(end) = n.find("::") else {
        // A C symbol (`start_thread`, `clone3`, `__rust_try`), or a bare trampoline.
        return Owner::Runtime;
    };
    let krate = &n[..end];
    if krate == "goweave" {
        Owner::Goweave
    } else if RUNTIME_CRATES.contains(&krate) || krate.starts_with("__") {
        Owner::Runtime
    } else {
        Owner::User
    }
}

/// The frames of `bt` that matter to the user: from the goweave API function the user's
/// innermost frame called (if any) to the user's outermost frame. Everything inside that
/// (goweave's runtime, the capture itself) and outside it (the goroutine trampoline,
/// `catch_unwind`, the scheduler, the thread start) is left out. Empty if no frame is the
/// user's.
fn user_frames(bt: &Backtrace) -> Vec<Frame> {
    let mut bt = bt.clone();
    bt.resolve();
    let mut all: Vec<(Owner, Frame)> = Vec::new();
    for frame in bt.frames() {
        let symbols = frame.symbols();
        if symbols.is_empty() {
            all.push((
                Owner::Unknown,
                Frame {
                    function: format!("??? ({:p})", frame.ip()),
                    file: None,
                    line: None,
                    column: None,
                },
            ));
        }
        for sym in symbols {
            let name = sym.name().map(|n| format!("{n:#}"));
            all.push((
                owner(name.as_deref()),
                Frame {
                    function: name.unwrap_or_else(|| format!("??? ({:p})", frame.ip())),
                    file: sym.filename().map(Path::to_path_buf),
                    line: sym.lineno(),
                    column: sym.colno(),
                },
            ));
        }
    }
    trim(all)
}

fn trim(mut all: Vec<(Owner, Frame)>) -> Vec<Frame> {
    let Some(first) = all.iter().position(|(o, _)| *o == Owner::User) else {
        return Vec::new();
    };
    let last = all
        .iter()
        .rposition(|(o, _)| *o == Owner::User)
        .unwrap_or(first);
    let start = if first > 0 && all[first - 1].0 == Owner::Goweave {
        first - 1
    } else {
        first
    };
    all.truncate(last + 1);
    all.drain(..start);
    all.into_iter().map(|(_, f)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_by_crate() {
        assert_eq!(owner(Some("my_test::f::{{closure}}")), Owner::User);
        assert_eq!(
            owner(Some("goweave::sync::mutex::Mutex<T>::lock")),
            Owner::Goweave
        );
        assert_eq!(
            owner(Some(
                "<&mut goweave::sync::chan::Iter<T> as core::iter::traits::iterator::Iterator>::next"
            )),
            Owner::Goweave
        );
        assert_eq!(
            owner(Some(
                "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"
            )),
            Owner::Runtime
        );
        assert_eq!(
            owner(Some("<my_test::S as core::ops::drop::Drop>::drop")),
            Owner::User
        );
        assert_eq!(
            owner(Some("corosensei::coroutine::on_stack")),
            Owner::Runtime
        );
        assert_eq!(owner(Some("start_thread")), Owner::Runtime);
        assert_eq!(owner(None), Owner::Unknown);
    }

    #[test]
    fn trimming_keeps_the_api_frame_and_the_users_frames() {
        let f = |o, n: &str| {
            (
                o,
                Frame {
                    function: n.into(),
                    file: None,
                    line: None,
                    column: None,
                },
            )
        };
        let all = vec![
            f(
                Owner::Runtime,
                "backtrace::capture::Backtrace::new_unresolved",
            ),
            f(Owner::Goweave, "goweave::runtime::executor::park"),
            f(Owner::Goweave, "goweave::sync::mutex::Mutex<T>::lock"),
            f(Owner::User, "t::a"),
            f(Owner::Runtime, "core::ops::function::FnOnce::call_once"),
            f(Owner::User, "t::b"),
            f(
                Owner::Goweave,
                "goweave::runtime::join::spawn_named::{{closure}}",
            ),
            f(Owner::Runtime, "std::panic::catch_unwind"),
            f(Owner::Runtime, "corosensei::trampoline"),
        ];
        let names: Vec<_> = trim(all).into_iter().map(|f| f.function).collect();
        assert_eq!(
            names,
            [
                "goweave::sync::mutex::Mutex<T>::lock",
                "t::a",
                "core::ops::function::FnOnce::call_once",
                "t::b"
            ]
        );
        assert!(trim(vec![f(Owner::Goweave, "goweave::x")]).is_empty());
    }

    #[test]
    fn values_parse() {
        assert_eq!(parse("1"), Ok(true));
        assert_eq!(parse("full"), Ok(true));
        assert_eq!(parse("0"), Ok(false));
        assert!(parse("yes please").is_err());
    }
}
