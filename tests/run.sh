#!/usr/bin/env bash
# Runs every check and test of tickbar: formatting, clippy, unit, property, real-data and
# real-server integration tests. Installs redis-server, clickhouse-server, chromium, zookeeper and
# prometheus (Debian packages; ZooKeeper for the replicated ClickHouse test, Prometheus's promtool
# for checking every /metrics and the alerting rules) when they are missing, and
# schemathesis, redis and the Python client with pandas and polars (PyPI) into target/py-venv; the tests
# start their own private instances on free ports, check the web pages in headless Chromium and
# fuzz the query API from its OpenAPI document; then cross-builds the services for Windows
# (mingw-w64) and runs them under Wine (both installed when missing; deploy/check-windows.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

source deploy/packages.sh
ensure_packages redis-server=redis-server "clickhouse-server|clickhouse=clickhouse-server" \
  "chromium|chromium-browser=chromium" python3=python3 zooinspector=zookeeper promtool=prometheus

# Python for schemathesis, the QMT and vendor-feed bridges' tests, chdb (ClickHouse 26 in process, which runs every
# statement the services issue again) and the Python client (installed with pandas and
# polars; its tests run from the source tree), in a venv under target/ (rebuilt when missing).
venv=target/py-venv
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/python" -c "import redis, websockets, tickbar, pandas, polars, chdb, backtesting, backtrader" 2>/dev/null; then
  echo "installing schemathesis, redis, websockets, chdb, backtesting, backtrader and ./clients/python[pandas,polars] (pip, into $venv)"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q schemathesis redis websockets chdb backtesting backtrader "./clients/python[pandas,polars]"
fi
export TICKBAR_SCHEMATHESIS="${TICKBAR_SCHEMATHESIS:-$PWD/$venv/bin/schemathesis}"
export TICKBAR_PYTHON="${TICKBAR_PYTHON:-$PWD/$venv/bin/python}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
(cd deploy/qmt && "../../$venv/bin/python" -m unittest discover -v)
(cd deploy/feeds && TICKBAR_PRODUCER="$PWD/../../target/debug/producer" "../../$venv/bin/python" -m unittest discover -v)
bash deploy/check-service-files.sh
bash deploy/check-windows.sh
