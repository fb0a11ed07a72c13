//! Goroutine-local storage: the goroutine-shaped replacement for `thread_local!`, because many
//! goroutines share one worker thread.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use super::context;

/// A key for a per-goroutine value, declared as a `static`.
///
/// Each goroutine sees its own value, created by the initialiser on first use.
///
/// ```
/// use goweave::runtime::GoroutineLocal;
/// static HITS: GoroutineLocal<u32> = GoroutineLocal::new(|| 0);
///
/// goweave::run(|| {
///     HITS.with(|h| *h += 1);
///     let other = goweave::go(|| HITS.with(|h| *h)).join();
///     assert_eq!(other, 0);
///     assert_eq!(HITS.with(|h| *h), 1);
/// });
/// ```
pub struct GoroutineLocal<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> GoroutineLocal<T> {
    /// A key whose values start as `init()`.
    pub const fn new(init: fn() -> T) -> GoroutineLocal<T> {
        GoroutineLocal { init }
    }

    /// Run `f` with this goroutine's value.
    ///
    /// Panics outside a goroutine, or when called re-entrantly for the same key.
    pub fn with<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        let key = self as *const Self as usize;
        let cell = context::with_current(|g| {
            let g = g.expect("goweave: GoroutineLocal::with called outside a goroutine");
            g.local(key, || Rc::new(RefCell::new((self.init)())) as Rc<dyn Any>)
        });
        let cell = cell
            .downcast::<RefCell<T>>()
            .unwrap_or_else(|_| unreachable!("one key, one type"));
        let mut v = cell
            .try_borrow_mut()
            .expect("goweave: GoroutineLocal::with called re-entrantly for the same key");
        f(&mut v)
    }
}
