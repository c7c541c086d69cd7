"""Vendor feed -> tickbar bridge: ticks from a WebSocket (or a polled REST) quote service into
tickbar's tick stream, for users without QMT.

Connects to the WebSocket URL of a mapping file, sends its subscribe messages and keep-alive pings,
maps each message to contract tick objects (``{"symbol","time","price","volume","amount",
"cumulative"}``) by the mapping, and XADDs them as the field ``tick`` through the QMT bridge's
sender (batches, reconnects with backoff, Sentinel, TLS and ``--shards`` as it does). On a dropped
connection it reconnects with backoff and subscribes again. A message the mapping cannot read is
counted and logged (the first 20), never silently dropped; an item of a message that cannot be read
is dropped alone, counted by its reason, and the ticks beside it go through; messages the mapping's
``when`` does not select (heartbeat answers) are counted as ignored. Numbers keep their exact
digits: a price is never turned into a float on the way. The mapping file is checked when loaded:
an unknown key (with the known key it most resembles), a value of the wrong type, a value outside
its choices, a missing required key are refused by name.

    pip install redis websockets
    python ws_bridge.py --mapping alltick.toml --redis-url redis://tickbar-redis:6379/0
    python ws_bridge.py --check alltick.toml [--sample message.json]   # what a message becomes

With ``[rest]`` in the mapping instead of ``[websocket]`` it polls a URL every ``interval_seconds``
and maps each answer the same way (vendors without a stream); with ``[message] pattern`` each line
of a text answer is read by a regular expression's named groups. Examples: ``ticks_ws.toml`` (a
WebSocket of trade ticks, the compact ``{"s","ld","v","t"}`` shape), ``quotes_rest.toml`` (polled
whole quotes in Eastmoney's shape, cumulative volume in lots), ``tushare_rest.toml`` (Tushare's
positional records), ``sina_text.toml`` (Sina's GBK quote text) and ``joinquant_ws.toml`` (trades
with JoinQuant codes). The reference of every key is docs/feeds.md.
"""

import argparse
import asyncio
import codecs
import datetime as dt
import decimal
import difflib
import json
import logging
import os
import re
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


#: Every key a mapping file may have, table by table, with the type its value must have.
MAPPING_KEYS = {
    "websocket": {"url": str, "subscribe": list, "ping": str, "ping_seconds": (int, float)},
    "rest": {
        "url": str, "method": str, "body": str, "headers": dict, "interval_seconds": (int, float), "encoding": str,
    },
    "message": {"path": str, "when": dict, "columns": str, "pattern": str},
    "fields": {
        "symbol": str, "time": str, "price": str, "volume": str, "amount": str,
        "high": str, "low": str, "open": str, "pre_close": str, "trades": str,
        "time_unit": str, "volume_unit": str, "cumulative": bool,
        "price_scale": int, "amount_unit": int, "date": str, "date_format": str, "time_format": str,
    },
    "symbols": {"style": str},
}
#: Keys whose value must be one of these.
CHOICES = {
    ("fields", "time_unit"): ("s", "ms", "us", "ns", "iso", "clock"),
    ("fields", "volume_unit"): ("shares", "lots"),
    ("symbols", "style"): ("suffix", "prefix", "bare", "jq", "secid", "dotted"),
}
REQUIRED = {"fields": ("symbol", "time", "price", "volume")}
#: The ``[fields]`` keys that name where a value is in an item (a path, a column or a group).
FIELD_PATHS = ("symbol", "time", "date", "price", "volume", "amount", "high", "low", "open", "pre_close", "trades")
#: The optional prices an item may carry besides its price, forwarded scaled by ``price_scale``.
EXTRA_PRICES = ("high", "low", "open", "pre_close")


class Unmappable(ValueError):
    """A message, or a tick in it, the mapping cannot turn into a contract tick; ``kind`` names
    the reason it is counted under."""

    def __init__(self, message, kind="unreadable"):
        super().__init__(message)
        self.kind = kind


