//! Small pieces several modules need, written once: a spin lock, hashing, JSON escaping.

pub(crate) mod hash;
pub(crate) mod json;
pub(crate) mod spin;
