//! Channels (being built).
