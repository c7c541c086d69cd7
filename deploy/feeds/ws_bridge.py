"""Vendor feed -> tickbar bridge: ticks from a WebSocket (or a polled REST) quote service into
tickbar's tick stream, for users without QMT.

Connects to the WebSocket URL of a mapping file, sends its subscribe messages and keep-alive pings,
maps each message to contract tick objects (``{"symbol","time","price","volume","amount",
"cumulative"}``) by the mapping, and XADDs them as the field ``tick`` through the QMT bridge's
sender (batches, reconnects with backoff, Sentinel, TLS and ``--shards`` as it does). On a dropped
connection it reconnects with backoff and subscribes again. A message the mapping cannot read is
counted and logged (the first 20), never silently dropped; messages the mapping's ``when`` does not
select (heartbeat answers) are counted as ignored. Numbers keep their exact digits: a price is
never turned into a float on the way.

    pip install redis websockets
    python ws_bridge.py --mapping alltick.toml --redis-url redis://tickbar-redis:6379/0

With ``[rest]`` in the mapping instead of ``[websocket]`` it polls a URL every ``interval_seconds``
and maps each answer the same way (vendors without a stream). Examples: ``ticks_ws.toml`` (a
WebSocket of trade ticks, the compact ``{"s","ld","v","t"}`` shape) and ``quotes_rest.toml``
(polled whole quotes in Eastmoney's shape, cumulative volume in lots).
"""

import argparse
import asyncio
import decimal
import json
import logging
import os
import sys
import time
import tomllib
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qmt"))

from qmt_bridge import (  # noqa: E402
    Bridge,
    add_sentinel_arguments,
    add_tls_arguments,
    redacted,
    sentinel_options,
    tls_options,
)

log = logging.getLogger("ws_bridge")

#: How many unmappable messages are logged one by one before only counting.
LOGGED = 20
#: Nanoseconds of each time unit a mapping may name.
TIME_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
#: Shares in each volume unit a mapping may name.
VOLUME_UNITS = {"shares": 1, "lots": 100}


class Unmappable(ValueError):
    """A message, or a tick in it, the mapping cannot turn into a contract tick."""


def symbol_of(code, style):
    """The contract symbol (``600519.SH``) of a vendor's ``code`` written in ``style``: ``suffix``
    (``600519.SH``), ``prefix`` (``sh600519``) or ``bare`` (``600519``: the exchange from the code:
    6 and 9 Shanghai, 0, 2 and 3 Shenzhen, 4 and 8 Beijing)."""
    code = str(code).strip().upper()
    if style == "suffix":
        digits, _, exchange = code.partition(".")
    elif style == "prefix":
        exchange, digits = code[:2], code[2:]
    else:
        digits = code
        exchange = {"6": "SH", "9": "SH", "0": "SZ", "2": "SZ", "3": "SZ", "4": "BJ", "8": "BJ"}.get(code[:1], "")
    if len(digits) != 6 or not digits.isdigit() or exchange not in ("SH", "SZ", "BJ"):
        raise Unmappable(f"code {code!r} is not a {style} A-share code")
    return f"{digits}.{exchange}"


def dig(value, path):
    """The value at a dotted ``path`` (``data.ticks``) of a parsed message; ``""`` is the message."""
    for key in filter(None, path.split(".")):
        if not isinstance(value, dict) or key not in value:
            raise Unmappable(f"no {path!r} in the message")
        value = value[key]
    return value


def number(value, what):
    """``value`` (a JSON number read as Decimal, or a numeric string) as an exact Decimal."""
    try:
        result = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        raise Unmappable(f"{what} {value!r} is not a number") from None
    if not result.is_finite():
        raise Unmappable(f"{what} {value!r} is not a number")
    return result


def text_of(d):
    """A Decimal as a JSON number literal, in plain notation."""
    return format(d.normalize() if d == d.to_integral_value() else d, "f")


class Mapping:
    """How a vendor's messages become contract ticks: the ``[message]``, ``[fields]`` and
    ``[symbols]`` tables of a mapping file."""

    def __init__(self, config):
        message, fields = config.get("message", {}), config["fields"]
        self.path = message.get("path", "")
        self.when = message.get("when")
        self.fields = {name: fields.get(name) for name in ("symbol", "time", "price", "volume", "amount")}
        for name in ("symbol", "time", "price", "volume"):
            if not self.fields[name]:
                raise ValueError(f"[fields] {name} is required")
        self.time_unit = fields.get("time_unit", "ms")
        if self.time_unit not in TIME_UNITS and self.time_unit != "iso":
            raise ValueError(f"[fields] time_unit {self.time_unit!r}: expected s, ms, us, ns or iso")
        self.volume_unit = VOLUME_UNITS[fields.get("volume_unit", "shares")]
        self.cumulative = bool(fields.get("cumulative", False))
        self.style = config.get("symbols", {}).get("style", "suffix")
        if self.style not in ("suffix", "prefix", "bare"):
            raise ValueError(f"[symbols] style {self.style!r}: expected suffix, prefix or bare")

    def selects(self, message):
        """Whether the mapping's ``when`` (``{field, equals}``) picks this parsed message."""
        if not self.when:
            return True
        try:
            return dig(message, self.when["field"]) == self.when["equals"]
        except Unmappable:
            return False

    def ticks(self, message):
        """The ``(symbol, json_text)`` contract ticks of a parsed message."""
        found = dig(message, self.path)
        return [self.tick(item) for item in (found if isinstance(found, list) else [found])]

    def tick(self, item):
        if not isinstance(item, dict):
            raise Unmappable(f"a tick is an object, not {type(item).__name__}")
        symbol = symbol_of(dig(item, self.fields["symbol"]), self.style)
        raw_time = dig(item, self.fields["time"])
        if self.time_unit == "iso":
            when = json.dumps(str(raw_time))
        else:
            ms = number(raw_time, "time") * TIME_UNITS[self.time_unit] / TIME_UNITS["ms"]
            when = str(int(ms.to_integral_value(rounding=decimal.ROUND_FLOOR)))
        price = number(dig(item, self.fields["price"]), "price")
        volume = number(dig(item, self.fields["volume"]), "volume") * self.volume_unit
        if volume != volume.to_integral_value():
            raise Unmappable(f"volume {volume} is not a whole number of shares")
        parts = [f'"symbol":"{symbol}"', f'"time":{when}', f'"price":{text_of(price)}', f'"volume":{text_of(volume)}']
        if self.fields["amount"]:
            parts.append(f'"amount":{text_of(number(dig(item, self.fields["amount"]), "amount"))}')
        parts.append(f'"cumulative":{"true" if self.cumulative else "false"}')
        return symbol, "{" + ",".join(parts) + "}"


