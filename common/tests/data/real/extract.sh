#!/usr/bin/env bash
# Rebuilds the trimmed real-market fixtures in this folder from ../shared/data/real (see SOURCES.md).
# Only the columns the tests read are kept; values are copied byte for byte (float noise included).
set -euo pipefail
src=${1:-../../../../../shared/data/real}
here=$(cd "$(dirname "$0")" && pwd)
l2="$src/tl-l2-600519-000333-20230201-03"
for d in 20230201 20230202 20230203; do
  # 600519.SH trade by trade: TradTime,TradPrice,TradVolume(shares),TradeMoney(yuan)
  awk -F, 'NR==1{print "time,price,volume,amount"; next} {print $5","$6","$7","$8}' "$l2/$d/${d}_Transaction.csv" \
    | gzip -9n > "$here/600519.SH-$d-trades.csv.gz"
  # 600519.SH 3-s snapshots: UpdateTime,LastPrice,HighPrice,LowPrice,TradVolume(cum shares),Turnover(cum yuan)
  awk -F, 'NR==1{print "time,price,high,low,volume,amount"; next} {print $1","$8","$6","$7","$12","$13}' "$l2/$d/${d}_MarketData.csv" \
    | gzip -9n > "$here/600519.SH-$d-snapshots.csv.gz"
  # 000333.SZ 3-s snapshots: UpdateTime,LastPrice,HighPrice,LowPrice,Volume(cum shares),Turnover(cum yuan)
  awk -F, 'NR==1{print "time,price,high,low,volume,amount"; next} {print $1","$10","$12","$13","$8","$9}' "$l2/$d/mdl_6_28_0.csv" \
    | gzip -9n > "$here/000333.SZ-$d-snapshots.csv.gz"
done
cp "$src/tushare-daily-600519-excerpt/600519_tushare_daily_20230131_20230206.csv" "$here/600519.SH-tushare-daily.csv"
# 000001.SZ one-minute bars of January 2018 (DolphinDB candles, end-labelled, shares), whole.
gzip -9nc "$src/ddb-000001sz-trades-20180903-and-1min-201801/candle_201801.csv" > "$here/000001.SZ-201801-candles.csv.gz"
