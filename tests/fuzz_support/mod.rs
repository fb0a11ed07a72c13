//! What the fuzzing tests share: the buggy kernels of the cargo-fuzz project
//! (`fuzz/src/kernels.rs`), compiled into each test from that one file.
#![allow(dead_code)]

#[path = "../../fuzz/src/kernels.rs"]
pub mod kernels;
