#!/usr/bin/env bash
# Consumer load benchmark: a private redis-server and clickhouse-server (the test harness, free
# ports, temp dirs), N bars queued over the five history queues, the release consumer run until
# every bar is a deduplicated row; then the seed's one-check-one-INSERT-per-bar approach on 10,000
# bars for comparison. [consumer] settings apply as TICKBAR__CONSUMER__* variables.
# Usage: deploy/bench-consumer.sh [BARS] [SEED_BARS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p consumer --bin consumer --example consumer_load
./target/release/examples/consumer_load ./target/release/consumer "${1:-1000000}" "${2:-10000}"
