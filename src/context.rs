//! Go's `context`: cancellation, deadlines and request-scoped values, as a tree of contexts.
//!
//! ```
//! use goweave::context;
//! use goweave::time::Duration;
//! use goweave::{go, select};
//!
//! goweave::run(|| {
//!     let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_secs(5));
//!     let c = ctx.clone();
//!     let worker = go(move || {
//!         select! {
//!             recv(c.done()) => c.err(),
//!         }
//!     });
//!     cancel.cancel(); // long before the 5 s deadline
//!     assert_eq!(worker.join(), Some(context::ContextError::Canceled));
//! });
//! ```
//!
//! - [`background`] is the root: never cancelled, no deadline, no values.
//! - [`with_cancel`], [`with_deadline`] and [`with_timeout`] derive a cancellable child. It is
//!   cancelled when its [`CancelFn`] is called, its deadline passes (executor clock: virtual on
//!   the controlled executor, so a one-hour timeout costs nothing in the tester), or its parent
//!   is cancelled, whichever comes first. Cancelling is idempotent: the first reason sticks.
//! - [`Context::done`] is a receive-only channel that is closed on cancellation, for
//!   [`select!`](crate::select); [`Context::err`] says why (`Canceled` or
//!   `DeadlineExceeded`).
//! - [`with_value`] attaches a value; [`Context::value`] finds the nearest one for a key.
//! - [`Context::from_custom`] turns your own [`CustomContext`] into a `Context` (Go's
//!   `Context` is an interface): contexts derived from it are cancelled when it is done.
//! - A context prints as Go's `String()` does: `context.Background.WithCancel`,
//!   `context.Background.WithDeadline(Instant(+5s) [5s])`, `context.TODO.WithValue(k, v)`.
//!
//! Structure. A context is a node holding its parent. Cancellable nodes own a `Canceler`;
//! value nodes use their parent's. A canceler holds its children's cancelers (strongly, so
//! that cancelling a parent reaches children whose handles were dropped while their `done`
//! channel is still watched) and its parent's weakly (to unregister itself); there are no
//! reference cycles.
//!
//! Invariants (under `Canceler::state`):
//! - `err` goes `None → Some` once; after that `children` is empty and `timer` is `None`.
//! - `done`, once created, is closed exactly once: by the canceller that set `err` if it
//!   existed then, else by the `done` call that created it after cancellation.
//! - No `std` lock is held across a channel operation or any other scheduling point (on the
//!   controlled executor another goroutine could run there and block the thread on the lock).
//! - Children are kept in a `BTreeMap` keyed by object id, so they are cancelled in creation
//!   order: the schedule does not depend on addresses.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, Weak};

use crate::chan::{self, Chan, Receiver};
use crate::runtime::event::Op;
use crate::runtime::executor::is_controlled;
use crate::runtime::executor::{self, Timers};
use crate::runtime::hb;
use crate::runtime::timer::TimerId;
use crate::sync::obj::{lock_queue, watched, Obj};
use crate::time::{self, Duration, Instant};

/// Why a context was cancelled (Go's `context.Canceled` and `context.DeadlineExceeded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Its cancel function (or an ancestor's) was called.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

impl ContextError {
    /// True for [`DeadlineExceeded`](ContextError::DeadlineExceeded): Go's deadline error
    /// implements `Timeout() bool` (the `net.Error` convention), so code that asks "was this a
    /// timeout?" treats an expired context like a network timeout.
    pub fn timeout(&self) -> bool {
        matches!(self, ContextError::DeadlineExceeded)
    }

    /// True for [`DeadlineExceeded`](ContextError::DeadlineExceeded), as Go's deadline error's
    /// `Temporary()` (the request may succeed with more time).
    pub fn temporary(&self) -> bool {
        self.timeout()
    }
}

