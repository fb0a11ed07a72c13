//! A pipeline that leaks a goroutine (goleak's verify_none panics).
//! The input bytes choose every scheduling decision (goweave::fuzz::run); a failing
//! schedule panics with its report and its replay token.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| goweave::fuzz::run(data, goweave_fuzz::kernels::pipeline_leak));