def suggestion(key, known):
    """`` (did you mean `x`?)`` for the known key ``key`` most resembles, or nothing."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def mapping_errors(config):
    """Every fault of a mapping file's dict, each naming its table and key; none when it is sound."""
    return key_errors(config) + combination_errors(config) + pattern_errors(config)


def key_errors(config):
    """Unknown tables and keys, values of the wrong type or outside their choices, required keys
    that are missing."""
    errors = []
    for table, value in config.items():
        if table not in MAPPING_KEYS:
            errors.append(f"unknown table [{table}]{suggestion(table, MAPPING_KEYS)}")
            continue
        if not isinstance(value, dict):
            errors.append(f"[{table}] must be a table")
            continue
        known = MAPPING_KEYS[table]
        for key, item in value.items():
            if key not in known:
                errors.append(f"[{table}] unknown key `{key}`{suggestion(key, known)}")
            elif not isinstance(item, known[key]) or isinstance(item, bool) and known[key] is not bool:
                expected = known[key].__name__ if isinstance(known[key], type) else "a number"
                errors.append(f"[{table}] `{key}` must be {expected}, not {type(item).__name__} {item!r}")
            elif (table, key) in CHOICES and item not in CHOICES[(table, key)]:
                errors.append(f"[{table}] `{key}` = {item!r}: expected one of {', '.join(CHOICES[(table, key)])}")
    for table, keys in REQUIRED.items():
        errors.extend(f"[{table}] `{key}` is required" for key in keys if key not in config.get(table, {}))
    return errors


def combination_errors(config):
    """Values that are each of the right type but impossible, alone or together."""
    errors = []
    fields, message = config.get("fields", {}), config.get("message", {})
    for key in ("price_scale", "amount_unit"):
        value = fields.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
            errors.append(f"[fields] `{key}` must be a positive whole number, not {value}")
    if fields.get("time_unit") == "clock" and "date" not in fields:
        errors.append("[fields] `time_unit = \"clock\"` (a time of day) needs `date`, the field of its date")
    if "date" in fields and fields.get("time_unit") != "clock":
        errors.append("[fields] `date` goes with `time_unit = \"clock\"`")
    when = message.get("when")
    if isinstance(when, dict) and set(when) != {"field", "equals"}:
        errors.append(f"[message] `when` needs exactly `field` and `equals`, not {', '.join(sorted(when)) or 'nothing'}")
    if "websocket" in config and "rest" in config:
        errors.append("a mapping has one of [websocket] and [rest], not both")
    encoding = config.get("rest", {}).get("encoding")
    if isinstance(encoding, str):
        try:
            codecs.lookup(encoding)
        except LookupError:
            errors.append(f"[rest] `encoding` = {encoding!r} is not a text encoding Python knows (utf-8, gbk, ...)")
    return errors


def pattern_errors(config):
    """A ``[message] pattern`` that does not compile, that is given with keys of JSON messages, or
    that has no group a field names."""
    pattern, fields = config.get("message", {}).get("pattern"), config.get("fields", {})
    if not isinstance(pattern, str):
        return []
    errors = [f"[message] `{key}` reads JSON messages; a `pattern` reads text" for key in ("path", "columns", "when")
              if key in config["message"]]
    try:
        groups = re.compile(pattern).groupindex
    except re.error as e:
        return errors + [f"[message] `pattern` does not compile: {e}"]
    for key in FIELD_PATHS:
        if isinstance(fields.get(key), str) and fields[key] not in groups:
            errors.append(f"[fields] `{key}` = {fields[key]!r} names no group of the pattern"
                          f"{suggestion(fields[key], groups)}; its groups: {', '.join(groups) or 'none'}")
    return errors


#: The exchange of each vendor's exchange mark: JoinQuant/RiceQuant suffixes, Eastmoney secid markets.
EXCHANGE_MARKS = {"SH": "SH", "SZ": "SZ", "BJ": "BJ", "XSHG": "SH", "XSHE": "SZ", "BJSE": "BJ", "1": "SH", "0": "SZ"}


