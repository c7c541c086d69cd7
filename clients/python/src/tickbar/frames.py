"""A symbol's bars in the shapes backtesting libraries take, straight from :meth:`Client.bars`.

    from backtesting import Backtest
    df = api.bars("600519.SH", period=5, start="2026-11-16", end="2026-11-18")
    Backtest(tickbar.to_backtesting(df), MyStrategy).run()

    import backtrader as bt
    cerebro = bt.Cerebro()
    cerebro.adddata(tickbar.to_backtrader(df))

    import vectorbt as vbt
    close = tickbar.to_vectorbt(api.bars(["600519.SH", "000001.SZ"], period=5, count=480))
    vbt.Portfolio.from_signals(close, entries, exits)

Each takes the long table of :meth:`Client.bars` (pandas, exact or float): the first two one
symbol of it, ``to_vectorbt`` every symbol as a column. Prices become float64 (the libraries
compute in floats); the index is the bars' ``frame``, the end of each bar, as Asia/Shanghai
wall-clock time without a zone (what the libraries expect).
"""

from __future__ import annotations

from typing import Optional

_PRICES = ("open", "high", "low", "close")


def _wall_clock(frames):
    """`frames` as Asia/Shanghai wall-clock times without a zone."""
    if getattr(frames.dt, "tz", None) is not None:
        return frames.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    return frames


def _one_symbol(df, symbol: Optional[str]):
    """The rows of `symbol` (or of the table's only symbol), sorted by frame, indexed by it."""
    symbols = list(dict.fromkeys(df["symbol"]))
    if symbol is None:
        if len(symbols) != 1:
            raise ValueError(f"the table holds {len(symbols)} symbols {symbols[:5]}: name one with symbol=")
        symbol = symbols[0]
    mine = df[df["symbol"] == symbol]
    if mine.empty:
        raise ValueError(f"no bars of {symbol} in the table")
    out = mine[list(_PRICES)].astype("float64")
    out["volume"] = mine["vol"].astype("float64")
    out.index = _wall_clock(mine["frame"]).rename("datetime")
    return out.sort_index()


def to_backtesting(df, symbol: Optional[str] = None):
    """`symbol`'s bars of `df` as backtesting.py's ``Backtest`` takes them: ``Open, High, Low,
    Close, Volume`` (float64) on a DatetimeIndex."""
    out = _one_symbol(df, symbol)
    return out.rename(columns={c: c.capitalize() for c in out.columns})


def to_backtrader(df, symbol: Optional[str] = None):
    """`symbol`'s bars of `df` as a backtrader data feed (``backtrader.feeds.PandasData``)."""
    import backtrader

    return backtrader.feeds.PandasData(dataname=_one_symbol(df, symbol), openinterest=None)


def to_vectorbt(df, field: str = "close"):
    """One column of `df` (``close`` unless `field` names another, ``vol`` included) as vectorbt
    takes prices: float64, a column per symbol in the table's order, on a DatetimeIndex of the
    frames; a frame where a symbol has no bar is NaN in its column."""
    if field not in df.columns:
        raise ValueError(f"no column {field!r} in the table: {list(df.columns)}")
    if df.empty:
        raise ValueError("the table holds no bars")
    wide = df.assign(datetime=_wall_clock(df["frame"])).pivot(index="datetime", columns="symbol", values=field)
    wide = wide[list(dict.fromkeys(df["symbol"]))].astype("float64").sort_index()
    wide.columns.name = "symbol"
    return wide
