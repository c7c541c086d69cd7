"""tickbar: A-share bars from the tickbar query API as pandas or polars DataFrames.

    from tickbar import Client
    api = Client("http://127.0.0.1:8080")
    df = api.bars(["600519.SH", "000001.SZ"], period=5, count=240, adjust="qfq")
"""

from .calendar import OfflineCalendar
from .client import Client, StreamEvent, TickbarError
from .frames import to_backtesting, to_backtrader, to_vectorbt

__all__ = ["Client", "OfflineCalendar", "StreamEvent", "TickbarError", "to_backtesting", "to_backtrader", "to_vectorbt"]
