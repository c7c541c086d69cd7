#!/usr/bin/env bash
# Query API load benchmark: a private redis-server and clickhouse-server (the test harness, free
# ports, temp dirs), one day of 1-minute bars for 50 symbols in Redis and the day before in
# ClickHouse, the release query-api, and wrk with 32 connections asking for one day of 1-minute
# bars of a random symbol: from Redis, from ClickHouse through the API, and straight from
# ClickHouse over HTTP; and the Redis day of all 50 symbols in one call, and a symbol's last 240
# bars; at the end the API's peak RSS. Installs wrk (Debian package) when missing.
# Usage: deploy/bench-query.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -q -p query-api --bin query-api --example query_load
./target/release/examples/query_load ./target/release/query-api "${1:-15}"
