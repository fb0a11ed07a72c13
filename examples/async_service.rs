//! Testing an async service: a read-through cache in front of a slow backend, written with
//! `goweave::task` and the async forms of goweave's channels and mutex.
//!
//! The backend is a task serving requests from a channel; each request carries its own reply
//! channel. `Cache::get` looks the key up and, on a miss, asks the backend and stores the
//! answer. The buggy version checks the cache and fills it in two separate critical sections:
//! two concurrent `get`s of the same key can both miss, and the backend is asked twice (a
//! cache stampede), which the test's assertion catches. The checker finds the interleaving
//! (the report names the tasks, `task 3`, `task 4`, where goroutines would be `goroutine 3`),
//! prints a replay token, and shrinks it to the one preemption that matters. The fix holds the
//! lock across the fetch (an owned guard, which a task may keep across an `.await`).
//!
//! The same body runs unchanged on the work-stealing runtime (`goweave::run`), and as a test:
//!
//! ```ignore
//! #[goweave::conc_test(iterations = 1_000)]
//! fn a_key_is_fetched_once() {
//!     two_gets_of_one_key(once); // `once` boxes the future of `Cache::get_once`
//! }
//! ```
//!
//! `cargo run --release --example async_service`

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goweave::chan::{self, Chan};
use goweave::sync::Mutex;
use goweave::{task, Checker, FailureKind};

/// A backend request: the key, and where to send the value.
struct Request {
    key: String,
    reply: Chan<String>,
}

/// The service under test.
#[derive(Clone)]
pub struct Cache {
    entries: Arc<Mutex<HashMap<String, String>>>,
    backend: Chan<Request>,
    /// Backend fetches so far (what the test checks).
    fetches: Arc<AtomicUsize>,
}

impl Cache {
    /// Start the backend task and return the cache in front of it.
    pub fn start() -> Cache {
        let backend = chan::make::<Request>(0);
        let fetches = Arc::new(AtomicUsize::new(0));
        let (requests, count) = (backend.clone(), fetches.clone());
        task::spawn_named("backend", async move {
            while let Some(req) = requests.recv_async().await {
                count.fetch_add(1, Ordering::SeqCst);
                req.reply.send_async(format!("value of {}", req.key)).await;
            }
        });
        Cache {
            entries: Arc::new(Mutex::new(HashMap::new())),
            backend,
            fetches,
        }
    }

    async fn fetch(&self, key: &str) -> String {
        let reply = chan::make(1);
        self.backend
            .send_async(Request {
                key: key.to_string(),
                reply: reply.clone(),
            })
            .await;
        reply.recv_async().await.expect("the backend replies")
    }

    /// The buggy read-through: look up, unlock, fetch, lock again, store.
    pub async fn get_racy(self, key: String) -> String {
        if let Some(v) = self.entries.lock_async().await.get(&key).cloned() {
            return v;
        }
        let v = self.fetch(&key).await;
        self.entries.lock_async().await.insert(key, v.clone());
        v
    }

    /// The fix: hold the lock across the fetch, so a second `get` waits for the first.
    pub async fn get_once(self, key: String) -> String {
        let mut entries = self.entries.lock_owned_async().await;
        if let Some(v) = entries.get(&key) {
            return v.clone();
        }
        let v = self.fetch(&key).await;
        entries.insert(key, v.clone());
        v
    }

    /// Backend fetches so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Stop the backend (its task ends when the request channel closes: no leak).
    pub fn shutdown(&self) {
        self.backend.close();
    }
}

/// A `get` method, as a function the test can take either version of.
type Get = fn(Cache, String) -> Pin<Box<dyn Future<Output = String> + Send>>;

/// The test: two tasks get the same key at once; the backend must be asked once.
pub fn two_gets_of_one_key(get: Get) {
    let cache = Cache::start();
    let a = task::spawn(get(cache.clone(), "k".into()));
    let b = task::spawn(get(cache.clone(), "k".into()));
    assert_eq!(task::block_on(a), "value of k");
    assert_eq!(b.join(), "value of k");
    assert_eq!(
        cache.fetches(),
        1,
        "the backend was asked twice for one key"
    );
    cache.shutdown();
}

fn racy(c: Cache, k: String) -> Pin<Box<dyn Future<Output = String> + Send>> {
    Box::pin(c.get_racy(k))
}

fn once(c: Cache, k: String) -> Pin<Box<dyn Future<Output = String> + Send>> {
    Box::pin(c.get_once(k))
}

/// Find the stampede, then show the fix passing (under the checker and on the runtime).
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "async_service",
        "Cache::get_racy: check and fill in two critical sections",
        Checker::new().iterations(1_000),
        FailureKind::Panic,
        &["the backend was asked twice for one key"],
        || two_gets_of_one_key(racy),
    )?;
    let fixed = common::passes(
        "Cache::get_once: the lock held across the fetch",
        Checker::new().iterations(1_000),
        || two_gets_of_one_key(once),
    )?;
    // The same test on the work-stealing runtime.
    goweave::run(|| two_gets_of_one_key(once));
    Ok(common::Demo {
        bug,
        fixed: vec![fixed],
    })
}

#[allow(dead_code)]
fn main() {
    common::exit(run(), "the bug was found and the fix passes");
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fix as a regression test, and the bug kept as a known failure.
    #[goweave::conc_test(iterations = 1_000)]
    fn a_key_is_fetched_once() {
        two_gets_of_one_key(once);
    }

    #[goweave::conc_test(iterations = 1_000, expect = "panic")]
    fn the_racy_get_asks_the_backend_twice() {
        two_gets_of_one_key(racy);
    }
}
