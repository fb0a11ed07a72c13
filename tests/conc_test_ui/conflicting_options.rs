use goweave::conc_test;

#[conc_test(strategy = "random", depth = 3)]
fn depth_without_pct() {}

#[conc_test(strategy = "pct", max_preemptions = 2)]
fn preemptions_without_dfs() {}

#[conc_test(replay = "gw1:AAAA", iterations = 10)]
fn replay_with_iterations() {}

fn main() {}