class Feed:
    """Maps vendor messages and hands their ticks to the sender; counts what it could not map."""

    def __init__(self, mapping, bridge):
        self.mapping, self.bridge = mapping, bridge
        self.messages = self.ticks = self.ignored = self.unmappable = self.reconnects = 0

    def on_message(self, text):
        self.messages += 1
        try:
            message = json.loads(text, parse_float=decimal.Decimal)
            if not self.mapping.selects(message):
                self.ignored += 1
                return
            ticks = self.mapping.ticks(message)
        except (ValueError, Unmappable) as e:
            self.unmappable += 1
            if self.unmappable <= LOGGED:
                log.warning("unmappable message (%s): %.200s", e, text)
            return
        self.ticks += len(ticks)
        self.bridge.on_ticks(ticks)

    async def websocket(self, config, stop):
        """Reads the WebSocket of ``config`` until ``stop`` is set, reconnecting with backoff."""
        import websockets

        backoff = 0.5
        while not stop.is_set():
            try:
                async with websockets.connect(config["url"], ping_interval=None, open_timeout=10) as ws:
                    for message in config.get("subscribe", []):
                        await ws.send(message)
                    log.info("connected to %s; %d subscribe messages sent", config["url"], len(config.get("subscribe", [])))
                    backoff = 0.5
                    await self._read(ws, config, stop)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
                if stop.is_set():
                    return
                self.reconnects += 1
                log.warning("feed connection lost (%s); reconnecting in %.1f s", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _read(self, ws, config, stop):
        ping, every = config.get("ping"), config.get("ping_seconds", 10)

        async def keep_alive():
            while ping:
                await asyncio.sleep(every)
                await ws.send(ping)

        pinger = asyncio.create_task(keep_alive())
        try:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                self.on_message(text)
        finally:
            pinger.cancel()

    async def rest(self, config, stop):
        """Polls the URL of ``config`` every ``interval_seconds`` until ``stop`` is set."""
        request = urllib.request.Request(
            config["url"],
            data=config["body"].encode() if "body" in config else None,
            headers=config.get("headers", {}),
            method=config.get("method", "GET"),
        )
        backoff = 0.5
        while not stop.is_set():
            started = time.monotonic()
            try:
                text = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read().decode())
                backoff = 0.5
            except OSError as e:
                self.reconnects += 1
                log.warning("poll failed (%s); again in %.1f s", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.on_message(text)
            await asyncio.sleep(max(0.0, config.get("interval_seconds", 3) - (time.monotonic() - started)))


def load_mapping(path):
    """The mapping file (TOML, or JSON for a ``.json`` path) as a dict."""
    with open(path, "rb") as f:
        return json.load(f) if path.endswith(".json") else tomllib.load(f)


async def run(config, feed, stop):
    if "websocket" in config:
        await feed.websocket(config["websocket"], stop)
    elif "rest" in config:
        await feed.rest(config["rest"], stop)
    else:
        raise SystemExit("the mapping needs a [websocket] or a [rest] table")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapping", required=True, help="the vendor's mapping file (TOML or JSON)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--stream", default="ticks", help="the tick stream (with redis.key_prefix, if any)")
    parser.add_argument("--queue", type=int, default=100_000, help="payloads held while Redis is away")
    parser.add_argument("--shards", type=int, default=1, help="redis.shards of the deployment")
    add_tls_arguments(parser)
    add_sentinel_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = load_mapping(args.mapping)
    bridge = Bridge(args.redis_url, args.stream, args.queue, tls=tls_options(args), shards=args.shards,
                    sentinel=sentinel_options(args)).start()
    feed = Feed(Mapping(config), bridge)
    log.info("feeding %s from %s", redacted(args.redis_url), args.mapping)
    stop = asyncio.Event()
    try:
        asyncio.run(run(config, feed, stop))
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
        log.info("messages %d, ticks %d, ignored %d, unmappable %d, reconnects %d, sent %d",
                 feed.messages, feed.ticks, feed.ignored, feed.unmappable, feed.reconnects, bridge.sent)


if __name__ == "__main__":
    main()
