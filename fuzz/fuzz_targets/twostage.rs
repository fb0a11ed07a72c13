//! SCTBench's twostage with 10 writers: a bug that needs one preemption in the right place
//! among many, to compare libFuzzer's byte mutations with goweave's built-in Fuzz strategy.
//! The input bytes choose every scheduling decision (goweave::fuzz::run).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| goweave::fuzz::run(data, goweave_fuzz::kernels::twostage(10)));
