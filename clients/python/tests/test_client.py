"""The tickbar client against a real query API on private Redis and ClickHouse servers.

Run by ``query-api/tests/python_client.rs``, which seeds three days of two symbols (two days in
ClickHouse, one in Redis), starts the API, sets ``TICKBAR_URL`` and ``TICKBAR_EXPECTED`` (a JSON file
of the bars the API holds, from its JSON answer) and publishes live bars while this runs, killing
the API's pub/sub connection once to make a gap.
"""

import datetime as dt
import json
import os
import tempfile
import time
import unittest
from decimal import Decimal

import pyarrow as pa

from tickbar import Client, OfflineCalendar, TickbarError, to_backtesting, to_backtrader, to_vectorbt

URL = os.environ["TICKBAR_URL"]
EXPECTED = json.load(open(os.environ["TICKBAR_EXPECTED"]), parse_float=Decimal)
SYMBOLS = EXPECTED["symbols"]
DAYS = EXPECTED["days"]
ZONE = "Asia/Shanghai"


def frame(bar):
    return dt.datetime.fromisoformat(bar["frame"])


class BarsTest(unittest.TestCase):
    api = Client(URL)

    def test_many_symbols_as_pandas_keep_exact_decimals_and_the_market_zone(self):
        df = self.api.bars(SYMBOLS, period=1, start=DAYS[0], end=DAYS[2])
        for symbol in SYMBOLS:
            mine = df[df["symbol"] == symbol]
            expected = EXPECTED["bars"][symbol]
            self.assertEqual(len(mine), len(expected))
            for (_, row), bar in zip(mine.iterrows(), expected):
                self.assertEqual(row["frame"].to_pydatetime(), frame(bar))
                self.assertEqual(str(row["frame"].tz), ZONE)
                for column in ("open", "high", "low", "close", "amount"):
                    self.assertIsInstance(row[column], Decimal)
                    self.assertEqual(row[column], Decimal(str(bar[column])), column)
                self.assertEqual(int(row["vol"]), int(bar["vol"]))

    def test_polars_and_arrow(self):
        frame_ = self.api.bars(SYMBOLS[0], period=5, start=DAYS[2], end=DAYS[2], as_="polars")
        self.assertEqual(frame_.height, 48)
        self.assertEqual(str(frame_.schema["open"]).split("(")[0], "Decimal")
        table = self.api.bars(SYMBOLS[0], period=5, start=DAYS[2], end=DAYS[2], as_="arrow")
        self.assertEqual(table.schema.field("amount").type, pa.decimal128(22, 4))

    def test_the_last_n_bars_daily_bars_and_adjusted_prices(self):
        last = self.api.bars(SYMBOLS[0], count=10, end=DAYS[2])
        self.assertEqual(len(last), 10)
        self.assertEqual(last["frame"].iloc[-1].to_pydatetime(), frame(EXPECTED["bars"][SYMBOLS[0]][-1]))
        daily = self.api.bars(SYMBOLS[0], period="1d", start=DAYS[0], end=DAYS[2])
        self.assertEqual(len(daily), 3)
        hours = self.api.bars(SYMBOLS[0], period=60, start=DAYS[0], end=DAYS[0])
        self.assertEqual(len(hours), 4)
        self.assertEqual(int(daily["vol"].iloc[0]), int(hours["vol"].sum()), "a day folds its stored hours")
        self.assertEqual(daily["high"].iloc[0], max(hours["high"]))
        self.assertEqual(daily["close"].iloc[0], hours["close"].iloc[-1])
        forward = self.api.bars(SYMBOLS[0], count=3, end=DAYS[2], adjust="qfq")
        self.assertEqual(len(forward), 3, "no factors stored: prices as traded")

    def test_instruments_and_the_daily_bars_fields(self):
        listed = self.api.instruments()
        self.assertEqual(list(listed["symbol"]), [SYMBOLS[0]])
        row = listed.iloc[0]
        self.assertEqual((row["board"], row["list_date"], row["delist_date"], bool(row["st"])),
                         ("main", dt.date(2001, 8, 27), None, False))
        self.assertEqual(len(self.api.instruments(SYMBOLS[1])), 0)
        daily = self.api.bars(SYMBOLS[0], period="1d", start=DAYS[0], end=DAYS[2])
        self.assertEqual(list(daily.columns)[-5:], ["pre_close", "paused", "high_limit", "low_limit", "source"])
        for i in (1, 2):
            pre_close = daily["close"].iloc[i - 1]
            self.assertEqual(daily["pre_close"].iloc[i], pre_close)
            high = (pre_close * Decimal("1.1")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            self.assertEqual(daily["high_limit"].iloc[i], high)
            self.assertFalse(daily["paused"].iloc[i])
        minutes = self.api.bars(SYMBOLS[0], period=1, start=DAYS[2], end=DAYS[2])
        traded = minutes[minutes["vol"] > 0].iloc[0]
        vwap = (traded["amount"] / traded["vol"]).quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")
        self.assertEqual(traded["vwap"], vwap)

    def test_a_snapshot_and_the_calendar(self):
        snap = self.api.snapshot(period=1, at=f"{DAYS[2]}T10:00:00")
        self.assertEqual(sorted(snap["symbol"]), sorted(SYMBOLS))
        self.assertTrue(all(f.strftime("%H:%M") == "10:00" for f in snap["frame"]))
        self.assertEqual((snap.attrs["at"], snap.attrs["latest"], snap.attrs["missing"]),
                         (f"{DAYS[2]}T10:00:00+08:00", False, []))
        with self.assertWarns(UserWarning):
            some = self.api.snapshot(period=1, at=f"{DAYS[2]}T10:00:00", symbols=[SYMBOLS[0], "000002.SZ"])
        self.assertEqual((len(some), some.attrs["missing"]), (1, ["000002.SZ"]))
        now = self.api.snapshot(period=1)
        self.assertTrue(now.attrs["latest"], "no bar yet today: the latest day with bars")
        self.assertEqual(sorted(now["symbol"]), sorted(SYMBOLS))
        self.assertFalse(now["frame"].isna().any())
        days = self.api.trading_days(DAYS[0], DAYS[2])
        self.assertEqual(days, [dt.date.fromisoformat(d) for d in DAYS])
        lunch = self.api.phase(f"{DAYS[2]}T12:00:00", symbol="300750.SZ")
        self.assertEqual((lunch["phase"], lunch["next"]["phase"]), ("lunch_break", "continuous"))
        self.assertEqual(lunch["next"]["at"].strftime("%H:%M %z"), "13:00 +0800")
        self.assertTrue(lunch["trading_day"])

    def test_a_kept_calendar_copy_answers_while_the_api_does_not_and_says_so(self):
        path = os.path.join(tempfile.mkdtemp(), "calendar.json")
        self.assertEqual(self.api.keep_calendar("2015-12-01", "2016-02-29", path=path), path)
        online_days = self.api.trading_days("2016-01-01", "2016-01-31")
        instants = ["2016-01-04T13:20:00", "2016-01-04T13:40:00", "2016-01-07T09:50:00", "2016-01-08T09:20:00",
                    "2016-01-08T12:00:00", "2016-01-09T10:00:00", "2016-02-05T15:10:00"]
        online = [self.api.phase(at, symbol="300750.SZ") for at in instants]
        offline = Client("http://127.0.0.1:9", timeout=2, calendar_copy=path)
        with self.assertWarns(OfflineCalendar):
            self.assertEqual(offline.trading_days("2016-01-01", "2016-01-31"), online_days)
        for at, want in zip(instants, online):
            with self.assertWarns(OfflineCalendar) as said:
                got = offline.phase(at, symbol="300750.SZ")
            self.assertIn("local calendar copy", str(said.warning))
            self.assertTrue(got["offline"])
            self.assertEqual((got["phase"], got["next"]["phase"], got["next"]["at"], got["trading_day"]),
                             (want["phase"], want["next"]["phase"], want["next"]["at"], want["trading_day"]), at)
        self.assertEqual(online[0]["phase"], "halted", "the circuit breaker's halt")
        with self.assertRaises(TickbarError):
            offline.trading_days("2017-01-01", "2017-01-31")

    def test_a_symbol_no_store_knows_is_warned_about(self):
        with self.assertWarns(UserWarning) as warned:
            df = self.api.bars([SYMBOLS[0], "999999.SH"], period=5, start=DAYS[2], end=DAYS[2])
        self.assertIn("999999.SH", str(warned.warning))
        self.assertEqual((len(df), df.attrs["unknown"]), (48, ["999999.SH"]))

    def test_bad_input_is_an_error_naming_it(self):
        with self.assertRaises(TickbarError) as caught:
            self.api.bars("AAPL", count=3)
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "bad_symbol"))
        with self.assertRaises(ValueError):
            self.api.bars(SYMBOLS[0])
        with self.assertRaises(TickbarError) as unreachable:
            Client("http://127.0.0.1:9", timeout=2).trading_days(DAYS[0], DAYS[2])
        self.assertEqual(unreachable.exception.status, 0)


