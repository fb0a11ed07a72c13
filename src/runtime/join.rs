//! `go` and `JoinHandle`: starting a goroutine and waiting for its result.
//!
//! Invariant: a join slot moves Running → Done(value) | Abandoned exactly once, under its lock,
//! and whoever waits registers itself under the same lock, so a completion never misses a
//! waiter.

use std::panic::Location;
use std::sync::{Arc, Mutex};

use super::context;
use super::event::{Event, ObjId, Op};
use super::executor;
use super::goroutine::{GRef, WaitReason};
use super::hb::{self, Key};

enum Waiter {
    Goroutine(GRef),
    Thread(std::thread::Thread),
}

enum State<T> {
    /// Not finished; the joiner, if one waits (there is at most one: `join` takes the handle).
    Running(Option<Waiter>),
    Done(T),
    Taken,
    /// The goroutine panicked or was torn down before returning.
    Abandoned(&'static str),
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    fn finish(&self, next: State<T>) {
        let waiters = {
            let mut st = self.state.lock().unwrap();
            if !matches!(*st, State::Running(_)) {
                return;
            }
            match std::mem::replace(&mut *st, next) {
                State::Running(w) => w,
                _ => unreachable!(),
            }
        };
        if let Some(w) = waiters {
            match w {
                Waiter::Goroutine(g) => executor::unpark(g),
                Waiter::Thread(t) => t.unpark(),
            }
        }
    }
}

/// Marks the slot abandoned if the goroutine unwinds before storing its value.
struct CompletionGuard<T>(Arc<Slot<T>>);

impl<T> Drop for CompletionGuard<T> {
    fn drop(&mut self) {
        self.0.finish(State::Abandoned(
            "it panicked or was torn down (main returned) before returning",
        ));
    }
}

/// A handle to a goroutine started with [`go`]: [`join`](JoinHandle::join) waits for its
/// value. Dropping the handle detaches the goroutine, as in Go.
pub struct JoinHandle<T> {
    slot: Arc<Slot<T>>,
    id: u64,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

impl<T> JoinHandle<T> {
    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True once the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        !matches!(*self.slot.state.lock().unwrap(), State::Running(_))
    }

    /// Wait for the goroutine's value. Works from a goroutine (it parks with wait reason
    /// `join`) and from a thread outside the runtime (it blocks the thread).
    ///
    /// Panics if the goroutine panicked (the run is ending anyway, as in Go) or was torn down.
    #[track_caller]
    pub fn join(self) -> T {
        let site = Location::caller();
        executor::sched_point(Event::new(Op::Join, ObjId(self.id), site));
        loop {
            let mut st = self.slot.state.lock().unwrap();
            match &mut *st {
                State::Done(_) => {
                    let State::Done(v) = std::mem::replace(&mut *st, State::Taken) else {
                        unreachable!()
                    };
                    drop(st);
                    hb::acquire(Key::Exit(self.id));
                    return v;
                }
                State::Taken => unreachable!("join consumes the handle"),
                State::Abandoned(why) => panic!("goweave: joined goroutine {}: {why}", self.id),
                State::Running(waiter) => match context::current_gref() {
                    Some(g) => {
                        *waiter = Some(Waiter::Goroutine(g));
                        executor::park(WaitReason::Join, site, move || drop(st));
                    }
                    None => {
                        *waiter = Some(Waiter::Thread(std::thread::current()));
                        drop(st);
                        std::thread::park();
                    }
                },
            }
        }
    }
}

/// Start `f` in a new goroutine (Go's `go` statement) on the current executor.
///
/// Panics with a message that explains how to start a runtime when called outside one.
///
/// ```
/// let sum = goweave::run(|| {
///     let h = goweave::go(|| 2 + 2);
///     h.join()
/// });
/// assert_eq!(sum, 4);
/// ```
#[track_caller]
pub fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    spawn_named(None, Location::caller(), f)
}

/// Start `f` in a new goroutine named `name`; the name appears in reports.
#[track_caller]
pub fn go_named<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    spawn_named(Some(name.into().into_boxed_str()), Location::caller(), f)
}

fn spawn_named<T: Send + 'static>(
    name: Option<Box<str>>,
    site: &'static Location<'static>,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Running(None)),
    });
    let guard = CompletionGuard(slot.clone());
    let g = executor::spawn(
        Box::new(move || {
            let v = f();
            let guard = guard;
            guard.0.finish(State::Done(v));
        }),
        name,
        site,
    );
    let id = g.id;
    drop(g);
    executor::sched_point(Event::new(Op::Spawn, ObjId(id), site));
    JoinHandle { slot, id }
}
