#!/usr/bin/env bash
# The demo. Today it replays a bundled real trading day through the aggregator and validates the
# three services' settings; the full local stack (Redis, ClickHouse, producer, consumer, query API
# and a sample day) arrives with issue #6.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --quiet
cargo run --release --quiet -p common --example replay_day
for service in producer consumer query-api; do
  echo; echo "$service settings:"; "target/release/$service" check-config
done
