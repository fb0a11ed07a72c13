//! Bug detectors: goroutine leaks and data races.

pub mod leak;
pub mod race;
