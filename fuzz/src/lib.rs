//! goweave's cargo-fuzz targets: the buggy kernels they run (also compiled into goweave's
//! own fuzzing tests, from this same file).

pub mod kernels;
