"""Tests of the QMT bridge's Redis side and the history loader's bar objects, with a stub of the
xtquant module and a private redis-server on a free port, in clear, TLS-only with mutual TLS
and an ACL user on certificates made with openssl, as a master with replicas under a Sentinel, and as a
3-master Redis Cluster (run by tests/run.sh:
``python -m unittest discover -s deploy/qmt``; needs ``pip install redis``, redis-server, openssl)."""

import argparse
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


def make_certs(directory):
    """A private CA and a server (127.0.0.1) and a client certificate it signed, made with openssl."""
    new_key = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda args: subprocess.run(args, cwd=directory, check=True, capture_output=True)
    run(new_key + ["-x509", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA"])
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\n"), ("client", "extendedKeyUsage=clientAuth\n")):
        with open(f"{directory}/{name}.ext", "w") as f:
            f.write(ext)
        run(new_key + ["-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"])
        run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


class RedisServer:
    """A private redis-server on a free port; stop() and start() keep the port. With ``tls``, it
    speaks only TLS on certificates of its own, asks for a client certificate, and admits only the
    ACL user ``bridge`` (password ``pw``); ``tls_options`` are the client's redis-py arguments."""

    def __init__(self, tls=False, replica_of=None, cluster=False):
        self.dir = tempfile.mkdtemp()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tls_options = {}
        self.listen = ["--port", str(self.port)]
        if tls:
            make_certs(self.dir)
            self.url = f"rediss://bridge:pw@127.0.0.1:{self.port}/0"
            files = {name: f"{self.dir}/{name}" for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}
            self.tls_options = {"ssl_ca_certs": files["ca.crt"], "ssl_certfile": files["client.crt"],
                                "ssl_keyfile": files["client.key"]}
            self.listen = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "yes",
                           "--tls-cert-file", files["server.crt"], "--tls-key-file", files["server.key"],
                           "--tls-ca-cert-file", files["ca.crt"],
                           "--user", "default", "off", "--user", "bridge", "on", ">pw", "~*", "&*", "+@all"]
        if replica_of:
            self.listen += ["--replicaof", "127.0.0.1", str(replica_of.port)]
        self.bus = free_port() if cluster else None
        if cluster:
            self.listen += ["--cluster-enabled", "yes", "--cluster-port", str(self.bus),
                            "--cluster-config-file", f"{self.dir}/nodes.conf"]
        self.process = None
        self.start()

    def client(self):
        return redis.Redis.from_url(self.url, **self.tls_options)

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", *self.listen, "--bind", "127.0.0.1", "--save", "", "--dir", self.dir],
            stdout=subprocess.DEVNULL)
        client = self.client()
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

    def kill(self):
        self.process.kill()
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


def entries(server, stream="ticks"):
    return [json.loads(fields[b"qmt"]) for _, fields in server.client().xrange(stream)]


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
        self.assertEqual(entries(self.redis), PAYLOADS)

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
        self.assertEqual(entries(self.redis, "tickbar-test:ticks"), PAYLOADS[1:], "the restarted Redis kept nothing before")
        self.assertEqual(bridge.overflowed, 0)

    def test_with_shards_each_symbol_goes_to_its_shard_stream_in_order(self):
        bridge = qmt_bridge.Bridge(self.redis.url, stream="ticks", shards=2).start()
        for payload in PAYLOADS:
            bridge.on_quote(payload)
        bridge.stop()
        self.assertEqual(qmt_bridge.shard_streams("ticks", 2), ["ticks:{0}", "ticks:{1}"])
        for shard in (0, 1):
            want = [{s: q for s, q in p.items() if qmt_bridge.shard_of(s, 2) == shard} for p in PAYLOADS]
            self.assertEqual(entries(self.redis, f"ticks:{{{shard}}}"), [w for w in want if w])
        self.assertNotEqual(qmt_bridge.shard_of("600519.SH", 2), qmt_bridge.shard_of("000333.SZ", 2))
        self.assertEqual(entries(self.redis), [], "nothing on the unsharded stream")

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


