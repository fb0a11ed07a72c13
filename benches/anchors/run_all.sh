#!/usr/bin/env bash
# Runs every anchor (Go, tokio, may, std threads) once and prints one line per workload.
# Usage: benches/anchors/run_all.sh [extra args passed to every anchor, e.g. --bench select4]
# Takes about 3.5 minutes on the 2-core reference machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
cargo build --release --quiet
echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(go version | cut -d' ' -f3), $(rustc --version | cut -d' ' -f1-2); loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
GO111MODULE=off go run ../go/main.go "$@"
./target/release/tokio "$@"
./target/release/may "$@"
./target/release/threads "$@"
echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