class BacktestTest(unittest.TestCase):
    """The client's bars run in backtesting.py and backtrader with no glue but the adapters."""

    api = Client(URL)

    def bars(self, **kw):
        return self.api.bars(SYMBOLS[0], period=1, start=DAYS[0], end=DAYS[2], **kw)

    def test_float_columns_are_the_exact_values_as_floats(self):
        exact, floats = self.bars(), self.bars(dtype="float")
        for column in ("open", "high", "low", "close", "amount"):
            self.assertEqual(str(floats[column].dtype), "float64", column)
            self.assertEqual(list(floats[column]), [float(v) for v in exact[column]], column)
        self.assertEqual(str(floats["close"].pct_change().dtype), "float64")
        with self.assertRaises(ValueError):
            self.bars(dtype="double")

    def test_a_backtest_runs_in_backtesting_py_and_backtrader(self):
        from backtesting import Backtest, Strategy

        df = self.bars()
        data = to_backtesting(df)
        self.assertEqual(list(data.columns), ["Open", "High", "Low", "Close", "Volume"])
        self.assertEqual(len(data), len(EXPECTED["bars"][SYMBOLS[0]]))
        self.assertEqual(data.index[0].to_pydatetime(), frame(EXPECTED["bars"][SYMBOLS[0]][0]).replace(tzinfo=None))

        class Momentum(Strategy):
            def init(self):
                pass

            def next(self):
                if len(self.data) % 30 == 0:
                    self.position.close() if self.position else self.buy()

        stats = Backtest(data, Momentum, cash=10_000_000, finalize_trades=True).run()
        self.assertGreater(stats["# Trades"], 0)
        self.assertEqual(len(stats["_equity_curve"]), len(data))

        import backtrader as bt

        seen = []

        class Count(bt.Strategy):
            def next(self):
                seen.append(self.data.close[0])

        cerebro = bt.Cerebro()
        cerebro.adddata(to_backtrader(df))
        cerebro.addstrategy(Count)
        cerebro.run()
        self.assertEqual(seen, [float(b["close"]) for b in EXPECTED["bars"][SYMBOLS[0]]])
        with self.assertRaises(ValueError):
            to_backtesting(self.api.bars(SYMBOLS, period=1, start=DAYS[0], end=DAYS[0]))

    def test_vectorbt_gets_a_close_column_per_symbol(self):
        wide = to_vectorbt(self.api.bars(SYMBOLS, period=1, start=DAYS[0], end=DAYS[2]))
        self.assertEqual(list(wide.columns), SYMBOLS)
        self.assertTrue(str(wide.index.dtype).startswith("datetime64["), wide.index.dtype)
        for symbol in SYMBOLS:
            want = EXPECTED["bars"][symbol]
            self.assertEqual(list(wide[symbol].dropna()), [float(b["close"]) for b in want], symbol)
            self.assertEqual(wide[symbol].dropna().index[0].to_pydatetime(), frame(want[0]).replace(tzinfo=None))
        volume = to_vectorbt(self.bars(dtype="float"), field="vol")
        self.assertEqual(list(volume[SYMBOLS[0]]), [float(b["vol"]) for b in EXPECTED["bars"][SYMBOLS[0]]])
        with self.assertRaises(ValueError):
            to_vectorbt(self.bars(), field="volume")


