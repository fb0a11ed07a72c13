//! The `goweave-harness` command: `goweave-harness merge <shard.json>...` merges the
//! `--format json` outputs of a sharded campaign (the campaigns themselves run in the test
//! binaries that call `goweave_harness::main()`).

fn main() {
    let mut args = std::env::args_os().skip(1);
    let code = match args.next() {
        Some(cmd) if cmd == "merge" => goweave_harness::merge::cli(args),
        Some(cmd) if cmd == "-h" || cmd == "--help" => {
            print!(
                "usage: goweave-harness merge [options] <shard.json>...\n\n{}",
                goweave_harness::merge::HELP
            );
            0
        }
        other => {
            eprintln!(
                "goweave-harness: expected a command (merge), got {:?}\n\n{}",
                other.unwrap_or_default(),
                goweave_harness::merge::HELP
            );
            2
        }
    };
    std::process::exit(code)
}
