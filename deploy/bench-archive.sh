#!/usr/bin/env bash
# Tick archive benchmark: a private redis-server and clickhouse-server (the test harness, free
# ports, temp dirs), N QMT whole-market snapshots of S symbols in the tick stream as the producer
# left it, the release consumer run until its archiver has written every one; then the bytes on
# disk per snapshot after merges beside the snapshot's JSON; then the day's bars rebuilt from the
# archive and the disk a trading day takes for 100, 1,000 and 5,000 symbols. [archive] settings
# apply as TICKBAR__ARCHIVE__* variables. A whole day of S symbols: SNAPSHOTS = 4800 * S.
# Usage: deploy/bench-archive.sh [SNAPSHOTS] [SYMBOLS]
set -euo pipefail
cd "$(dirname "$0")/.."
# The codecs of current ClickHouse are measured through chdb when the test venv is there.
if [ -z "${TICKBAR_PYTHON:-}" ] && [ -x target/py-venv/bin/python ]; then export TICKBAR_PYTHON="$PWD/target/py-venv/bin/python"; fi
cargo build --release -q -p consumer --bin consumer --example archive_load -p producer --bin producer
./target/release/examples/archive_load ./target/release/consumer ./target/release/producer "${1:-2000000}" "${2:-5000}"