class TicksTest(unittest.TestCase):
    api = Client(URL)

    def test_ticks_keep_exact_decimals_their_millisecond_and_the_book(self):
        want = EXPECTED["ticks"]
        df = self.api.ticks(want["symbols"], start=want["start"], end=want["end"])
        self.assertEqual(len(df), len(want["ticks"]))
        for (_, row), tick in zip(df.iterrows(), want["ticks"]):
            self.assertEqual(row["symbol"], tick["symbol"])
            self.assertEqual(row["time"].to_pydatetime(), dt.datetime.fromisoformat(tick["time"]))
            self.assertEqual(str(row["time"].tz), ZONE)
            for column in ("price", "amount"):
                self.assertIsInstance(row[column], Decimal)
                self.assertEqual(row[column], Decimal(str(tick[column])), column)
            self.assertEqual(int(row["volume"]), tick["volume"])
            self.assertEqual(bool(row["cumulative"]), tick["cumulative"])
            bid = [Decimal(str(price)) for price, _ in tick.get("bid", [])]
            self.assertEqual(list(row["bid_price"]), bid)
            self.assertEqual([int(v) for v in row["bid_volume"]], [v for _, v in tick.get("bid", [])])
        self.assertTrue(any(len(b) > 0 for b in df["bid_price"]), "a snapshot's book came through")
        last = self.api.ticks(want["symbols"][0], count=3, end=want["end"], as_="arrow")
        self.assertEqual(last.num_rows, 3)
        self.assertEqual(last.schema.field("price").type, pa.decimal128(18, 4))


