//! Classic bug: unbounded spawning; fixed with an errgroup limit or a `Semaphore`.
//!
//! `fetch_all` starts one goroutine per URL. Each fetch holds a connection to the same server
//! while it waits for the reply, and the server accepts at most `MAX_CONNS` at once (the
//! assertion in `connect` stands for the server refusing, or for running out of file
//! descriptors). With eight URLs it works in a quick test, when the fetches happen not to
//! overlap, and fails in production. goweave's checker overlaps them: virtual time makes every
//! fetch wait for its reply at once, and the strategy orders the rest.
//!
//! Two fixes, both checked: `errgroup::Group::set_limit(MAX_CONNS)` (Go's `SetLimit`: `go`
//! blocks while that many run), and a weighted `sync::Semaphore` around the fetch
//! (`x/sync/semaphore`).
//!
//! `cargo run --release --example bug_unbounded_spawn`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use goweave::errgroup::Group;
use goweave::sync::atomic::{AtomicUsize, Ordering};
use goweave::sync::{Semaphore, WaitGroup};
use goweave::{go, time, Checker, FailureKind};

const MAX_CONNS: usize = 3;
const URLS: usize = 8;

/// The server's side: how many connections are open.
#[derive(Default)]
struct Server {
    open: AtomicUsize,
}

impl Server {
    /// One request: connect, wait for the reply, disconnect.
    fn fetch(&self, url: usize) -> usize {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(
            open <= MAX_CONNS,
            "connection refused: {open} open connections, the server allows {MAX_CONNS}"
        );
        time::sleep(Duration::from_millis(20)); // the reply takes a while
        self.open.fetch_sub(1, Ordering::SeqCst);
        url * 2
    }
}

/// The buggy version: one goroutine per URL, all at once.
fn fetch_all_unbounded(server: &Arc<Server>) {
    let wg = WaitGroup::new();
    for url in 0..URLS {
        let server = server.clone();
        wg.go(move || {
            server.fetch(url);
        });
    }
    wg.wait();
}

/// Fix 1: an errgroup with a limit; `go` waits while `MAX_CONNS` fetches run.
fn fetch_all_errgroup(server: &Arc<Server>) {
    let g: Group<String> = Group::new();
    g.set_limit(MAX_CONNS);
    for url in 0..URLS {
        let server = server.clone();
        g.go(move || {
            server.fetch(url);
            Ok(())
        });
    }
    g.wait().expect("no fetch fails");
}

/// Fix 2: a semaphore of `MAX_CONNS` units around each fetch.
fn fetch_all_semaphore(server: &Arc<Server>) {
    let sem = Arc::new(Semaphore::new(MAX_CONNS as u64));
    let hs: Vec<_> = (0..URLS)
        .map(|url| {
            let (server, sem) = (server.clone(), sem.clone());
            go(move || {
                sem.acquire(1);
                let r = server.fetch(url);
                sem.release(1);
                r
            })
        })
        .collect();
    let total: usize = hs.into_iter().map(|h| h.join()).sum();
    assert_eq!(total, (0..URLS).map(|u| u * 2).sum::<usize>());
}

/// Find the overload, then show both limits passing.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_unbounded_spawn",
        "one goroutine per URL, no limit",
        Checker::new().iterations(100),
        FailureKind::Panic,
        &["connection refused"],
        || fetch_all_unbounded(&Arc::default()),
    )?;
    let errgroup = common::passes(
        "errgroup with set_limit(MAX_CONNS)",
        Checker::new().iterations(500),
        || fetch_all_errgroup(&Arc::default()),
    )?;
    let semaphore = common::passes(
        "a Semaphore of MAX_CONNS units",
        Checker::new().iterations(500),
        || fetch_all_semaphore(&Arc::default()),
    )?;
    Ok(common::Demo {
        bug,
        fixed: vec![errgroup, semaphore],
    })
}

#[allow(dead_code)]
fn main() {
    common::exit(run(), "the bug was found and the fix passes");
}