def bare_exchange(digits):
    """The exchange of a bare code: 6 and 9 Shanghai, 0, 2 and 3 Shenzhen, 4, 8 and 92 Beijing."""
    if digits.startswith("92"):
        return "BJ"
    return {"6": "SH", "9": "SH", "0": "SZ", "2": "SZ", "3": "SZ", "4": "BJ", "8": "BJ"}.get(digits[:1], "")


def symbol_of(code, style):
    """The contract symbol (``600519.SH``) of a vendor's ``code`` written in ``style``: ``suffix``
    (``600519.SH``), ``prefix`` (``sh600519``), ``bare`` (``600519``, the exchange from the code),
    ``jq`` (JoinQuant/RiceQuant ``600519.XSHG``, ``000001.XSHE``), ``secid`` (Eastmoney
    ``1.600519``, ``0.000001``; a Beijing code's market 0 is told by the code) or ``dotted``
    (Baostock ``sh.600519``)."""
    code = str(code).strip().upper()
    if style in ("suffix", "jq"):
        digits, _, mark = code.partition(".")
    elif style == "prefix":
        mark, digits = code[:2], code[2:]
    elif style in ("secid", "dotted"):
        mark, _, digits = code.partition(".")
    else:
        digits, mark = code, ""
    exchange = EXCHANGE_MARKS.get(mark, "") if mark else bare_exchange(digits)
    if style == "secid" and exchange == "SZ" and bare_exchange(digits) == "BJ":
        exchange = "BJ"
    if len(digits) != 6 or not digits.isdigit() or exchange not in ("SH", "SZ", "BJ"):
        raise Unmappable(f"code {code!r} is not a {style} A-share code", "bad_symbol")
    return f"{digits}.{exchange}"


def dig(value, path):
    """The value at a dotted ``path`` (``data.ticks``) of a parsed message; ``""`` is the message."""
    for key in filter(None, path.split(".")):
        if not isinstance(value, dict) or key not in value:
            raise Unmappable(f"no {path!r} in the message", "missing_field")
        value = value[key]
    return value


def number(value, what):
    """``value`` (a JSON number read as Decimal, or a numeric string) as an exact Decimal."""
    try:
        result = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        raise Unmappable(f"{what} {value!r} is not a number", "bad_number") from None
    if not result.is_finite():
        raise Unmappable(f"{what} {value!r} is not a number", "bad_number")
    return result


def text_of(d):
    """A Decimal as a JSON number literal, in plain notation."""
    return format(d.normalize() if d == d.to_integral_value() else d, "f")


