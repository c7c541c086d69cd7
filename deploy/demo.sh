#!/usr/bin/env bash
# The demo: the whole stack on this machine with the bundled sample. Installs redis-server and
# clickhouse-server when missing (apt-get; on macOS it names the brew line), builds the release
# binaries and runs target/release/tickbar-demo: its own Redis and ClickHouse on free ports with
# their files under target/demo, the producer, the consumer and the query API (on 9101, 9102 and
# 8080, or free ports when those are taken), two history days through the queues and a QMT day
# through the tick stream. Ctrl-C stops everything it started.
# Options go to tickbar-demo (--speed N, --dir DIR, --api-port N, ...; --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
ensure_packages redis-server=redis-server "clickhouse-server|clickhouse=clickhouse-server"
echo "building the release binaries (the first build takes a few minutes)"
cargo build --release --locked -p producer -p consumer -p query-api -p tickbar-tests --bins
exec target/release/tickbar-demo "$@"
