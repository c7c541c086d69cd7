"""Tests of the vendor-feed bridge: the mapping on every shape it reads, and the whole path from a
local WebSocket server (no network) through a private redis-server to the producer's bars, on the
real Level-2 trades of 600519.SH on 2023-02-01 (``common/tests/data/real``), whose volumes must add
up to the exchange's day total. Run by tests/run.sh (``python -m unittest discover -s deploy/feeds``
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
import time
import unittest

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qmt"))

import ws_bridge  # noqa: E402
from qmt_bridge import Bridge  # noqa: E402
from test_qmt import RedisServer, free_port, until  # noqa: E402

REAL = os.path.join(HERE, "..", "..", "common", "tests", "data", "real", "600519.SH-20230201-trades.csv.gz")
#: The exchange's volume of 600519.SH on 2023-02-01: 33,973.89 lots (600519.SH-tushare-daily.csv).
DAY_VOLUME = 3_397_389
TICKS_WS = ws_bridge.load_mapping(os.path.join(HERE, "ticks_ws.toml"))
QUOTES_REST = ws_bridge.load_mapping(os.path.join(HERE, "quotes_rest.toml"))


def real_trades():
    """The day's trades as the compact vendor messages ``{"s","ld","v","t"}``, prices with the
    file's exact digits."""
    day = dt.datetime(2023, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with gzip.open(REAL, "rt") as f:
        for row in csv.DictReader(f):
            clock = dt.datetime.strptime(row["time"], "%H:%M:%S.%f").time()
            ms = int(day.replace(hour=clock.hour, minute=clock.minute, second=clock.second,
                                 microsecond=clock.microsecond).timestamp() * 1000)
            yield f'{{"s":"600519.SH","ld":{row["price"]},"v":{row["volume"]},"t":{ms}}}'


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


class EndToEndTest(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()

    def tearDown(self):
        self.redis.close()

    def test_real_trades_through_a_websocket_become_the_exchanges_day_volume_in_bars(self):
        trades = list(real_trades())
        vendor = VendorServer(trades + ["garbage"])
        config = {**TICKS_WS, "websocket": {**TICKS_WS["websocket"], "url": f"ws://127.0.0.1:{vendor.port}", "ping_seconds": 0.2}}
        bridge = Bridge(self.redis.url, stream="ticks").start()
        feed = ws_bridge.Feed(ws_bridge.Mapping(config), bridge)
        stop = asyncio.Event()
        runner = threading.Thread(target=asyncio.run, args=(ws_bridge.run(config, feed, stop),), daemon=True)
        runner.start()
        until(lambda: feed.messages == len(trades) + 1, seconds=60)
        until(lambda: bridge.sent == len(trades))
        stop.set()
        runner.join(5)
        bridge.stop()
        self.assertEqual((feed.ticks, feed.unmappable, feed.reconnects), (len(trades), 1, 1))
        self.assertEqual([json.loads(s) for s in vendor.subscribed[:2]], [json.loads(TICKS_WS["websocket"]["subscribe"][0])] * 2)
        client = self.redis.client()
        entries = client.xrange("ticks")
        stream_ticks = [t for _, fields in entries for t in json.loads(fields[b"tick"])]
        self.assertEqual(len(stream_ticks), len(trades))
        self.assertEqual(sum(t["volume"] for t in stream_ticks), DAY_VOLUME)

        producer = os.environ.get("TICKBAR_PRODUCER")
        if not producer:
            self.skipTest("TICKBAR_PRODUCER is not set: the producer's bars were not checked")
        env = {**os.environ, "TICKBAR__REDIS__URL": self.redis.url, "TICKBAR__PRODUCER__CLOCK": "event",
               "TICKBAR__HTTP__LISTEN": f"127.0.0.1:{free_port()}", "RUST_LOG": "warn"}
        process = subprocess.Popen([producer], env=env)
        try:
            def applied():
                groups = client.xinfo_groups("ticks")
                return bool(groups) and groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == entries[-1][0]
            until(applied, seconds=60)
        finally:
            process.terminate()
            process.wait(10)
        closed = [json.loads(b) for b in client.zrange("tickbar:bars:2023-02-01:1:600519.SH", 0, -1)]
        forming = client.hget("tickbar:forming:2023-02-01:1", "600519.SH")
        bars = closed + ([json.loads(forming)] if forming else [])
        self.assertEqual(sum(b["vol"] for b in bars), DAY_VOLUME, "the exchange's day volume, to the share")
        self.assertEqual((len(closed) + bool(forming), bars[0]["open"]), (240, 1854.98))
        self.assertEqual(bars[-1]["close"], 1844.97)

    def test_polled_rest_quotes_arrive_as_cumulative_ticks_and_a_failed_poll_is_retried(self):
        import http.server

        answers = [None, {"data": {"diff": [{"f12": "600519", "f2": 1850.5, "f5": 120, "f6": 22206000.0, "f124": 1675215060}]}},
                   {"data": {"diff": [{"f12": "600519", "f2": 1851, "f5": 150, "f6": 27759000.0, "f124": 1675215063}]}}]
        asked = []

        class Quotes(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                asked.append(self.path)
                answer = answers[min(len(asked), len(answers)) - 1]
                self.send_response(500 if answer is None else 200)
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Quotes)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/api/qt/clist/get?fltt=2"
        config = {**QUOTES_REST, "rest": {**QUOTES_REST["rest"], "url": url, "interval_seconds": 0.05}}
        bridge = Bridge(self.redis.url, stream="ticks").start()
        feed = ws_bridge.Feed(ws_bridge.Mapping(config), bridge)
        stop = asyncio.Event()
        runner = threading.Thread(target=asyncio.run, args=(ws_bridge.run(config, feed, stop),), daemon=True)
        runner.start()
        until(lambda: bridge.sent >= 2)
        stop.set()
        runner.join(5)
        bridge.stop()
        server.shutdown()
        self.assertGreaterEqual(feed.reconnects, 1, "the failed poll was retried")
        ticks = [json.loads(fields[b"tick"])[0] for _, fields in self.redis.client().xrange("ticks")][:2]
        self.assertEqual(ticks[0], {"symbol": "600519.SH", "time": 1675215060000, "price": 1850.5, "volume": 12000,
                                    "amount": 22206000, "cumulative": True})
        self.assertEqual((ticks[1]["volume"], ticks[1]["price"]), (15000, 1851))


if __name__ == "__main__":
    unittest.main()
