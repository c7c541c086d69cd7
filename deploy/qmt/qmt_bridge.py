"""QMT -> tickbar bridge: runs on the Windows machine that runs QMT (miniQMT / xtquant).

Subscribes whole-market quotes with xtquant and XADDs every callback payload, unchanged, to
tickbar's tick stream as the field ``qmt`` (the contract's shape). The callback only queues the
payload; a sender thread writes it, so a slow or absent Redis never stalls QMT. When Redis drops,
the sender reconnects with backoff and writes the queued payloads in order; nothing is dropped
unless the queue (``--queue`` payloads) overflows, which is logged and counted.

    pip install redis
    python qmt_bridge.py --redis-url redis://tickbar-redis:6379/0 [--stream ticks] [--markets SH,SZ,BJ]

With ``redis.shards = N`` producer shards, ``--shards N`` splits each payload by symbol into the
shard streams ``ticks:{0}`` .. ``ticks:{N-1}`` (``shard_of`` is the twin of tickbar's
``common::shard::shard_of``):

    python qmt_bridge.py --redis-url redis://tickbar-redis:6379/0 --shards 2

Across hosts, Redis over TLS with an ACL user and its password in the URL:

    python qmt_bridge.py --redis-url rediss://tickbar:PASSWORD@tickbar-redis:6380/0 \
        --tls-ca ca.crt [--tls-cert client.crt --tls-key client.key]

A Redis under Sentinel (tickbar's ``redis.mode = "sentinel"``): the URL gives the user, password,
database and scheme, the Sentinels the master, found again at each reconnection so a failover is
followed; ``--wait-replicas 1`` has every batch wait (``WAIT``) until a replica holds it, so the
promoted replica holds every tick the master took:

    python qmt_bridge.py --redis-url redis://tickbar:PASSWORD@redis/0 --master-name tickbar \
        --sentinel 10.0.0.7:26379 --sentinel 10.0.0.8:26379 --sentinel 10.0.0.9:26379 --wait-replicas 1

A Redis Cluster (tickbar's ``redis.mode = "cluster"``): ``--cluster`` learns the nodes from the URL's
and writes each shard's stream to the node of its slot; every stream then carries its shard's tag,
``ticks:{0}`` even with one shard:

    python qmt_bridge.py --redis-url redis://tickbar:PASSWORD@10.0.0.7:6379/0 --cluster --shards 2
"""

import argparse
import hashlib
import json
import logging
import queue
import threading
import time

import redis

log = logging.getLogger("qmt_bridge")


def shard_of(symbol, shards):
    """The producer shard of ``symbol`` (``600519.SH``) among ``shards``: ClickHouse's
    ``halfMD5(symbol) % shards``, exactly as tickbar computes it."""
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.md5(symbol.encode()).digest()[:8], "big") % shards


def shard_streams(stream, shards, cluster=False):
    """The tick stream of each shard: ``stream`` itself for one shard, else (and in a cluster)
    ``stream:{i}``."""
    return [stream] if shards <= 1 and not cluster else [f"{stream}:{{{i}}}" for i in range(max(shards, 1))]


class Bridge:
    """Queues QMT payloads (or contract ticks, ``on_ticks``) and writes them to the stream from one
    sender thread."""

    def __init__(self, redis_url, stream="ticks", queue_size=100_000, maxlen=None, batch=200, tls=None, shards=1,
                 sentinel=None):
        self.redis_url = redis_url
        self.tls = tls or {}
        self.sentinel = sentinel or SentinelOptions()
        self.streams = shard_streams(stream, shards, self.sentinel.cluster)
        self.maxlen = maxlen
        self.batch = batch
        self.pending = queue.Queue(maxsize=queue_size)
        self.sent = 0
        self.overflowed = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._client = None
        self._thread = threading.Thread(target=self._run, name="qmt-bridge-sender", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        """Writes what is queued (for up to ``timeout`` seconds), then stops the sender."""
        deadline = time.monotonic() + timeout
        while not self.pending.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout)

    def on_quote(self, data):
        """The xtquant callback: ``data`` maps each symbol to its snapshot dict; with shards, each
        shard's part of it is one payload for that shard's stream."""
        parts = {0: data} if len(self.streams) == 1 else {}
        for symbol, quote in data.items() if len(self.streams) > 1 else ():
            parts.setdefault(shard_of(symbol, len(self.streams)), {})[symbol] = quote
        for shard, part in sorted(parts.items()):
            self._queue(shard, "qmt", json.dumps(part, separators=(",", ":"), ensure_ascii=False))

    def on_ticks(self, ticks):
        """Contract tick objects, ``(symbol, json_text)`` each: one ``tick`` entry (a JSON array) per
        shard that has any of them."""
        parts = {}
        for symbol, text in ticks:
            parts.setdefault(shard_of(symbol, len(self.streams)) if len(self.streams) > 1 else 0, []).append(text)
        for shard, texts in sorted(parts.items()):
            self._queue(shard, "tick", "[" + ",".join(texts) + "]")

    def _queue(self, shard, field, payload):
        try:
            self.pending.put_nowait((self.streams[shard], field, payload))
        except queue.Full:
            self.overflowed += 1
            log.error("queue full (%d payloads): a payload was dropped; %d so far", self.pending.maxsize, self.overflowed)

    def _connect(self):
        client = connect(self.redis_url, self.tls, self.sentinel, socket_timeout=10, socket_connect_timeout=5)
        client.ping()
        return client

    def _run(self):
        backoff = 0.1
        batch = []
        while not self._stop.is_set() or batch:
            if not batch:
                try:
                    batch.append(self.pending.get(timeout=0.2))
                except queue.Empty:
                    continue
                while len(batch) < self.batch:
                    try:
                        batch.append(self.pending.get_nowait())
                    except queue.Empty:
                        break
            try:
                if self._client is None:
                    self._client = self._connect()
                    log.info("connected to %s", redacted(self.redis_url))
                pipe = self._client.pipeline(transaction=False)
                for stream, field, payload in batch:
                    if self.maxlen:
                        pipe.xadd(stream, {field: payload}, maxlen=self.maxlen, approximate=True)
                    else:
                        pipe.xadd(stream, {field: payload})
                waited = self.sentinel.wait_replicas
                if waited:
                    pipe.execute_command("WAIT", waited, self.sentinel.wait_timeout_ms)
                held = pipe.execute()[-1]
                if waited and held < waited:
                    log.warning("%d of %d replicas hold the last batch: a failover now could lose it", held, waited)
                self.sent += len(batch)
                batch = []
                backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError, OSError) as e:
                if self._stop.is_set():
                    log.error("stopping with %d payloads unsent: %s", len(batch) + self.pending.qsize(), e)
                    return
                log.warning("redis unavailable (%s); retrying in %.1f s with %d payloads held", e, backoff, len(batch))
                self._client = None
                self.reconnects += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class SentinelOptions:
    """Where the Sentinels are (``host:port`` each; none: the URL's server is the master), the
    name they know the master by, and how many replicas each write waits for (``WAIT``); or that
    the URL's server is a node of a Redis Cluster (``cluster``)."""

    def __init__(self, sentinels=(), master_name="tickbar", wait_replicas=0, wait_timeout_ms=5000, cluster=False):
        self.sentinels = [(host, int(port)) for host, port in (s.rsplit(":", 1) for s in sentinels)]
        self.master_name = master_name
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.cluster = cluster
        if cluster and (self.sentinels or wait_replicas):
            raise ValueError("a Redis Cluster is found without Sentinels, and its writes wait for no replicas")


