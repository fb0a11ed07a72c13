//! Go's synchronisation primitives, each written once against the executor interface so that it
//! runs unchanged on both executors.

pub mod chan;
