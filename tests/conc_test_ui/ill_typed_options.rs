use goweave::conc_test;

#[conc_test(iterations = "10")]
fn iterations_as_string() {}

#[conc_test(iterations = 0)]
fn zero_iterations() {}

#[conc_test(seed = -1)]
fn negative_seed() {}

#[conc_test(seed = 1u8)]
fn suffixed_seed() {}

#[conc_test(depth = 0)]
fn zero_depth() {}

#[conc_test(max_steps = 1.5)]
fn fractional_steps() {}

#[conc_test(strategy = pct)]
fn strategy_as_path() {}

#[conc_test(strategy = "bfs")]
fn unknown_strategy() {}

#[conc_test(time_budget = 5)]
fn budget_as_integer() {}

#[conc_test(time_budget = "5 parsecs")]
fn budget_with_bad_unit() {}

#[conc_test(time_budget = "0s")]
fn empty_budget() {}

#[conc_test(leak_check = "no")]
fn leak_check_as_string() {}

#[conc_test(expect = "crash")]
fn unknown_expectation() {}

#[conc_test(replay = "not a token")]
fn bad_token() {}

#[conc_test(timers = "sometimes")]
fn unknown_timer_mode() {}

fn main() {}
