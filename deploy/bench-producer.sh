#!/usr/bin/env bash
# Producer load benchmark: a private redis-server on a free port, N QMT snapshots pushed into the
# stream, the release producer run until every entry is committed; then Redis's own pipelined
# ceiling (redis-benchmark -P 16 -t set) beside it.  Usage: deploy/bench-producer.sh [SNAPSHOTS]
# [SYMBOLS] [STEP_MS] [SHARDS]; a whole day's memory: deploy/bench-producer.sh 1325500 5500 60000;
# two symbol shards, one producer each, on the one Redis: deploy/bench-producer.sh 1000000 2000 3000 2
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p producer --bin producer --example producer_load
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.3
./target/release/examples/producer_load "redis://127.0.0.1:$port/0" ./target/release/producer "${1:-1000000}" "${2:-2000}" "${3:-3000}" "${4:-1}"
echo "redis-benchmark -P 16 -t set:"
redis-benchmark -p "$port" -P 16 -t set -q -n 2000000 | tr "\r" "\n" | grep -E "^SET" | tail -n 1
