//! Bug detectors that run under the runtime: data races (vector clocks).

pub mod race;