def connect(url, tls=None, sentinel=None, **options):
    """A redis-py client of ``url``, or with Sentinels of the master they name, with the URL's user,
    password, database and TLS; such a client asks the Sentinels again at each reconnection. In a
    cluster, a client of every node, learnt from the URL's."""
    tls = tls or {}
    if sentinel is not None and sentinel.cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(url, **tls, **options)
    if sentinel is None or not sentinel.sentinels:
        return redis.Redis.from_url(url, **tls, **options)
    from redis.sentinel import Sentinel

    kwargs = redis.connection.parse_url(url)
    kwargs.pop("host", None)
    kwargs.pop("port", None)
    ssl = issubclass(kwargs.pop("connection_class", redis.Connection), redis.SSLConnection)
    sentinels = Sentinel(sentinel.sentinels, sentinel_kwargs={"socket_timeout": 1, **tls}, **kwargs, **tls,
                         **({"ssl": True} if ssl else {}), **options)
    return sentinels.master_for(sentinel.master_name)


def add_sentinel_arguments(parser):
    """The Sentinel and replication options, shared with qmt_history.py."""
    parser.add_argument("--sentinel", action="append", default=[], metavar="HOST:PORT",
                        help="a Sentinel of the master (repeat for each); the URL then gives only user, password, db")
    parser.add_argument("--master-name", default="tickbar", help="the name the Sentinels know the master by")
    parser.add_argument("--wait-replicas", type=int, default=0, help="each write waits until this many replicas hold it")
    parser.add_argument("--wait-timeout-ms", type=int, default=5000, help="the longest one such wait")
    parser.add_argument("--cluster", action="store_true", help="the URL's server is a node of a Redis Cluster")


def sentinel_options(args):
    return SentinelOptions(args.sentinel, args.master_name, args.wait_replicas, args.wait_timeout_ms, args.cluster)


def add_tls_arguments(parser):
    """The TLS options of a ``rediss://`` URL, shared with qmt_history.py."""
    parser.add_argument("--tls-ca", help="PEM CA file the server is verified with (default: the system's roots)")
    parser.add_argument("--tls-cert", help="PEM client certificate, for a Redis that asks for one (with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")


def tls_options(args):
    """redis-py's ``ssl_*`` keyword arguments for the TLS options given; TLS needs ``rediss://``."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    options = {"ssl_ca_certs": args.tls_ca, "ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    options = {k: v for k, v in options.items() if v}
    if options and not args.redis_url.startswith("rediss://"):
        raise SystemExit("--tls-* options need a rediss:// URL")
    return options


def redacted(url):
    """``url`` with its password, if any, replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--stream", default="ticks", help="the tick stream (with redis.key_prefix, if any)")
    parser.add_argument("--markets", default="SH,SZ,BJ", help="markets for subscribe_whole_quote")
    parser.add_argument("--maxlen", type=int, default=None, help="cap the stream at about this many entries")
    parser.add_argument("--queue", type=int, default=100_000, help="payloads held while Redis is away")
    parser.add_argument("--shards", type=int, default=1, help="redis.shards of the deployment")
    add_tls_arguments(parser)
    add_sentinel_arguments(parser)
    args = parser.parse_args()
    tls = tls_options(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from xtquant import xtdata

    sentinel = sentinel_options(args)
    bridge = Bridge(args.redis_url, args.stream, args.queue, args.maxlen, tls=tls, shards=args.shards,
                    sentinel=sentinel).start()
    xtdata.subscribe_whole_quote(args.markets.split(","), callback=bridge.on_quote)
    log.info("subscribed to whole-market quotes of %s; writing to %s", args.markets, ", ".join(bridge.streams))
    try:
        xtdata.run()
    finally:
        bridge.stop()


if __name__ == "__main__":
    main()
