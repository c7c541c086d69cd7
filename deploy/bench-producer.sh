#!/usr/bin/env bash
# Producer load benchmark: a private redis-server on a free port (or a private Redis Cluster of
# MASTERS masters), N QMT snapshots pushed into the stream, the release producer run until every
# entry is committed; then Redis's own pipelined ceiling (redis-benchmark -P 16 -t set) beside it.
# Usage: deploy/bench-producer.sh [SNAPSHOTS] [SYMBOLS] [STEP_MS] [SHARDS] [MASTERS]; a whole
# day's memory: deploy/bench-producer.sh 1325500 5500 60000; two symbol shards, one producer each,
# on the one Redis: deploy/bench-producer.sh 1000000 2000 3000 2; the same on a 3-master Redis
# Cluster (redis.mode = "cluster"): deploy/bench-producer.sh 1000000 2000 3000 2 3
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p producer --bin producer --example producer_load
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
masters=${5:-0}
trap 'for pid in "$dir"/*.pid; do kill "$(cat "$pid")" 2>/dev/null; done; rm -rf "$dir"' EXIT
start_redis() { # NAME PORT [ARGS...]: a server keeping nothing on disk
  local name=$1 port=$2; shift 2
  mkdir -p "$dir/$name"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$name" --daemonize yes \
    --pidfile "$dir/$name.pid" "$@" >/dev/null
}
port=$(free_port)
if [ "$masters" -eq 0 ]; then
  start_redis redis "$port"
  sleep 0.3
  urls="redis://127.0.0.1:$port/0"
else
  ports=("$port")
  for ((i = 1; i < masters; i++)); do ports+=("$(free_port)"); done
  urls=""
  for ((i = 0; i < masters; i++)); do
    bus=$(free_port)
    start_redis "node$i" "${ports[$i]}" --cluster-enabled yes --cluster-port "$bus" --cluster-config-file "$dir/node$i/nodes.conf"
    buses[$i]=$bus
    urls+="${urls:+,}redis://127.0.0.1:${ports[$i]}/0"
  done
  sleep 0.3
  for ((i = 0; i < masters; i++)); do
    first=$((i * 16384 / masters)); last=$(((i + 1) * 16384 / masters - 1))
    redis-cli -p "${ports[$i]}" cluster addslotsrange "$first" "$last" >/dev/null
    [ "$i" -eq 0 ] || redis-cli -p "$port" cluster meet 127.0.0.1 "${ports[$i]}" "${buses[$i]}" >/dev/null
  done
  for ((i = 0; i < masters; i++)); do
    until redis-cli -p "${ports[$i]}" cluster info | grep -q "cluster_state:ok"; do sleep 0.1; done
  done
fi
./target/release/examples/producer_load "$urls" ./target/release/producer "${1:-1000000}" "${2:-2000}" "${3:-3000}" "${4:-1}"
cluster=(); [ "$masters" -eq 0 ] || cluster=(--cluster)
echo "redis-benchmark -P 16 -t set:"
redis-benchmark -p "$port" "${cluster[@]}" -P 16 -t set -q -n 2000000 | tr "\r" "\n" | grep -E "^SET" | tail -n 1
