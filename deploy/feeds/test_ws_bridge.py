"""Tests of the vendor-feed bridge: the mapping on every shape it reads, and the whole path from a
local WebSocket or HTTP server (no network) through a private redis-server to the producer's bars,
on real market data (``common/tests/data/real``): the Level-2 trades of 600519.SH and the 3-second
snapshots of 600519.SH and 000333.SZ. Each example mapping's bars must equal the bars the
conventions' rules give (``docs/conventions.md``, computed here without the producer), and add up
to the exchange's day totals. Run by tests/run.sh (``python -m unittest discover -s deploy/feeds``
with ``TICKBAR_PRODUCER`` naming the producer binary; needs ``pip install redis websockets``)."""

import asyncio
import csv
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import threading
import unittest
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qmt"))

import ws_bridge  # noqa: E402
from qmt_bridge import Bridge  # noqa: E402
from test_qmt import RedisServer, free_port, until  # noqa: E402

REAL = os.path.join(HERE, "..", "..", "common", "tests", "data", "real")
#: The exchange's volume of 600519.SH on 2023-02-01: 33,973.89 lots (600519.SH-tushare-daily.csv).
DAY_VOLUME = 3_397_389
#: The exchange's day totals (volume in shares, turnover in yuan) the last snapshot of each symbol
#: on 2023-02-01 holds (SOURCES.md).
SNAPSHOT_DAY_TOTALS = {"600519.SH": (3_397_389, Decimal("6244678924.61")),
                       "000333.SZ": (26_724_709, Decimal("1474820029.11"))}
EXAMPLES = {name: ws_bridge.load_mapping(os.path.join(HERE, f"{name}.toml"))
            for name in ("ticks_ws", "quotes_rest", "tushare_rest", "sina_text", "joinquant_ws")}
TICKS_WS, QUOTES_REST = EXAMPLES["ticks_ws"], EXAMPLES["quotes_rest"]
CENT = Decimal("0.01")
#: The producer's precision: 1/10,000 yuan, a longer number rounded half away from zero.
TEN_THOUSANDTH = Decimal("0.0001")
#: The labels of the day's 240 one-minute bars, in order.
LABELS = [f"{m // 60:02}:{m % 60:02}" for m in [*range(9 * 60 + 31, 11 * 60 + 31), *range(13 * 60 + 1, 15 * 60 + 1)]]


def rows(name):
    """The rows of one of the real data files, as dicts of text."""
    with gzip.open(os.path.join(REAL, name), "rt") as f:
        return list(csv.DictReader(f))


def real_trades(day="2023-02-01"):
    """The real trades of 600519.SH on ``day`` as ``(hh:mm:ss.fff, price, volume, amount)``, prices
    with the file's exact digits."""
    return [(r["time"], r["price"], int(r["volume"]), r["amount"])
            for r in rows(f"600519.SH-{day.replace('-', '')}-trades.csv.gz")]


def epoch_ms(day, clock):
    """Epoch milliseconds of the market time ``clock`` (``09:25:00.940``) on ``day``."""
    at = dt.datetime.fromisoformat(f"{day}T{clock}+08:00")
    return int(at.timestamp() * 1000)


def real_snapshots(day="2023-02-01"):
    """The 3-second snapshots of 600519.SH and 000333.SZ on ``day``, merged in time order, each
    ``(symbol, hh:mm:ss, price, high, low, volume, amount)`` with prices and amounts in cents, as
    a vendor publishes them."""
    merged = []
    for symbol in SNAPSHOT_DAY_TOTALS:
        for r in rows(f"{symbol}-{day.replace('-', '')}-snapshots.csv.gz"):
            cents = [Decimal(r[k]).quantize(CENT, ROUND_HALF_EVEN) for k in ("price", "high", "low", "amount")]
            merged.append((r["time"][:8], symbol, cents[0], cents[1], cents[2], int(r["volume"]), cents[3]))
    merged.sort(key=lambda s: s[0])
    return [(symbol, clock, *rest) for clock, symbol, *rest in merged]


