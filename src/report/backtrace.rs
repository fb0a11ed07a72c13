//! Backtraces in reports (`GOWEAVE_BACKTRACE=1`): resolved Go style, a function line and an
//! indented `file:line:column` line per frame, trimmed to the program's frames (plus the
//! goweave API function the program called, such as `goweave::sync::mutex::Mutex<T>::lock`, as
//! the top frame).

use std::fmt::Write as _;
use std::path::Path;

use backtrace::Backtrace;

use crate::verdict::Stacks;

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
}