class Sentinel:
    """A private Redis Sentinel of ``master`` (quorum 1, down after 1 s), once it knows the replicas."""

    def __init__(self, master, replicas):
        self.dir = tempfile.mkdtemp()
        self.port = free_port()
        with open(f"{self.dir}/sentinel.conf", "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor tickbar 127.0.0.1 {master.port} 1\n"
                    "sentinel down-after-milliseconds tickbar 1000\nsentinel failover-timeout tickbar 10000\n")
        self.process = subprocess.Popen(["redis-server", f"{self.dir}/sentinel.conf", "--sentinel"],
                                        stdout=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        until(lambda: self.replicas() == replicas)

    def replicas(self):
        """How many replicas of the master the Sentinel knows; -1 before it answers."""
        try:
            return len(self.client.execute_command("SENTINEL", "REPLICAS", "tickbar"))
        except redis.ConnectionError:
            return -1

    def master_port(self):
        return int(self.client.execute_command("SENTINEL", "get-master-addr-by-name", "tickbar")[1])

    def close(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelTest(unittest.TestCase):
    """A master, two replicas and a Sentinel: the bridge finds the master through the Sentinel, each
    batch waits for a replica, and when the master is killed it writes on to the promoted replica."""

    def setUp(self):
        self.master = RedisServer()
        self.replicas = [RedisServer(replica_of=self.master) for _ in range(2)]
        for replica in self.replicas:
            until(lambda: replica.client().info("replication").get("master_link_status") == "up")
        self.sentinel = Sentinel(self.master, 2)

    def tearDown(self):
        self.sentinel.close()
        for server in [self.master, *self.replicas]:
            if server.process.poll() is None:
                server.close()

    def test_the_bridge_follows_a_failover_and_loses_no_payload(self):
        options = qmt_bridge.SentinelOptions([f"127.0.0.1:{self.sentinel.port}"], "tickbar", wait_replicas=1)
        bridge = qmt_bridge.Bridge("redis://127.0.0.1:1/0", sentinel=options).start()
        bridge.on_quote(PAYLOADS[0])
        until(lambda: bridge.sent == 1)
        self.master.kill()
        until(lambda: self.sentinel.master_port() != self.master.port)
        bridge.on_quote(PAYLOADS[1])
        bridge.on_quote(PAYLOADS[2])
        until(lambda: bridge.sent == 3)
        bridge.stop()
        promoted = next(r for r in self.replicas if r.port == self.sentinel.master_port())
        self.assertEqual(entries(promoted), PAYLOADS, "the promoted replica holds every payload, in order")
        self.assertGreaterEqual(bridge.reconnects, 1)


class ClusterTest(unittest.TestCase):
    """Three cluster masters, the slots shared out evenly: with ``--cluster`` the bridge writes each
    shard's payloads to the stream of its tag, on the master of that slot, even with one shard."""

    def setUp(self):
        self.nodes = [RedisServer(cluster=True) for _ in range(3)]
        for i, node in enumerate(self.nodes):
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", i * 5461, 16383 if i == 2 else i * 5461 + 5460)
        for node in self.nodes[1:]:
            self.nodes[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus)
        for node in self.nodes:
            until(lambda: node.client().cluster("info")["cluster_state"] == "ok"
                  and int(node.client().cluster("info")["cluster_known_nodes"]) == 3)

    def tearDown(self):
        for node in self.nodes:
            node.close()

    def test_each_shard_stream_carries_its_tag_and_lies_on_its_slots_master(self):
        from redis.cluster import RedisCluster

        options = qmt_bridge.SentinelOptions(cluster=True)
        for shards in (1, 2):
            bridge = qmt_bridge.Bridge(self.nodes[1].url, stream=f"s{shards}:ticks", shards=shards, sentinel=options)
            bridge.start()
            for payload in PAYLOADS:
                bridge.on_quote(payload)
            until(lambda: bridge.sent == sum(len({qmt_bridge.shard_of(s, shards) for s in p}) for p in PAYLOADS))
            bridge.stop()
        cluster = RedisCluster.from_url(self.nodes[0].url)
        read = lambda stream: [json.loads(f[b"qmt"]) for _, f in cluster.xrange(stream)]
        self.assertEqual(read("s1:ticks:{0}"), PAYLOADS, "one shard's stream is tagged too")
        for shard in (0, 1):
            want = [{s: q for s, q in p.items() if qmt_bridge.shard_of(s, 2) == shard} for p in PAYLOADS]
            self.assertEqual(read(f"s2:ticks:{{{shard}}}"), [w for w in want if w])
        homes = [[n.port for n in self.nodes if n.client().keys(f"s2:ticks:{{{shard}}}")] for shard in (0, 1)]
        self.assertEqual([len(h) for h in homes], [1, 1], homes)
        self.assertNotEqual(homes[0], homes[1], "shards {0} and {1} hash to different masters")
        self.assertRaises(ValueError, qmt_bridge.SentinelOptions, wait_replicas=1, cluster=True)


class TlsTest(unittest.TestCase):
    """The bridge and the history loader through a TLS-only Redis with mutual TLS and an ACL user."""

    def setUp(self):
        self.redis = RedisServer(tls=True)

    def tearDown(self):
        self.redis.close()

    def tls_argv(self):
        options = self.redis.tls_options
        return ["--redis-url", self.redis.url, "--tls-ca", options["ssl_ca_certs"],
                "--tls-cert", options["ssl_certfile"], "--tls-key", options["ssl_keyfile"]]

    def test_the_bridge_writes_every_payload_through_tls_with_its_client_certificate(self):
        modules, _ = stub_xtquant(PAYLOADS)
        argv = ["qmt_bridge.py", *self.tls_argv()]
        with mock.patch.dict(sys.modules, modules), mock.patch.object(sys, "argv", argv):
            qmt_bridge.main()
        self.assertEqual(entries(self.redis), PAYLOADS)

    def test_without_the_client_certificate_the_server_refuses_the_bridge(self):
        bridge = qmt_bridge.Bridge(self.redis.url, tls={"ssl_ca_certs": self.redis.tls_options["ssl_ca_certs"]})
        with self.assertRaises((redis.ConnectionError, OSError)):
            bridge._connect()

    def test_the_history_loader_pushes_its_bars_through_tls(self):
        Row = collections.namedtuple("Row", "Index time open high low close volume amount")
        table = types.SimpleNamespace(itertuples=lambda: iter([
            Row(0, 1700443860000, 1750.0, 1752.3, 1749.9, 1751.0, 1203, 210691530.0)]))
        xtdata = types.SimpleNamespace(download_history_data=lambda *a, **k: None,
                                       get_market_data_ex=lambda *a, **k: {"600519.SH": table})
        module = types.ModuleType("xtquant")
        module.xtdata = xtdata
        argv = ["qmt_history.py", "--codes", "600519.SH", "--start", "20231120", "--end", "20231120",
                "--periods", "1", *self.tls_argv()]
        with mock.patch.dict(sys.modules, {"xtquant": module, "xtquant.xtdata": xtdata}), \
                mock.patch.object(sys, "argv", argv), mock.patch("builtins.print"):
            qmt_history.main()
        pushed = [json.loads(b) for b in self.redis.client().lrange("historical_bar_data_1min", 0, -1)]
        self.assertEqual([(b["symbol"], b["frame"], b["vol"]) for b in pushed], [("600519.SH", "2023-11-20 09:31:00", 120300)])

    def test_tls_options_with_a_plain_url_or_half_a_certificate_are_refused(self):
        parser = argparse.ArgumentParser()
        parser.add_argument("--redis-url")
        qmt_bridge.add_tls_arguments(parser)
        for argv in (["--redis-url", "redis://h:6379/0", "--tls-ca", "ca.crt"],
                     ["--redis-url", "rediss://h:6380/0", "--tls-cert", "c.crt"]):
            with self.assertRaises(SystemExit):
                qmt_bridge.tls_options(parser.parse_args(argv))
        self.assertEqual(qmt_bridge.redacted("rediss://bridge:pw@h:6380/0"), "rediss://bridge:***@h:6380/0")


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