/// A context implemented outside goweave: Go's `Context` interface, for
/// [`Context::from_custom`]. Its `Display` is its `String()` (derived contexts print it as
/// their prefix).
///
/// The methods are Go's: [`deadline`](CustomContext::deadline) (`Deadline`),
/// [`done`](CustomContext::done) (`Done`; `None` is Go's nil channel: never cancelled),
/// [`err`](CustomContext::err) (`Err`: `Some` once `done` is closed) and
/// [`value`](CustomContext::value) (`Value`). As in Go, `done` must return the same channel
/// every time, closed once when the context is cancelled.
///
/// ```
/// use std::any::Any;
/// use std::fmt;
/// use goweave::chan::{self, Chan, Receiver, TryRecvError};
/// use goweave::context::{self, Context, ContextError, CustomContext};
///
/// /// Cancelled when a shutdown channel is closed.
/// struct Shutdown(Chan<()>);
///
/// impl fmt::Display for Shutdown {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("shutdown")
///     }
/// }
///
/// impl CustomContext for Shutdown {
///     fn done(&self) -> Option<Receiver<()>> {
///         Some(self.0.receiver())
///     }
///     fn err(&self) -> Option<ContextError> {
///         // Nobody sends on it: a receive succeeds only once it is closed.
///         matches!(self.0.try_recv(), Err(TryRecvError::Closed)).then_some(ContextError::Canceled)
///     }
/// }
///
/// goweave::run(|| {
///     let stop = chan::make::<()>(0);
///     let root = Context::from_custom(Shutdown(stop.clone()));
///     let (ctx, _cancel) = context::with_cancel(&root);
///     assert_eq!(ctx.to_string(), "shutdown.WithCancel");
///     stop.close();
///     assert_eq!(ctx.done().recv(), None); // cancelled with its parent
///     assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// });
/// ```
pub trait CustomContext: fmt::Display + Send + Sync + 'static {
    /// When the context will be cancelled for its deadline, if it has one.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// A channel closed when the context is cancelled; `None` if it never is.
    fn done(&self) -> Option<Receiver<()>>;

    /// Why the context was cancelled; `None` while it is not.
    fn err(&self) -> Option<ContextError>;

    /// The value for `key` (a key given to [`Context::value`] or [`Context::value_any`]),
    /// if this context has one. The default has none.
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        let _ = key;
        None
    }
}

/// A cancellation scope: Go's `context.Context`. Cheap to clone; clones are the same context.
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

struct Node {
    /// The context this one was derived from (`None` for the background).
    parent: Option<Context>,
    /// Own cancellation state, for contexts made by `with_cancel`/`with_deadline`.
    canceler: Option<Arc<Canceler>>,
    /// The effective deadline: its own or an ancestor's, whichever is earlier.
    deadline: Option<Instant>,
    /// `(key, value)` for contexts made by `with_value`.
    value: Option<(Box<dyn Any + Send + Sync>, Box<dyn Any + Send + Sync>)>,
    /// How it was made, for `Display` (and, for a custom context, the implementation).
    kind: Kind,
}

/// How a context was made: the part of Go's `String()` it adds to its parent's.
enum Kind {
    /// `context.Background`.
    Background,
    /// `context.TODO`.
    Todo,
    /// `.WithCancel`.
    Cancel,
    /// `.WithDeadline(deadline [time left])`.
    Deadline(Instant),
    /// `.WithValue(key, value)`, with the type names of both (printed unless the value is a
    /// string).
    Value(&'static str, &'static str),
    /// A context implemented outside goweave: it prints itself, and answers for itself.
    Custom(Arc<dyn CustomContext>),
}

/// The cancellation state of one cancellable context.
struct Canceler {
    state: Mutex<CancelState>,
    /// The parent's canceler, to unregister from when cancelled on our own.
    parent: Weak<Canceler>,
    /// Identity in events; also the key in the parent's `children`.
    obj: Obj,
}

#[derive(Default)]
struct CancelState {
    /// Why it was cancelled; `None` while live.
    err: Option<ContextError>,
    /// The done channel, created on first use.
    done: Option<Chan<()>>,
    /// Cancelers of the live cancellable descendants that registered here, by object id.
    children: BTreeMap<u64, Arc<Canceler>>,
    /// The deadline timer, while armed.
    timer: Option<(Timers, TimerId)>,
}

impl Canceler {
    fn new(parent: Weak<Canceler>) -> Arc<Canceler> {
        Arc::new(Canceler {
            state: Mutex::new(CancelState::default()),
            parent,
            obj: Obj::new(),
        })
    }

    /// Cancel with `err` (if not cancelled yet), then every registered descendant; with
    /// `unregister`, also leave the parent's list (Go's `cancelCtx.cancel`).
    fn cancel(self: &Arc<Self>, err: ContextError, unregister: bool) {
        if watched(is_controlled()) {
            // What the canceller did happens before an `err()` that observes it.
            hb::release_merge(self.obj.key());
        }
        let (done, children, timer) = {
            let mut st = lock_queue(&self.state);
            if st.err.is_some() {
                return;
            }
            st.err = Some(err);
            (
                st.done.clone(),
                std::mem::take(&mut st.children),
                st.timer.take(),
            )
        };
        if let Some((timers, id)) = timer {
            timers.cancel(id);
        }
        if let Some(done) = done {
            done.close();
        }
        for child in children.values() {
            child.cancel(err, false);
        }
        if unregister {
            if let Some(p) = self.parent.upgrade() {
                let id = self.obj.id().0;
                lock_queue(&p.state).children.remove(&id);
            }
        }
    }