def label_of(clock):
    """The one-minute bar (``HH:MM``, its end) a trade at market time ``clock`` belongs to, by the
    conventions' rules: the auction in the first bar, 11:30:xx and 15:00:xx in the bar they close;
    ``None`` in the lunch break and after the close (unattributed)."""
    minute = int(clock[:2]) * 60 + int(clock[3:5])
    if minute < 9 * 60 + 30:
        minute = 9 * 60 + 31
    elif minute not in (11 * 60 + 30, 15 * 60):
        minute += 1
    if 11 * 60 + 30 < minute <= 13 * 60 or minute > 15 * 60:
        return None
    return f"{minute // 60:02}:{minute % 60:02}"


def exact(number):
    """A price or amount as the producer holds it: rounded half away from zero to 1/10,000 yuan."""
    return Decimal(number).quantize(TEN_THOUSANDTH, ROUND_HALF_UP)


def with_flat_minutes(bars):
    """``bars`` with a flat bar at the last close in every minute without a trade from the first
    trade on (the conventions' empty minutes)."""
    filled, close = {}, None
    for label in LABELS:
        if label in bars:
            filled[label] = bars[label]
            close = bars[label][3]
        elif close is not None:
            filled[label] = [close, close, close, close, 0, Decimal(0)]
    return filled


def add_to_bar(bars, label, price, volume, amount, high=None, low=None):
    """Adds a trade (with the day high or low it carried past) to the bar ``label`` of ``bars``, the
    ``[open, high, low, close, vol, amount]`` lists the rule oracles build."""
    bar = bars.setdefault(label, [price, price, price, price, 0, Decimal(0)])
    bar[1] = max(bar[1], price, high or price)
    bar[2] = min(bar[2], price, low or price)
    bar[3] = price
    bar[4] += volume
    bar[5] += amount


def bars_of_trades(trades):
    """The one-minute bars of per-trade ticks by the rules: each trade in its minute's bar."""
    bars = {}
    for clock, price, volume, amount in trades:
        label = label_of(clock)
        if label:
            add_to_bar(bars, label, exact(price), volume, exact(amount))
    return with_flat_minutes(bars)


def bars_of_snapshots(snapshots):
    """The one-minute bars of day-cumulative snapshots by the rules: a bar's volume and amount are
    the rises of the day totals; a snapshot whose volume did not rise moves no price; a rise of the
    day high (fall of the low) since the last snapshot is a trade the later bar absorbs; the first
    snapshot (before 09:31) counts whole."""
    bars, base = {}, (0, Decimal(0), None, None)
    for clock, price, high, low, volume, amount in snapshots:
        high, low = high or None, low or None
        before_volume, before_amount, before_high, before_low = base
        base = (volume, amount, max(filter(None, (before_high, high)), default=None),
                min(filter(None, (before_low, low)), default=None))
        label = label_of(clock)
        if volume > before_volume and label:
            add_to_bar(bars, label, price, volume - before_volume, amount - before_amount,
                       high if high and (before_high is None or high > before_high) else None,
                       low if low and (before_low is None or low < before_low) else None)
    return with_flat_minutes(bars)


