//! goweave-harness: a libtest-mimic runner for long goweave exploration campaigns.