    fn err(&self) -> Option<ContextError> {
        lock_queue(&self.state).err
    }

    fn done(&self) -> Receiver<()> {
        let (ch, close_now) = {
            let mut st = lock_queue(&self.state);
            match &st.done {
                Some(ch) => (ch.clone(), false),
                None => {
                    let ch = chan::make(0);
                    st.done = Some(ch.clone());
                    (ch, st.err.is_some())
                }
            }
        };
        if close_now {
            // Cancelled before anyone asked for the channel: we close it ourselves, so the
            // close carries no edge from the canceller; take it from the cancel.
            if watched(is_controlled()) {
                hb::acquire(self.obj.key());
            }
            ch.close();
        }
        ch.receiver()
    }

    /// Register `child` to be cancelled with us; if we already are, cancel it now.
    fn adopt(&self, child: &Arc<Canceler>) {
        let id = child.obj.id().0;
        let err = {
            let mut st = lock_queue(&self.state);
            match st.err {
                Some(e) => Some(e),
                None => {
                    st.children.insert(id, child.clone());
                    None
                }
            }
        };
        if let Some(e) = err {
            // We observed our cancel: it happens before the child's.
            if watched(is_controlled()) {
                hb::acquire(self.obj.key());
            }
            child.cancel(e, false);
        }
    }
}

/// The root context: never cancelled, no deadline, no values (Go's `context.Background`).
pub fn background() -> Context {
    root(Kind::Background)
}

/// Same as [`background`], for code that has not decided which context to use yet (Go's
/// `context.TODO`; it prints as `context.TODO`).
pub fn todo() -> Context {
    root(Kind::Todo)
}

fn root(kind: Kind) -> Context {
    Context {
        node: Arc::new(Node {
            parent: None,
            canceler: None,
            deadline: None,
            value: None,
            kind,
        }),
    }
}

/// Cancels a context made by [`with_cancel`], [`with_deadline`] or [`with_timeout`] (Go's
/// `context.CancelFunc`). Calling it again does nothing. Dropping it does **not** cancel, as
/// in Go: call [`cancel`](CancelFn::cancel) when the work is done, to release the context
/// (and its timer) early.
#[derive(Clone)]
pub struct CancelFn {
    canceler: Arc<Canceler>,
}

impl CancelFn {
    /// Cancel the context (and its descendants) with [`ContextError::Canceled`], unless it is
    /// cancelled already.
    #[track_caller]
    pub fn cancel(&self) {
        self.canceler.obj.point(Op::Context, Location::caller());
        self.canceler.cancel(ContextError::Canceled, true);
    }
}

impl fmt::Debug for CancelFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFn")
            .field("canceled", &self.canceler.err().is_some())
            .finish()
    }
}

/// A child of `parent` that is cancelled when the returned [`CancelFn`] is called or `parent`
/// is (Go's `context.WithCancel`).
#[track_caller]
pub fn with_cancel(parent: &Context) -> (Context, CancelFn) {
    derive(parent, parent.deadline(), Kind::Cancel)
}

/// A child of `parent` that is also cancelled, with [`ContextError::DeadlineExceeded`], at
/// `deadline` on the executor's clock (Go's `context.WithDeadline`). A deadline already in the
/// past cancels it at once; a parent deadline that is earlier wins.
///
/// Must be called from a goroutine (it arms a timer on the current executor) unless the parent
/// deadline is earlier.
#[track_caller]
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFn) {
    if let Some(d) = parent.deadline() {
        if d <= deadline {
            // The parent's deadline comes first and will cancel us.
            return with_cancel(parent);
        }
    }
    let (ctx, cancel) = derive(parent, Some(deadline), Kind::Deadline(deadline));
    let c = &cancel.canceler;
    let now = time::now();
    if deadline <= now {
        c.cancel(ContextError::DeadlineExceeded, true);
        return (ctx, cancel);
    }
    let timers = executor::timers();
    let weak = Arc::downgrade(c);
    let mut st = lock_queue(&c.state);
    if st.err.is_none() {
        let id = timers.add(
            deadline.deadline(),
            Box::new(move || {
                if let Some(c) = weak.upgrade() {
                    c.cancel(ContextError::DeadlineExceeded, true);
                }
            }),
        );
        st.timer = Some((timers, id));
    }
    drop(st);
    (ctx, cancel)
}