class Mapping:
    """How a vendor's messages become contract ticks: the ``[message]``, ``[fields]`` and
    ``[symbols]`` tables of a mapping file."""

    def __init__(self, config):
        errors = mapping_errors(config)
        if errors:
            raise ValueError("the mapping is refused:\n  " + "\n  ".join(errors))
        message, fields = config.get("message", {}), config["fields"]
        self.path = message.get("path", "")
        self.columns = message.get("columns")
        self.when = message.get("when")
        self.pattern = re.compile(message["pattern"]) if "pattern" in message else None
        self.fields = {name: fields.get(name) for name in ("symbol", "time", "price", "volume", "amount")}
        self.time_unit = fields.get("time_unit", "ms")
        self.volume_unit = VOLUME_UNITS[fields.get("volume_unit", "shares")]
        self.cumulative = fields.get("cumulative", False)
        self.extras = {name: fields[name] for name in (*EXTRA_PRICES, "trades") if name in fields}
        self.price_scale = decimal.Decimal(fields.get("price_scale", 1))
        self.amount_unit = decimal.Decimal(fields.get("amount_unit", 1))
        self.style = config.get("symbols", {}).get("style", "suffix")
        self.date = fields.get("date")
        self.date_format = fields.get("date_format", "%Y%m%d")
        self.time_format = fields.get("time_format", "HHMMSSmmm")

    def read(self, text):
        """The ``(ticks, dropped)`` of a message's text (see ``ticks``), or ``None`` when the
        mapping's ``when`` does not select it; raises ``ValueError`` for a message it cannot read."""
        if self.pattern:
            lines = [line for line in text.splitlines() if line.strip()]
            return self.items_ticks(lines, lambda line: self.tick(self.line_item(line)))
        message = json.loads(text, parse_float=decimal.Decimal)
        return self.ticks(message) if self.selects(message) else None

    def selects(self, message):
        """Whether the mapping's ``when`` (``{field, equals}``) picks this parsed message."""
        if not self.when:
            return True
        try:
            return dig(message, self.when["field"]) == self.when["equals"]
        except Unmappable:
            return False

    def ticks(self, message):
        """The ``(symbol, json_text)`` contract ticks of a parsed message, and the items it
        could not read, each an ``Unmappable`` with its reason: one item never costs the others."""
        found = dig(message, self.path)
        items = found if isinstance(found, list) else [found]
        if self.columns:
            names = dig(message, self.columns)
            items = [dict(zip(names, item)) if isinstance(item, list) else item for item in items]
        return self.items_ticks(items)

    def line_item(self, line):
        """The named groups of the pattern in one line of a text message."""
        match = self.pattern.search(line)
        if not match:
            raise Unmappable(f"the pattern does not match {line.strip()[:80]!r}", "no_match")
        return match.groupdict()

    def items_ticks(self, items, to_tick=None):
        """The ticks ``to_tick`` (``tick`` by default) makes of ``items``, and the items dropped."""
        ticks, dropped = [], []
        for item in items:
            try:
                ticks.append((to_tick or self.tick)(item))
            except Unmappable as e:
                dropped.append(e)
        return ticks, dropped

    def tick(self, item):
        if not isinstance(item, dict):
            raise Unmappable(f"a tick is an object, not {type(item).__name__}", "not_an_object")
        symbol = symbol_of(dig(item, self.fields["symbol"]), self.style)
        price = number(dig(item, self.fields["price"]), "price") / self.price_scale
        volume = number(dig(item, self.fields["volume"]), "volume") * self.volume_unit
        if volume != volume.to_integral_value():
            raise Unmappable(f"volume {volume} is not a whole number of shares", "bad_number")
        parts = [f'"symbol":"{symbol}"', f'"time":{self.time_of(item)}', f'"price":{text_of(price)}',
                 f'"volume":{text_of(volume)}']
        if self.fields["amount"]:
            amount = number(dig(item, self.fields["amount"]), "amount") * self.amount_unit
            parts.append(f'"amount":{text_of(amount)}')
        parts.append(f'"cumulative":{"true" if self.cumulative else "false"}')
        for name, path in self.extras.items():
            value = number(dig(item, path), name)
            if name == "trades" and value != value.to_integral_value():
                raise Unmappable(f"trades {value} is not a whole number", "bad_number")
            parts.append(f'"{name}":{text_of(value if name == "trades" else value / self.price_scale)}')
        return symbol, "{" + ",".join(parts) + "}"

    def time_of(self, item):
        """The item's time as a JSON value the producer reads: epoch milliseconds or ISO text."""
        raw = dig(item, self.fields["time"])
        if self.time_unit == "clock":
            return json.dumps(self.moment(dig(item, self.date), raw))
        if self.time_unit == "iso":
            return json.dumps(str(raw))
        ms = number(raw, "time") * TIME_UNITS[self.time_unit] / TIME_UNITS["ms"]
        return str(int(ms.to_integral_value(rounding=decimal.ROUND_FLOOR)))

    def moment(self, date, clock):
        """ISO text of the market time ``clock`` (``time_format``: a strftime format, or
        ``HHMMSSmmm``, digits such as ``93000250``) on ``date`` (``date_format``)."""
        try:
            day = dt.datetime.strptime(str(date).strip(), self.date_format).date()
            if self.time_format == "HHMMSSmmm":
                digits = str(clock).strip().zfill(9)
                if len(digits) != 9 or not digits.isdigit():
                    raise ValueError(f"{clock!r} is not HHMMSSmmm")
                at = dt.time(int(digits[:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6:]) * 1000)
            else:
                at = dt.datetime.strptime(str(clock).strip(), self.time_format).time()
        except ValueError as e:
            raise Unmappable(f"date {date!r} and time {clock!r}: {e}", "bad_time") from None
        return dt.datetime.combine(day, at).isoformat(timespec="milliseconds")


