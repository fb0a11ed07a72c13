//! Helpers shared by the integration tests: run one body on both executors.
#![allow(dead_code)]

use goweave::{Checker, Runtime};

/// Run `f` on the work-stealing executor (2 workers) and under 20 random schedules of the
/// controlled executor; both must succeed.
pub fn on_both<F: Fn() + Send + Sync + Clone + 'static>(f: F) {
    on_steal(f.clone());
    on_controlled(20, f);
}

/// Run `f` on a 2-worker work-stealing runtime.
pub fn on_steal<F: Fn() + Send + Sync + 'static>(f: F) {
    Runtime::builder().workers(2).build().unwrap().block_on(f);
}

/// Run `f` under `n` random schedules; panic with the report on failure.
pub fn on_controlled<F: Fn() + Send + Sync + 'static>(n: u64, f: F) {
    if let Err(e) = Checker::new().iterations(n).seed(7).run(f) {
        panic!("controlled run failed:\n{e}");
    }
}

/// The text of a caught panic.
pub fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}