/// [`with_deadline`] at `now + timeout` (Go's `context.WithTimeout`).
#[track_caller]
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFn) {
    with_deadline(parent, time::now() + timeout)
}

/// A child of `parent` that carries `value` under `key` (Go's `context.WithValue`). Keys are
/// compared by type and value; use a private key type to avoid collisions. As in Go, the
/// value shadows every value an ancestor holds for an equal key, whatever their types.
///
/// ```
/// use goweave::context;
///
/// #[derive(PartialEq)]
/// struct RequestId;
///
/// let ctx = context::with_value(&context::background(), RequestId, 42u64);
/// let (child, _cancel) = context::with_cancel(&ctx);
/// assert_eq!(child.value::<RequestId, u64>(&RequestId), Some(&42));
/// ```
pub fn with_value<K, V>(parent: &Context, key: K, value: V) -> Context
where
    K: Any + PartialEq + Send + Sync,
    V: Any + Send + Sync,
{
    Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            canceler: None,
            deadline: parent.deadline(),
            value: Some((Box::new(key), Box::new(value))),
            kind: Kind::Value(std::any::type_name::<K>(), std::any::type_name::<V>()),
        }),
    }
}

/// A cancellable child of `parent` with the effective `deadline`.
#[track_caller]
fn derive(parent: &Context, deadline: Option<Instant>, kind: Kind) -> (Context, CancelFn) {
    let origin = parent.origin();
    let up = match origin {
        Origin::Canceler(c) => Some(c),
        _ => None,
    };
    let canceler = Canceler::new(up.map_or_else(Weak::new, Arc::downgrade));
    if let Some(up) = up {
        up.adopt(&canceler);
    }
    if let Origin::Custom(custom) = origin {
        follow(custom, &canceler);
    }
    let ctx = Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            canceler: Some(canceler.clone()),
            deadline,
            value: None,
            kind,
        }),
    };
    (ctx, CancelFn { canceler })
}

/// Cancel `child` when the custom context `parent` is done (Go's `propagateCancel` for a
/// parent it does not know): at once if it is done already, else from a goroutine that waits
/// for whichever comes first, the parent's cancellation or the child's. That goroutine exists
/// until one of them happens, as Go's does: cancel the child when its work is done. Reports
/// say it was created where the child was derived.
#[track_caller]
fn follow(parent: &Arc<dyn CustomContext>, child: &Arc<Canceler>) {
    let Some(done) = parent.done() else {
        // Go's nil Done: never cancelled, nothing to follow.
        return;
    };
    if let Some(err) = parent.err() {
        child.cancel(err, false);
        return;
    }
    if crate::runtime::context::current_gref().is_none() {
        panic!("goweave: a context derived from a CustomContext that can be cancelled is followed by a goroutine (Go's propagateCancel), so it must be derived inside a goroutine (goweave::run, go, or the checker)");
    }
    let (parent, child) = (parent.clone(), child.clone());
    crate::runtime::join::go_named("context.propagateCancel", move || {
        let child_done = child.done();
        crate::select! {
            recv(done) => child.cancel(parent.err().unwrap_or(ContextError::Canceled), false),
            recv(child_done) => {}
        }
    });
}