class StreamTest(unittest.TestCase):
    def test_live_bars_arrive_and_a_dropped_feed_is_reported_as_a_gap(self):
        seen = self.events(forming=False, until=lambda seen: "gap" in seen[1:] and seen[-1] == "bar")
        self.assertEqual(seen[0], "bar")
        self.assertIn("gap", seen)
        self.assertNotIn("forming", seen, "forming bars only when asked for")

    def test_forming_bars_arrive_when_asked_for(self):
        seen = self.events(forming=True, until=lambda seen: "forming" in seen and "bar" in seen)
        self.assertIn("forming", seen)

    def events(self, forming, until):
        """The kinds of the live events of the test's symbol until ``until(kinds)`` holds, each
        event's bar checked: its symbol, exact prices, a tz-aware frame."""
        events = Client(URL).stream([EXPECTED["live"]], period=1, forming=forming)
        seen = []
        deadline = time.monotonic() + 60
        try:
            for event in events:
                seen.append(event.kind)
                if event.kind in ("bar", "forming"):
                    self.assertEqual(event.bar["symbol"], EXPECTED["live"])
                    self.assertIsInstance(event.bar["close"], Decimal)
                    self.assertEqual(event.bar["frame"].utcoffset(), dt.timedelta(hours=8), "a tz-aware frame")
                if until(seen):
                    return seen
                self.assertLess(time.monotonic(), deadline, seen)
        finally:
            events.close()


if __name__ == "__main__":
    unittest.main()
