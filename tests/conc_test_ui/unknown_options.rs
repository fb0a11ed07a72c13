use goweave::conc_test;

#[conc_test(iteratons = 10)]
fn misspelt_option() {}

#[conc_test(goweave::seed = 1)]
fn path_option() {}

#[conc_test(seed)]
fn option_without_value() {}

#[conc_test(seed = 1, seed = 2)]
fn duplicate_option() {}

fn main() {}
