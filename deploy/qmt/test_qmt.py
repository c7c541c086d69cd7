"""Tests of the QMT bridge's Redis side and the history loader's bar objects, with a stub of the
xtquant module and a private redis-server on a free port (run by tests/run.sh:
``python -m unittest discover -s deploy/qmt``; needs ``pip install redis`` and redis-server)."""

import collections
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
import unittest
from unittest import mock

import redis

import qmt_bridge
import qmt_history

PAYLOADS = [
    {"600519.SH": {"time": 1675215003000, "lastPrice": 1850.0, "open": 1838.0, "high": 1850.0, "low": 1838.0,
                   "lastClose": 1837.0, "volume": 1200, "amount": 221500000.0, "openInt": 13}},
    {"000333.SZ": {"time": 1675215006000, "lastPrice": 55.12, "volume": 5300, "amount": 29200000.0, "openInt": 13},
     "600519.SH": {"time": 1675215006000, "lastPrice": 1850.5, "volume": 1300, "amount": 240000000.0, "openInt": 13}},
    {"600519.SH": {"time": 1675215009000, "lastPrice": 1851.0, "volume": 1350, "amount": 249250000.0, "openInt": 13}},
]


class RedisServer:
    """A private redis-server on a free port; stop() and start() keep the port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.dir],
            stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def stub_xtquant(payloads, between=None):
    """An ``xtquant`` module whose whole-quote subscription delivers ``payloads`` from run()."""
    subscribed = {}

    def subscribe_whole_quote(markets, callback):
        subscribed["markets"], subscribed["callback"] = markets, callback
        return 1

    def run():
        for i, payload in enumerate(payloads):
            subscribed["callback"](payload)
            if between:
                between(i)

    xtdata = types.SimpleNamespace(subscribe_whole_quote=subscribe_whole_quote, run=run)
    module = types.ModuleType("xtquant")
    module.xtdata = xtdata
    return {"xtquant": module, "xtquant.xtdata": xtdata}, subscribed


def entries(url, stream="ticks"):
    return [json.loads(fields[b"qmt"]) for _, fields in redis.Redis.from_url(url).xrange(stream)]


class BridgeTest(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()

    def tearDown(self):
        self.redis.close()

    def test_every_callback_payload_becomes_one_qmt_entry_in_order(self):
        modules, subscribed = stub_xtquant(PAYLOADS)
        argv = ["qmt_bridge.py", "--redis-url", self.redis.url, "--markets", "SH,SZ"]
        with mock.patch.dict(sys.modules, modules), mock.patch.object(sys, "argv", argv):
            qmt_bridge.main()
        self.assertEqual(subscribed["markets"], ["SH", "SZ"])
        self.assertEqual(entries(self.redis.url), PAYLOADS)

    def test_payloads_queued_while_redis_is_down_arrive_after_it_returns(self):
        bridge = qmt_bridge.Bridge(self.redis.url, stream="tickbar-test:ticks").start()
        bridge.on_quote(PAYLOADS[0])
        self._until(lambda: bridge.sent == 1)
        self.redis.stop()
        bridge.on_quote(PAYLOADS[1])
        bridge.on_quote(PAYLOADS[2])
        self._until(lambda: bridge.reconnects >= 2)
        self.redis.start()
        self._until(lambda: bridge.sent == 3)
        bridge.stop()
        self.assertEqual(entries(self.redis.url, "tickbar-test:ticks"), PAYLOADS[1:], "the restarted Redis kept nothing before")
        self.assertEqual(bridge.overflowed, 0)

    def test_an_overflowing_queue_is_counted_not_silent(self):
        bridge = qmt_bridge.Bridge("redis://127.0.0.1:1/0", queue_size=2)
        for payload in PAYLOADS:
            bridge.on_quote(payload)
        self.assertEqual((bridge.pending.qsize(), bridge.overflowed), (2, 1))

    def _until(self, condition, seconds=15):
        deadline = time.monotonic() + seconds
        while not condition():
            self.assertLess(time.monotonic(), deadline, "timed out")
            time.sleep(0.02)


class HistoryTest(unittest.TestCase):
    def test_qmt_bars_become_contract_bar_objects_in_shares(self):
        Row = collections.namedtuple("Row", "Index time open high low close volume amount")
        table = types.SimpleNamespace(itertuples=lambda: iter([
            Row(0, 1700443860000, 1750.0, 1752.3, 1749.9, 1751.0, 1203, 210691530.0),
        ]))
        bars = list(qmt_history.bar_objects("600519.sh", table))
        self.assertEqual(bars, [{"symbol": "600519.SH", "frame": "2023-11-20 09:31:00", "open": "1750.0",
                                 "high": "1752.3", "low": "1749.9", "close": "1751.0", "vol": 120300,
                                 "amount": "210691530.0"}])


if __name__ == "__main__":
    unittest.main()