/// Where a context's cancellation comes from: the nearest cancellable or custom context on
/// the path to the root.
enum Origin<'a> {
    /// A goweave cancellable context.
    Canceler(&'a Arc<Canceler>),
    /// A context implemented outside goweave.
    Custom(&'a Arc<dyn CustomContext>),
    /// Nothing: the background (or TODO) context, never cancelled.
    Root,
}

impl Context {
    /// A context implemented outside goweave (Go's `Context` is an interface). Contexts derived
    /// from it with [`with_cancel`], [`with_deadline`] or [`with_timeout`] are cancelled when
    /// it is done (see [`CustomContext`]); [`with_value`] children ask it for the keys they do
    /// not hold.
    pub fn from_custom(c: impl CustomContext) -> Context {
        Context {
            node: Arc::new(Node {
                parent: None,
                canceler: None,
                deadline: None,
                value: None,
                kind: Kind::Custom(Arc::new(c)),
            }),
        }
    }

    /// The nearest cancellable or custom context on the path to the root (this one included).
    fn origin(&self) -> Origin<'_> {
        let mut n = &*self.node;
        loop {
            if let Some(c) = &n.canceler {
                return Origin::Canceler(c);
            }
            if let Kind::Custom(c) = &n.kind {
                return Origin::Custom(c);
            }
            match &n.parent {
                Some(p) => n = &*p.node,
                None => return Origin::Root,
            }
        }
    }

    /// The nearest cancellable context on the path to the root (this one included).
    fn canceler(&self) -> Option<&Arc<Canceler>> {
        match self.origin() {
            Origin::Canceler(c) => Some(c),
            _ => None,
        }
    }

    /// A channel that is closed when this context is cancelled (Go's `Done`): receive from it
    /// in [`select!`](crate::select). For the background context it is never closed.
    pub fn done(&self) -> Receiver<()> {
        match self.origin() {
            Origin::Canceler(c) => c.done(),
            Origin::Custom(c) => c.done().unwrap_or_else(|| chan::make(0).receiver()),
            Origin::Root => chan::make(0).receiver(),
        }
    }

    /// Why this context was cancelled, or `None` while it is not (Go's `Err`).
    #[track_caller]
    pub fn err(&self) -> Option<ContextError> {
        let c = match self.origin() {
            Origin::Canceler(c) => c,
            Origin::Custom(c) => return c.err(),
            Origin::Root => return None,
        };
        let controlled = c.obj.point(Op::Context, Location::caller());
        let err = c.err();
        if err.is_some() && watched(controlled) {
            hb::acquire(c.obj.key());
        }
        err
    }

    /// The deadline, if this context or an ancestor has one (Go's `Deadline`).
    pub fn deadline(&self) -> Option<Instant> {
        match &self.node.kind {
            Kind::Custom(c) => c.deadline(),
            _ => self.node.deadline,
        }
    }

    /// The value of the nearest [`with_value`] ancestor (this one included) whose key equals
    /// `key`, if that value is a `V` (Go's `ctx.Value(key).(V)`).
    ///
    /// As in Go, lookup is by key alone: the nearest value for an equal key shadows the ones
    /// further up even when it is of another type, and then this returns `None` (Go's failed
    /// type assertion) rather than an outer value. [`value_any`](Context::value_any) returns
    /// the value whatever its type. A custom context on the path answers for itself and its
    /// ancestors ([`CustomContext::value`]).
    pub fn value<K, V>(&self, key: &K) -> Option<&V>
    where
        K: Any + PartialEq,
        V: Any,
    {
        self.value_any(key)?.downcast_ref::<V>()
    }

    /// The value of the nearest [`with_value`] ancestor (this one included) whose key equals
    /// `key`, whatever its type (Go's `Value`).
    pub fn value_any<K>(&self, key: &K) -> Option<&(dyn Any + Send + Sync)>
    where
        K: Any + PartialEq,
    {
        let mut n = &*self.node;
        loop {
            if let Some((k, v)) = &n.value {
                if k.downcast_ref::<K>() == Some(key) {
                    return Some(&**v);
                }
            }
            if let Kind::Custom(c) = &n.kind {
                return c.value(key);
            }
            n = &*n.parent.as_ref()?.node;
        }
    }
}

/// Go's `String()`: the chain of constructors from the root, e.g.
/// `context.Background.WithCancel.WithValue(my::Key, u64)`. A deadline prints as the instant
/// and the time left (negative once passed); a value prints as itself when it is a string,
/// else as its type name (Go prints a non-`Stringer` by type); a custom context prints its own
/// `Display`.
impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.node.parent {
            write!(f, "{p}")?;
        }
        match &self.node.kind {
            Kind::Background => f.write_str("context.Background"),
            Kind::Todo => f.write_str("context.TODO"),
            Kind::Cancel => f.write_str(".WithCancel"),
            Kind::Deadline(d) => {
                let now = time::now();
                match d.checked_duration_since(now) {
                    Some(left) => write!(f, ".WithDeadline({d:?} [{left:?}])"),
                    None => write!(f, ".WithDeadline({d:?} [-{:?}])", now.duration_since(*d)),
                }
            }
            Kind::Value(k, v) => {
                let (key, value) = self.node.value.as_ref().expect("a value node holds one");
                write!(
                    f,
                    ".WithValue({}, {})",
                    stringify(&**key, k),
                    stringify(&**value, v)
                )
            }
            Kind::Custom(c) => write!(f, "{c}"),
        }
    }
}

/// Go's `stringify` for `WithValue`'s `String()`: a string as itself, else the type's name.
fn stringify<'a>(v: &'a (dyn Any + Send + Sync), type_name: &'a str) -> &'a str {
    if let Some(s) = v.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = v.downcast_ref::<String>() {
        s
    } else {
        type_name
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let err = self.canceler().and_then(|c| c.err());
        f.debug_struct("Context")
            .field("err", &err)
            .field("deadline", &self.node.deadline)
            .finish_non_exhaustive()
    }
}
