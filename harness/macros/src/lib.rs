//! goweave-macros: the `#[conc_test]` attribute.
