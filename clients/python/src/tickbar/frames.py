"""A symbol's bars in the shapes backtesting libraries take, straight from :meth:`Client.bars`.

    from backtesting import Backtest
    df = api.bars("600519.SH", period=5, start="2026-11-16", end="2026-11-18")
    Backtest(tickbar.to_backtesting(df), MyStrategy).run()

    import backtrader as bt
    cerebro = bt.Cerebro()
    cerebro.adddata(tickbar.to_backtrader(df))

Both take the long table of :meth:`Client.bars` (pandas, exact or float) and one symbol of it.
Prices become float64 (the libraries compute in floats); the index is the bars' ``frame``, the
end of each bar, as Asia/Shanghai wall-clock time without a zone (what both libraries expect).
"""

from __future__ import annotations

from typing import Optional

_PRICES = ("open", "high", "low", "close")


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
    frames = mine["frame"]
    if getattr(frames.dt, "tz", None) is not None:
        frames = frames.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    out = mine[list(_PRICES)].astype("float64")
    out["volume"] = mine["vol"].astype("float64")
    out.index = frames.rename("datetime")
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
