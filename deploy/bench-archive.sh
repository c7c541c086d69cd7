#!/usr/bin/env bash
# Tick archive benchmark: a private redis-server and clickhouse-server (the test harness, free
# ports, temp dirs), N QMT whole-market snapshots of S symbols in the tick stream as the producer
# left it, the release consumer run until its archiver has written every one; then the bytes on
# disk per snapshot after merges beside the snapshot's JSON. [archive] settings apply as
# TICKBAR__ARCHIVE__* variables.
# Usage: deploy/bench-archive.sh [SNAPSHOTS] [SYMBOLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p consumer --bin consumer --example archive_load
./target/release/examples/archive_load ./target/release/consumer "${1:-2000000}" "${2:-5000}"
