//! Bug detectors that look at a run from outside: goroutine leaks (more to come: races).

pub mod leak;
