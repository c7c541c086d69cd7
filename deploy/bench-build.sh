#!/usr/bin/env bash
# `producer build` benchmark: a generated whole-market day of QMT snapshots written as one CSV
# archive, then built by the release binary into Parquet files on all cores; prints the build's
# report (rows, outcomes, bars, rows_per_second), the wall time and the peak RSS.
# Usage: deploy/bench-build.sh [SYMBOLS] [STEP_S]; a real day's size: deploy/bench-build.sh 5000 3
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p producer --bin producer --example market_day
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
snapshots=$(./target/release/examples/market_day "$dir/day.csv" "${1:-5000}" "${2:-15}")
echo "input: $snapshots snapshots, $(du -m "$dir/day.csv" | cut -f1) MB of CSV"
start=$(date +%s.%N)
/usr/bin/env time -f "peak RSS %M KiB" ./target/release/producer build --quiet --out "$dir/bars" "$dir/day.csv"
end=$(date +%s.%N)
python3 -c "print(f'wall {$end - $start:.2f} s: {$snapshots / ($end - $start) / 1e6:.2f} M snapshots/s from file to Parquet rows')"