class MappingTest(unittest.TestCase):
    def test_a_compact_trade_message_becomes_a_contract_tick_with_its_exact_digits(self):
        mapping = ws_bridge.Mapping(TICKS_WS)
        message = json.loads('{"s":"600519.sh","ld":1854.980000000000018,"v":100,"t":1675214700940}',
                             parse_float=ws_bridge.decimal.Decimal)
        self.assertEqual(mapping.ticks(message), ([("600519.SH", '{"symbol":"600519.SH","time":1675214700940,'
                                                    '"price":1854.980000000000018,"volume":100,"cumulative":false}')],
                                                  []))

    def test_polled_whole_quotes_map_codes_lots_seconds_and_day_totals(self):
        mapping = ws_bridge.Mapping(QUOTES_REST)
        message = {"data": {"diff": [
            {"f12": "600519", "f2": ws_bridge.decimal.Decimal("1844.97"), "f5": 33973, "f6": "6244678925.0", "f124": 1675234801},
            {"f12": "300750", "f2": "400.1", "f5": "12", "f6": 480120, "f124": "1675234801"},
        ]}}
        ticks = [json.loads(t) for _, t in mapping.ticks(message)[0]]
        self.assertEqual(ticks[0], {"symbol": "600519.SH", "time": 1675234801000, "price": 1844.97, "volume": 3397300,
                                    "amount": 6244678925, "cumulative": True})
        self.assertEqual((ticks[1]["symbol"], ticks[1]["volume"]), ("300750.SZ", 1200))
        self.assertEqual(ws_bridge.symbol_of("sh600519", "prefix"), "600519.SH")
        self.assertEqual(ws_bridge.symbol_of("830799", "bare"), "830799.BJ")

    def test_every_symbol_style_of_the_common_sources_reads(self):
        for code, style, symbol in [
            ("600519.XSHG", "jq", "600519.SH"), ("000001.XSHE", "jq", "000001.SZ"), ("430047.BJ", "jq", "430047.BJ"),
            ("1.600519", "secid", "600519.SH"), ("0.000001", "secid", "000001.SZ"), ("0.830799", "secid", "830799.BJ"),
            ("sh.600519", "dotted", "600519.SH"), ("sz.300750", "dotted", "300750.SZ"), ("920002", "bare", "920002.BJ"),
        ]:
            self.assertEqual(ws_bridge.symbol_of(code, style), symbol, code)
        for code, style in [("600519.XSHX", "jq"), ("2.600519", "secid"), ("hk.00700", "dotted")]:
            with self.assertRaises(ws_bridge.Unmappable):
                ws_bridge.symbol_of(code, style)

    def test_scaled_prices_and_amounts_and_the_day_high_low_and_trades_are_mapped(self):
        mapping = ws_bridge.Mapping({
            "rest": {"url": "http://x"},
            "fields": {"symbol": "c", "time": "t", "price": "p", "volume": "v", "amount": "a", "high": "h", "low": "l",
                       "trades": "n", "cumulative": True, "volume_unit": "lots", "price_scale": 10000,
                       "amount_unit": 10000, "time_unit": "s"},
            "symbols": {"style": "secid"},
        })
        item = {"c": "1.600519", "t": 1675234801, "p": 18449700, "v": 33973, "a": "624467.8925", "h": 18550000,
                "l": 18200000, "n": 4120}
        ticks, dropped = mapping.ticks(item)
        self.assertEqual((json.loads(ticks[0][1]), dropped), ({
            "symbol": "600519.SH", "time": 1675234801000, "price": 1844.97, "volume": 3397300, "amount": 6244678925,
            "cumulative": True, "high": 1855, "low": 1820, "trades": 4120}, []))
        self.assertIn('"price":1844.97,', ticks[0][1], "exact digits, no float on the way")
        self.assertIn("[fields] `price_scale` must be a positive whole number, not 0",
                      ws_bridge.mapping_errors({"fields": {"price_scale": 0}}))

    def test_positional_records_and_split_date_and_time_fields_are_read(self):
        mapping = ws_bridge.Mapping({
            "rest": {"url": "http://api.tushare.pro", "method": "POST"},
            "message": {"path": "data.items", "columns": "data.fields"},
            "fields": {"symbol": "ts_code", "date": "trade_date", "time": "trade_time", "time_unit": "clock",
                       "price": "price", "volume": "vol", "amount": "amount", "cumulative": True},
        })
        answer = {"code": 0, "data": {"fields": ["ts_code", "trade_date", "trade_time", "price", "vol", "amount"],
                                      "items": [["600519.SH", "20230201", 93000250, "1850.01", 1200, "2220012"],
                                                ["000001.SZ", "20230201", "bad", "14.2", 100, "1420"]]}}
        ticks, dropped = mapping.ticks(answer)
        self.assertEqual(json.loads(ticks[0][1]), {"symbol": "600519.SH", "time": "2023-02-01T09:30:00.250",
                                                   "price": 1850.01, "volume": 1200, "amount": 2220012,
                                                   "cumulative": True})
        self.assertEqual([e.kind for e in dropped], ["bad_time"])
        self.assertIn("[fields] `time_unit = \"clock\"` (a time of day) needs `date`",
                      "\n".join(ws_bridge.mapping_errors({"fields": {"time_unit": "clock"}})))
        colon = ws_bridge.Mapping({**TICKS_WS, "fields": {**TICKS_WS["fields"], "time_unit": "clock", "date": "d",
                                                          "date_format": "%Y-%m-%d", "time_format": "%H:%M:%S"}})
        message = {"s": "600519.SH", "ld": 1850, "v": 100, "t": "09:31:02", "d": "2023-02-01"}
        self.assertIn('"time":"2023-02-01T09:31:02.000"', colon.ticks(message)[0][0][1])

    def test_quote_text_is_read_line_by_line_through_the_patterns_named_groups(self):
        mapping = ws_bridge.Mapping(EXAMPLES["sina_text"])
        book = ",".join(["100", "1837.090"] * 10)
        text = (f'var hq_str_sh600519="贵州茅台,1854.980,1845.760,1837.100,1859.000,1811.400,1837.090,1837.100,'
                f'1863605,3424325390.000,{book},2023-02-01,11:28:00,00";\n'
                'var hq_str_sh600000="";\n\n'
                f'var hq_str_bj830799="艾融软件,9.0,9.1,x,9.2,8.9,9.0,9.1,100,900.0,{book},2023-02-01,11:28:00,00";')
        ticks, dropped = mapping.read(text)
        self.assertEqual([json.loads(t) for _, t in ticks], [{
            "symbol": "600519.SH", "time": "2023-02-01T11:28:00.000", "price": 1837.1, "volume": 1863605,
            "amount": 3424325390, "cumulative": True, "high": 1859, "low": 1811.4, "open": 1854.98, "pre_close": 1845.76}])
        self.assertEqual([e.kind for e in dropped], ["no_match", "bad_number"])
        self.assertIn("the pattern does not match 'var hq_str_sh600000=\"\";'", str(dropped[0]))
        said = "\n".join(ws_bridge.mapping_errors({**EXAMPLES["sina_text"],
                                                    "message": {"pattern": "(?P<code>x)(?P<prize>y)", "path": "data"},
                                                    "rest": {"url": "http://x", "encoding": "gbk2"}}))
        for expected in ("[message] `path` reads JSON messages; a `pattern` reads text",
                         "[fields] `price` = 'price' names no group of the pattern (did you mean `prize`?); its groups: code, prize",
                         "[rest] `encoding` = 'gbk2' is not a text encoding"):
            self.assertIn(expected, said)
        self.assertIn("[message] `pattern` does not compile: missing ), unterminated subpattern at position 0",
                      ws_bridge.mapping_errors({"message": {"pattern": "("}}))

    def test_every_example_mapping_reads(self):
        for name, config in EXAMPLES.items():
            with self.subTest(name):
                self.assertEqual(ws_bridge.mapping_errors(config), [])

    def test_unreadable_messages_are_counted_and_unselected_ones_ignored(self):
        sent = []
        feed = ws_bridge.Feed(ws_bridge.Mapping({**TICKS_WS, "message": {"when": {"field": "type", "equals": "trade"}}}),
                              type("Sink", (), {"on_ticks": lambda self, t: sent.extend(t)})())
        feed.on_message('{"type":"pong"}')
        feed.on_message('not json')
        feed.on_message('{"type":"trade","s":"AAPL","ld":1,"v":1,"t":1}')
        feed.on_message('{"type":"trade","s":"600519.SH","ld":"x","v":1,"t":1}')
        feed.on_message('{"type":"trade","s":"600519.SH","ld":1850,"v":1.5,"t":1}')
        feed.on_message('{"type":"trade","s":"600519.SH","ld":1850,"v":100,"t":1}')
        feed.on_message('{"type":"trade"}')
        self.assertEqual((feed.messages, feed.ignored, feed.unmappable, feed.ticks, len(sent)), (7, 1, 1, 1, 1))
        self.assertEqual(feed.dropped, {"bad_symbol": 1, "bad_number": 2, "missing_field": 1})
        with self.assertRaises(ValueError):
            ws_bridge.Mapping({**TICKS_WS, "fields": {**TICKS_WS["fields"], "time_unit": "hours"}})

    def test_an_unreadable_item_is_dropped_alone_and_the_ticks_beside_it_go_through(self):
        sent = []
        feed = ws_bridge.Feed(ws_bridge.Mapping(QUOTES_REST), type("Sink", (), {"on_ticks": lambda self, t: sent.extend(t)})())
        batch = {"data": {"diff": [
            {"f12": "600519", "f2": "1844.97", "f5": 10, "f6": "1844970", "f124": 1675234801},
            {"f12": "10004420", "f2": "0.1", "f5": 1, "f6": "10", "f124": 1675234801},
            "heartbeat",
            {"f12": "000001", "f2": "-", "f5": 1, "f6": "10", "f124": 1675234801},
            {"f12": "300750", "f2": "400.1", "f5": 12, "f6": "480120", "f124": 1675234801},
        ]}}
        feed.on_message(json.dumps(batch))
        self.assertEqual([symbol for symbol, _ in sent], ["600519.SH", "300750.SZ"])
        self.assertEqual((feed.unmappable, feed.dropped), (0, {"bad_symbol": 1, "not_an_object": 1, "bad_number": 1}))

    def test_a_mapping_refuses_its_own_typos_by_name_with_the_key_meant(self):
        typos = {**TICKS_WS, "fields": {**TICKS_WS["fields"], "volume_units": "lots", "cumulatve": True},
                 "symbol": {"style": "bare"}, "message": {"when": {"field": "type"}}}
        with self.assertRaises(ValueError) as refused:
            ws_bridge.Mapping(typos)
        said = str(refused.exception)
        for expected in ("[fields] unknown key `volume_units` (did you mean `volume_unit`?)",
                         "[fields] unknown key `cumulatve` (did you mean `cumulative`?)",
                         "unknown table [symbol] (did you mean `symbols`?)",
                         "[message] `when` needs exactly `field` and `equals`"):
            self.assertIn(expected, said)
        wrong = {**TICKS_WS, "fields": {**TICKS_WS["fields"], "cumulative": "yes", "volume_unit": "hands"}}
        said = "\n".join(ws_bridge.mapping_errors(wrong))
        self.assertIn("[fields] `cumulative` must be bool, not str 'yes'", said)
        self.assertIn("[fields] `volume_unit` = 'hands': expected one of shares, lots", said)
        missing = {"websocket": {"url": "ws://x"}, "fields": {"symbol": "s"}}
        self.assertIn("[fields] `price` is required", ws_bridge.mapping_errors(missing))

    def test_check_prints_what_a_sample_message_becomes(self):
        sample = os.path.join(self.tmp.name, "sample.json")
        with open(sample, "w") as f:
            f.write('[{"s":"600519.SH","ld":1854.98,"v":100,"t":1675214700940},{"s":"AAPL","ld":1,"v":1,"t":1}]')
        mapping = os.path.join(HERE, "ticks_ws.toml")
        out = subprocess.run([sys.executable, os.path.join(HERE, "ws_bridge.py"), "--check", mapping, "--sample", sample],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('{"symbol":"600519.SH","time":1675214700940,"price":1854.98,"volume":100,"cumulative":false}',
                      out.stdout)
        self.assertIn("dropped (bad_symbol): code 'AAPL' is not a suffix A-share code", out.stdout)
        self.assertIn("1 ticks, 1 items dropped", out.stdout)
        sina = os.path.join(self.tmp.name, "sina.txt")
        with open(sina, "wb") as f:
            f.write(('var hq_str_sz000333="美的集团,55.0,54.5,55.5,55.99,54.45,55.4,55.5,26724709,1474820029.110,'
                     + ",".join(["1", "2"] * 10) + ',2023-02-01,15:00:00,00";').encode("gbk"))
        out = subprocess.run([sys.executable, os.path.join(HERE, "ws_bridge.py"), "--check",
                              os.path.join(HERE, "sina_text.toml"), "--sample", sina], capture_output=True, text=True)
        self.assertIn('{"symbol":"000333.SZ","time":"2023-02-01T15:00:00.000","price":55.5,', out.stdout)
        self.assertIn("1 ticks, 0 items dropped", out.stdout)
        typo = os.path.join(self.tmp.name, "typo.toml")
        with open(typo, "w") as f:
            f.write('[websocket]\nurl = "ws://x"\n[fields]\nsymbol = "s"\ntime = "t"\nprice = "p"\nvolume = "v"\n'
                    'volume_units = "lots"\n')
        out = subprocess.run([sys.executable, os.path.join(HERE, "ws_bridge.py"), "--check", typo],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown key `volume_units` (did you mean `volume_unit`?)", out.stdout)

    def setUp(self):
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()


class VendorServer:
    """A local WebSocket server that, on each connection, waits for the subscribe message, then
    sends its share of ``messages``: the first connection half of them and then drops, the second
    the rest, so the bridge must reconnect and subscribe again."""

    def __init__(self, messages):
        import websockets.asyncio.server as server

        self.port, self.subscribed, self.parts = free_port(), [], [messages[: len(messages) // 2], messages[len(messages) // 2:]]
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def handler(ws):
            self.subscribed.append(await ws.recv())
            part = self.parts[min(len(self.subscribed), 2) - 1] if len(self.subscribed) <= 2 else []
            for message in part:
                await ws.send(message)
            if len(self.subscribed) == 1:
                return
            await ws.wait_closed()

        async def serve():
            async with server.serve(handler, "127.0.0.1", self.port):
                ready.set()
                await asyncio.Future()

        threading.Thread(target=self.loop.run_until_complete, args=(serve(),), daemon=True).start()
        ready.wait(10)


class PollServer:
    """A local HTTP server answering each poll (GET or POST) with the next of ``answers`` (bytes;
    ``None`` is a 500), then with ``then`` (the last one again by default); it keeps each request's
    headers and body."""

    def __init__(self, answers, then=None):
        import http.server

        self.requests, answers = [], list(answers)
        answers.append(then or answers[-1])
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((dict(self.headers), body))
                answer = answers[min(len(server.requests), len(answers)) - 1]
                self.send_response(500 if answer is None else 200)
                self.end_headers()
                self.wfile.write(answer or b"")

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


class EndToEndTest(unittest.TestCase):
    """Each mapping end to end: a local vendor, the bridge, a private Redis and the producer."""

    def setUp(self):
        self.redis = RedisServer()

    def tearDown(self):
        self.redis.close()

    def run_bridge(self, config, done, seconds=120):
        """Runs the bridge on ``config`` until ``done(feed, bridge)``; the feed and bridge, stopped.
        The bridge's ``sent`` counts stream entries: one per message that had ticks."""
        bridge = Bridge(self.redis.url, stream="ticks").start()
        feed = ws_bridge.Feed(ws_bridge.Mapping(config), bridge)
        stop = asyncio.Event()
        runner = threading.Thread(target=asyncio.run, args=(ws_bridge.run(config, feed, stop),), daemon=True)
        runner.start()
        try:
            until(lambda: done(feed, bridge), seconds=seconds)
        except AssertionError:
            raise AssertionError(f"timed out: messages {feed.messages}, ticks {feed.ticks}, ignored {feed.ignored}, "
                                 f"unmappable {feed.unmappable}, dropped {feed.dropped}, sent {bridge.sent}") from None
        finally:
            stop.set()
            runner.join(5)
            bridge.stop()
        return feed, bridge

    def stream_ticks(self):
        return [t for _, fields in self.redis.client().xrange("ticks") for t in json.loads(fields[b"tick"])]

    def producer_bars(self, day, symbols):
        """The producer run over the stream until it has applied every entry: each symbol's
        one-minute bars (closed and forming) as ``{label: [open, high, low, close, vol, amount]}``."""
        producer = os.environ.get("TICKBAR_PRODUCER")
        if not producer:
            self.skipTest("TICKBAR_PRODUCER is not set: the producer's bars were not checked")
        client = self.redis.client()
        last = client.xrevrange("ticks", count=1)[0][0]
        env = {**os.environ, "TICKBAR__REDIS__URL": self.redis.url, "TICKBAR__PRODUCER__CLOCK": "event",
               "TICKBAR__HTTP__LISTEN": f"127.0.0.1:{free_port()}", "RUST_LOG": "warn"}
        process = subprocess.Popen([producer], env=env)
        try:
            def applied():
                groups = client.xinfo_groups("ticks")
                return bool(groups) and groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == last
            until(applied, seconds=60)
        finally:
            process.terminate()
            process.wait(10)
        bars = {}
        for symbol in symbols:
            stored = client.zrange(f"tickbar:bars:{day}:1:{symbol}", 0, -1)
            forming = client.hget(f"tickbar:forming:{day}:1", symbol)
            parsed = [json.loads(b, parse_float=Decimal) for b in stored + ([forming] if forming else [])]
            bars[symbol] = {b["frame"][11:16]: [Decimal(b[k]) for k in ("open", "high", "low", "close")]
                            + [b["vol"], Decimal(b["amount"])] for b in parsed}
        return bars

    def assert_day(self, bars, expected, totals):
        """``bars`` equal the rules' ``expected`` bar for bar and add up to the day ``totals``."""
        differ = {label: (bars.get(label), expected.get(label)) for label in sorted(set(bars) | set(expected))
                  if bars.get(label) != expected.get(label)}
        self.assertEqual(differ, {}, "bars (producer, rules) that differ")
        self.assertEqual((sum(b[4] for b in bars.values()), sum(b[5] for b in bars.values())), totals)

    def test_real_trades_through_a_websocket_become_the_exchanges_day_volume_in_bars(self):
        trades = real_trades()
        messages = [f'{{"s":"600519.SH","ld":{price},"v":{volume},"t":{epoch_ms("2023-02-01", clock)}}}'
                    for clock, price, volume, _ in trades]
        vendor = VendorServer(messages + ["garbage"])
        config = {**TICKS_WS, "websocket": {**TICKS_WS["websocket"], "url": f"ws://127.0.0.1:{vendor.port}", "ping_seconds": 0.2}}
        feed, bridge = self.run_bridge(config, lambda f, b: f.messages == len(messages) + 1 and b.sent == len(messages))
        self.assertEqual((feed.ticks, feed.unmappable, feed.reconnects), (len(trades), 1, 1))
        self.assertEqual([json.loads(s) for s in vendor.subscribed[:2]], [json.loads(TICKS_WS["websocket"]["subscribe"][0])] * 2)
        self.assertEqual(sum(t["volume"] for t in self.stream_ticks()), DAY_VOLUME)
        bars = self.producer_bars("2023-02-01", ["600519.SH"])["600519.SH"]
        # the trades carry no amount on this feed: the producer prices each at its price
        priced = [(clock, price, volume, exact(price) * volume) for clock, price, volume, _ in trades]
        self.assertEqual((len(bars), bars["09:31"][0], bars["15:00"][3]), (240, Decimal("1854.98"), Decimal("1844.97")))
        self.assert_day(bars, bars_of_trades(priced), (DAY_VOLUME, sum(t[3] for t in priced)))

    def test_polled_rest_quotes_arrive_as_cumulative_ticks_and_a_failed_poll_is_retried(self):
        answers = [None, {"data": {"diff": [{"f12": "600519", "f2": 1850.5, "f5": 120, "f6": 22206000.0, "f124": 1675215060}]}},
                   {"data": {"diff": [{"f12": "600519", "f2": 1851, "f5": 150, "f6": 27759000.0, "f124": 1675215063}]}}]
        server = PollServer(None if a is None else json.dumps(a).encode() for a in answers)
        self.addCleanup(server.close)
        config = {**QUOTES_REST, "rest": {**QUOTES_REST["rest"], "url": f"{server.url}/api/qt/clist/get?fltt=2",
                                          "interval_seconds": 0.05}}
        feed, _ = self.run_bridge(config, lambda f, b: b.sent >= 2)
        self.assertGreaterEqual(feed.reconnects, 1, "the failed poll was retried")
        ticks = self.stream_ticks()[:2]
        self.assertEqual(ticks[0], {"symbol": "600519.SH", "time": 1675215060000, "price": 1850.5, "volume": 12000,
                                    "amount": 22206000, "cumulative": True})
        self.assertEqual((ticks[1]["volume"], ticks[1]["price"]), (15000, 1851))

    def assert_snapshot_day(self, snapshots):
        """The producer's bars of the polled real snapshots equal the rules' bars of each symbol."""
        bars = self.producer_bars("2023-02-01", list(SNAPSHOT_DAY_TOTALS))
        for symbol, totals in SNAPSHOT_DAY_TOTALS.items():
            expected = bars_of_snapshots([s[1:] for s in snapshots if s[0] == symbol])
            with self.subTest(symbol=symbol):
                self.assertEqual(len(bars[symbol]), 240)
                self.assert_day(bars[symbol], expected, totals)

    def test_the_tushare_example_reads_positional_records_of_real_quotes_to_the_rules_bars(self):
        snapshots = real_snapshots()
        columns = ["ts_code", "name", "date", "time", "open", "pre_close", "price", "high", "low", "volume", "amount"]
        opened = {}

        def record(symbol, clock, price, high, low, volume, amount):
            if volume and symbol not in opened:
                opened[symbol] = price
            day_open = opened.get(symbol, Decimal(0))
            pre_close = Decimal("1845.76") if symbol == "600519.SH" else day_open
            return [symbol, "名称", "20230201", clock, day_open, pre_close, price, high, low, volume, amount]

        answers = [json.dumps({"code": 0, "msg": "", "data": {"fields": columns, "has_more": False,
                                                             "items": [record(*s) for s in chunk]}},
                              default=float).encode() for chunk in chunks(snapshots, 4)]
        server = PollServer(answers, then=json.dumps({"code": 0, "data": {"fields": columns, "items": []}}).encode())
        self.addCleanup(server.close)
        example = EXAMPLES["tushare_rest"]
        config = {**example, "rest": {**example["rest"], "url": server.url, "interval_seconds": 0}}
        feed, _ = self.run_bridge(config, lambda f, b: f.ticks == len(snapshots) and b.sent == len(answers))
        self.assertEqual((feed.unmappable, feed.dropped, feed.ticks), (0, {}, len(snapshots)))
        headers, body = server.requests[0]
        self.assertEqual((json.loads(body)["api_name"], headers["Content-Type"]), ("realtime_quote", "application/json"))
        last = [t for t in self.stream_ticks() if t["symbol"] == "600519.SH"][-1]
        self.assertEqual((last["open"], last["pre_close"], last["high"], last["low"], last["time"]),
                         (1854.98, 1845.76, 1859, 1811.4, "2023-02-01T15:40:03.000"))
        self.assert_snapshot_day(snapshots)

    def test_the_sina_example_reads_real_quote_text_in_gbk_to_the_rules_bars(self):
        snapshots = real_snapshots()
        names = {"600519.SH": "贵州茅台", "000333.SZ": "美的集团"}

        def line(symbol, clock, price, high, low, volume, amount):
            code = symbol[7:].lower() + symbol[:6]
            book = ",".join(["100", str(price)] * 10)
            return (f'var hq_str_{code}="{names[symbol]},{price},{price},{price:.3f},{high:.3f},{low:.3f},'
                    f'{price},{price},{volume},{amount:.3f},{book},2023-02-01,{clock},00";')

        answers = ["\n".join([line(*s) for s in chunk] + ['var hq_str_sh600000="";']).encode("gbk")
                   for chunk in chunks(snapshots, 4)]
        server = PollServer(answers, then=b"\n")
        self.addCleanup(server.close)
        example = EXAMPLES["sina_text"]
        config = {**example, "rest": {**example["rest"], "url": f"{server.url}/list=sh600519,sz000333",
                                      "interval_seconds": 0}}
        feed, _ = self.run_bridge(config, lambda f, b: f.ticks == len(snapshots) and b.sent == len(answers))
        self.assertEqual((feed.unmappable, feed.ticks), (0, len(snapshots)))
        self.assertGreaterEqual(feed.dropped["no_match"], len(answers), "the unknown code's empty quote, counted")
        self.assertEqual(server.requests[0][0]["Referer"], "https://finance.sina.com.cn")
        self.assert_snapshot_day(snapshots)

    def test_the_joinquant_example_reads_real_trades_with_jq_codes_beside_heartbeats_to_the_rules_bars(self):
        trades = real_trades("2023-02-02")
        messages = []
        for chunk in chunks(trades, 50):
            data = [{"code": "600519.XSHG", "datetime": f"2023-02-02 {clock}", "price": Decimal(price),
                     "volume": volume, "money": Decimal(amount)} for clock, price, volume, amount in chunk]
            messages += [json.dumps({"type": "trade", "data": data}, default=str), '{"type": "heartbeat"}']
        vendor = VendorServer(messages)
        example = EXAMPLES["joinquant_ws"]
        config = {**example, "websocket": {**example["websocket"], "url": f"ws://127.0.0.1:{vendor.port}"}}
        feed, _ = self.run_bridge(config, lambda f, b: f.messages == len(messages) and b.sent == len(messages) // 2)
        self.assertEqual((feed.ignored, feed.unmappable, feed.dropped), (len(messages) // 2, 0, {}))
        self.assertEqual(json.loads(vendor.subscribed[0]), {"action": "subscribe", "codes": ["600519.XSHG", "000333.XSHE"]})
        bars = self.producer_bars("2023-02-02", ["600519.SH"])["600519.SH"]
        # 29,758.86 lots, the exchange's day volume (600519.SH-tushare-daily.csv)
        self.assert_day(bars, bars_of_trades(trades), (2_975_886, sum(exact(t[3]) for t in trades)))


if __name__ == "__main__":
    unittest.main()
