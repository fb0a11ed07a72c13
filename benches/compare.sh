#!/usr/bin/env bash
# The whole comparison table in one command (see benches/README.md):
#   benches/compare.sh            measure everything, print one Markdown table
#   benches/compare.sh --quick    fewer repetitions for the anchors, 5 fresh-process runs per row
#   benches/compare.sh --runs 20  fresh-process runs per one-shot row (median and worst)
#   benches/compare.sh --from target/compare/<time>.log    re-print a saved run
#   benches/compare.sh --only oneshot,explore   measure some groups only
# It runs goweave's benches, the Go anchor (skipped if `go` is missing), the tokio/may/threads
# anchors (benches/anchors) and the loom anchor (benches/loom); benches/compare.py does the work.
set -euo pipefail
if ! command -v python3 >/dev/null; then
    echo "compare.sh: python3 is not installed (install: apt-get update && apt-get install -y python3)" >&2
    exit 1
fi
exec python3 "$(dirname "$0")/compare.py" "$@"