class Feed:
    """Maps vendor messages and hands their ticks to the sender; counts what it could not map."""

    def __init__(self, mapping, bridge):
        self.mapping, self.bridge = mapping, bridge
        self.messages = self.ticks = self.ignored = self.unmappable = self.reconnects = 0
        #: Items dropped from messages that were otherwise read, by reason.
        self.dropped = {}

    def on_message(self, text):
        self.messages += 1
        try:
            read = self.mapping.read(text)
        except ValueError as e:
            self.unmappable += 1
            if self.unmappable <= LOGGED:
                log.warning("unmappable message (%s): %.200s", e, text)
            return
        if read is None:
            self.ignored += 1
            return
        ticks, dropped = read
        for e in dropped:
            self.dropped[e.kind] = self.dropped.get(e.kind, 0) + 1
            if sum(self.dropped.values()) <= LOGGED:
                log.warning("item dropped (%s: %s) from: %.200s", e.kind, e, text)
        self.ticks += len(ticks)
        if ticks:
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
        encoding, backoff = config.get("encoding", "utf-8"), 0.5
        while not stop.is_set():
            started = time.monotonic()
            try:
                answer = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read())
                text = answer.decode(encoding, errors="replace")
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


def check(path, sample):
    """``--check``: the mapping's faults, or what the sample message becomes; the exit status."""
    try:
        config = load_mapping(path)
        mapping = Mapping(config)
    except (ValueError, KeyError, tomllib.TOMLDecodeError) as e:
        print(f"{path}: {e}")
        return 1
    print(f"{path}: the mapping reads")
    if sample is None:
        return 0
    with open(sample, encoding=config.get("rest", {}).get("encoding", "utf-8")) as f:
        text = f.read()
    try:
        read = mapping.read(text)
    except ValueError as e:
        print(f"the message cannot be read: {e}")
        return 1
    if read is None:
        print("the mapping's `when` does not select this message: it would be ignored")
        return 0
    ticks, dropped = read
    for _, tick in ticks:
        print(tick)
    for e in dropped:
        print(f"dropped ({e.kind}): {e}")
    print(f"{len(ticks)} ticks, {len(dropped)} items dropped")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapping", help="the vendor's mapping file (TOML or JSON)")
    parser.add_argument("--check", metavar="MAPPING", help="check a mapping file and exit (with --sample: map it)")
    parser.add_argument("--sample", metavar="FILE", help="with --check: a message to map and print")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--stream", default="ticks", help="the tick stream (with redis.key_prefix, if any)")
    parser.add_argument("--queue", type=int, default=100_000, help="payloads held while Redis is away")
    parser.add_argument("--shards", type=int, default=1, help="redis.shards of the deployment")
    add_tls_arguments(parser)
    add_sentinel_arguments(parser)
    args = parser.parse_args()
    if args.check:
        raise SystemExit(check(args.check, args.sample))
    if not args.mapping:
        parser.error("--mapping is required (or --check MAPPING)")
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
        log.info("messages %d, ticks %d, ignored %d, unmappable %d, items dropped %s, reconnects %d, sent %d",
                 feed.messages, feed.ticks, feed.ignored, feed.unmappable, feed.dropped or "none", feed.reconnects,
                 bridge.sent)


if __name__ == "__main__":
    main()
