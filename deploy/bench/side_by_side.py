"""The peers of `producer build` on the same generated day (deploy/bench/side-by-side.sh): one-minute
bars from a CSV of cumulative QMT snapshots (symbol, time in epoch ms, lastPrice, volume in lots,
amount), each tool timed from the file and after its own read. Prints one JSON object per tool:
{"tool", "snapshots", "seconds_from_file", "seconds_compute", "bars", "volume"}, where volume is
the shares in its bars (every tool must find the day's total).

Usage: python side_by_side.py DAY.csv polars|pandas|vnpy
"""

import json
import sys
import time


def polars_bars(path):
    import polars as pl

    start = time.perf_counter()
    df = pl.read_csv(path, columns=["symbol", "time", "lastPrice", "volume"])
    read = time.perf_counter()
    bars = (
        df.with_columns(
            pl.from_epoch("time", time_unit="ms").alias("ts"),
            (pl.col("volume").diff().over("symbol").fill_null(pl.col("volume")) * 100).alias("vol"),
        )
        .sort("symbol", "ts")
        .group_by_dynamic("ts", every="1m", group_by="symbol", closed="left", label="right")
        .agg(
            pl.col("lastPrice").first().alias("open"),
            pl.col("lastPrice").max().alias("high"),
            pl.col("lastPrice").min().alias("low"),
            pl.col("lastPrice").last().alias("close"),
            pl.col("vol").sum(),
        )
        .filter(pl.col("vol") > 0)
    )
    end = time.perf_counter()
    return len(df), end - start, end - read, len(bars), int(bars["vol"].sum())


def pandas_bars(path):
    import pandas as pd

    start = time.perf_counter()
    df = pd.read_csv(path, usecols=["symbol", "time", "lastPrice", "volume"])
    read = time.perf_counter()
    df["ts"] = pd.to_datetime(df["time"], unit="ms")
    df["vol"] = df.groupby("symbol")["volume"].diff().fillna(df["volume"]) * 100
    grouped = df.set_index("ts").groupby("symbol").resample("1min", label="right", closed="left")
    bars = grouped["lastPrice"].ohlc()
    bars["vol"] = grouped["vol"].sum()
    bars = bars[bars["vol"] > 0]
    end = time.perf_counter()
    return len(df), end - start, end - read, len(bars), int(bars["vol"].sum())


def vnpy_bars(path):
    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from vnpy.trader.constant import Exchange
    from vnpy.trader.object import TickData
    from vnpy.trader.utility import BarGenerator

    start = time.perf_counter()
    zone = ZoneInfo("Asia/Shanghai")
    ticks = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            code, market = row["symbol"].split(".")
            ticks.append(
                TickData(
                    gateway_name="bench",
                    symbol=code,
                    exchange=Exchange.SSE if market == "SH" else Exchange.SZSE,
                    datetime=datetime.fromtimestamp(int(row["time"]) / 1000, zone),
                    last_price=float(row["lastPrice"]),
                    volume=float(row["volume"]) * 100,
                    turnover=float(row["amount"]),
                )
            )
    read = time.perf_counter()
    bars = []
    generators = {}
    for tick in ticks:
        generator = generators.get(tick.vt_symbol)
        if generator is None:
            generator = generators[tick.vt_symbol] = BarGenerator(bars.append)
        generator.update_tick(tick)
    end = time.perf_counter()
    return len(ticks), end - start, end - read, len(bars), int(sum(b.volume for b in bars))


def main():
    path, tool = sys.argv[1], sys.argv[2]
    run = {"polars": polars_bars, "pandas": pandas_bars, "vnpy": vnpy_bars}[tool]
    snapshots, from_file, compute, bars, volume = run(path)
    print(
        json.dumps(
            {
                "tool": tool,
                "snapshots": snapshots,
                "seconds_from_file": round(from_file, 3),
                "seconds_compute": round(compute, 3),
                "bars": bars,
                "volume": volume,
            }
        )
    )


if __name__ == "__main__":
    main()
