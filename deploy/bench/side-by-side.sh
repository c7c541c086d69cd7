#!/usr/bin/env bash
# tickbar beside its peers on one generated day, in one run: a whole market of QMT snapshots
# (deploy's market_day: SYMBOLS symbols, a snapshot each every STEP_S seconds) as one CSV file,
# turned into one-minute bars by `producer build` (1 and 2 threads; it builds all five periods),
# polars group_by_dynamic (1 and 2 threads), pandas resample and vn.py's BarGenerator (TickData
# prebuilt, its compute figure). Installs polars, pandas, vn.py (without its GUI dependencies) and
# TA-Lib's wheel into target/bench-venv (pip) when missing. Prints each tool's rate and tickbar's
# ratio to it (tickbar's time also covers the 5-, 15-, 30- and 60-minute bars, the calendar and
# session checks and writing Parquet). Usage: deploy/bench/side-by-side.sh [SYMBOLS] [STEP_S]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench-venv
if ! "$venv/bin/python" -c "import polars, pandas, talib; from vnpy.trader.utility import BarGenerator" 2>/dev/null; then
  echo "installing polars, pandas, vnpy and ta-lib into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q polars pandas numpy ta-lib tzlocal loguru
  "$venv/bin/pip" install -q --no-deps vnpy
fi
cargo build --release -q -p producer --bin producer --example market_day
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
day="$dir/day.csv"
snapshots=$(./target/release/examples/market_day "$day" "${1:-5000}" "${2:-15}")
echo "one day: $snapshots snapshots, $(du -m "$day" | cut -f1) MB of CSV"
results="$dir/results.jsonl"
for threads in 1 2; do
  ./target/release/producer build --quiet --threads "$threads" --out "$dir/bars-$threads" "$day" \
    | "$venv/bin/python" -c "
import json, sys, polars
r = json.load(sys.stdin)
volume = int(polars.read_parquet('$dir/bars-$threads/bars_1min.parquet')['vol'].sum())
print(json.dumps({'tool': 'tickbar build, $threads thread(s)', 'snapshots': r['rows'], 'seconds_from_file': r['seconds'], 'bars': r['bars']['1'], 'volume': volume}))" >>"$results"
done
for threads in 1 2; do
  POLARS_MAX_THREADS=$threads "$venv/bin/python" deploy/bench/side_by_side.py "$day" polars \
    | sed "s/\"polars\"/\"polars, $threads thread(s)\"/" >>"$results"
done
"$venv/bin/python" deploy/bench/side_by_side.py "$day" pandas >>"$results"
"$venv/bin/python" deploy/bench/side_by_side.py "$day" vnpy >>"$results"
"$venv/bin/python" - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
best = max(r["snapshots"] / r["seconds_from_file"] for r in rows if r["tool"].startswith("tickbar"))
print(f"{'tool':<26} {'from file M/s':>14} {'compute M/s':>12} {'1-min bars':>11} {'shares in bars':>15}  tickbar (best) is")
for r in rows:
    rate = r["snapshots"] / r["seconds_from_file"] / 1e6
    compute = f"{r['snapshots'] / r['seconds_compute'] / 1e6:.2f}" if r.get("seconds_compute") else "-"
    volume = f"{r['volume']:,}"
    print(f"{r['tool']:<26} {rate:>14.2f} {compute:>12} {r['bars']:>11,} {volume:>15}  {best / 1e6 / rate:.1f}x")
PY
