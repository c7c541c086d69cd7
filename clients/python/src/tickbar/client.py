"""The tickbar query API over HTTP: bars and snapshots as Arrow tables turned into DataFrames,
the live bar stream as a generator, and the trading calendar.

Only the standard library and pyarrow are needed; pandas and polars are imported when asked for.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.ipc

from .calendar import ZONE, CalendarCopy, default_path

Symbols = Union[str, Sequence[str]]
When = Union[str, dt.date, dt.datetime, None]


class TickbarError(Exception):
    """An answer other than 200: the API's error code and message (`status` 0: no answer)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamEvent:
    """One event of :meth:`Client.stream`.

    ``kind`` is ``"bar"`` (a closed or amended bar: ``bar`` holds the bar object, prices as exact
    ``Decimal``, ``frame`` a tz-aware ``datetime`` in Asia/Shanghai time), ``"forming"`` (with
    ``Client.stream(..., forming=True)``: the bar still forming, the same shape, sent about once a
    second while it changes; the ``"bar"`` event of its frame follows when it closes) or ``"gap"``
    (bars of ``symbol`` may have been missed: the feed reconnected or this client fell behind;
    re-query :meth:`Client.bars` for the frames in question).
    """

    kind: str
    symbol: str
    bar: Optional[Dict[str, Any]] = None
    message: str = ""


def _text(value: When) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _date(value: When) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _instant(value: When) -> dt.datetime:
    """``value`` as an aware datetime (market time when it has no zone), now when ``None``."""
    if value is None:
        return dt.datetime.now(ZONE)
    if not isinstance(value, dt.datetime):
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZONE)


def _symbols(symbols: Symbols) -> List[str]:
    return [symbols] if isinstance(symbols, str) else list(symbols)


class Client:
    """A client of one tickbar query API, e.g. ``Client("http://127.0.0.1:8080")``.

    ``token`` is the API's ``api.token`` when it has one; ``timeout`` (seconds) bounds each request.
    ``calendar_copy`` is the file of a calendar copy kept by :meth:`keep_calendar` (by this or
    another process) that the calendar calls fall back on while the API does not answer.
    """

    def __init__(
        self, url: str, token: Optional[str] = None, timeout: float = 60.0, calendar_copy: Optional[str] = None
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.calendar_copy = calendar_copy

    # -- requests -------------------------------------------------------------------------------

    def _request(self, path: str, params: Dict[str, Any], timeout: Optional[float] = None):
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(f"{self.url}{path}?{query}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            try:
                error = json.loads(body)["error"]
                raise TickbarError(e.code, error["code"], error["message"]) from None
            except (ValueError, KeyError, TypeError):
                raise TickbarError(e.code, "http_error", body) from None
        except urllib.error.URLError as e:
            raise TickbarError(0, "unreachable", str(e.reason)) from None

    def _json(self, path: str, params: Dict[str, Any]) -> Any:
        with self._request(path, params) as response:
            return json.loads(response.read(), parse_float=_decimal)

    def _table(self, path: str, params: Dict[str, Any]) -> pa.Table:
        """The Arrow answer, with the `tickbar-*` headers that describe it in its schema metadata."""
        with self._request(path, {**params, "format": "arrow"}) as response:
            table = pyarrow.ipc.open_stream(response.read()).read_all()
            described = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("tickbar-")}
        return table.replace_schema_metadata({**(table.schema.metadata or {}), **described}) if described else table

    # -- bars -----------------------------------------------------------------------------------

    def bars(
        self,
        symbols: Symbols,
        period: Union[int, str] = 1,
        start: When = None,
        end: When = None,
        count: Optional[int] = None,
        adjust: Optional[str] = None,
        adjust_ref: When = None,
        include_forming: bool = False,
        as_: str = "pandas",
        dtype: str = "decimal",
    ):
        """Bars of one or more symbols as one long table: ``symbol, frame, open, high, low, close,
        vol, amount, trades, vwap, source`` (``trades`` the number of trades, empty where the feed
        does not give it; ``vwap`` amount / vol, empty without volume; ``source`` ``"vendor"``
        history or ``"live"``, built by tickbar from the feed), plus ``forming`` with
        ``include_forming``. Daily bars (``period="1d"``) add ``pre_close, paused, high_limit,
        low_limit`` before ``source`` (the limits with an instrument list, see :meth:`instruments`).

        ``period``: minutes dividing 120 (1, 5, 10, 15, 30, 60, 120, ...), ``"1d"``, ``"1w"``, ``"1M"``.
        Give ``start`` and ``end`` (dates, datetimes or ISO text; a date alone is the whole day), or
        ``count`` for the last N bars of each symbol at or before ``end`` (default: now).
        ``adjust``: ``None``/``"none"``, ``"forward"`` (``"qfq"``) or ``"backward"`` (``"hfq"``),
        ``adjust_ref`` the date forward prices are kept at.

        ``as_``: ``"pandas"`` (default; prices and amount are exact ``decimal.Decimal``, ``frame``
        tz-aware Asia/Shanghai), ``"polars"`` (``Decimal`` columns) or ``"arrow"`` (a ``pyarrow.Table``).
        Symbols no store has ever held a bar of (most likely no listing) are warned about and kept
        in ``df.attrs["unknown"]``. ``dtype="float"`` gives float64 prices and amounts instead, for arithmetic and plotting
        (``tickbar.to_backtesting`` and ``tickbar.to_backtrader`` shape a symbol's bars for those
        libraries).
        """
        if count is None and start is None:
            raise ValueError("give start (and end) or count")
        names = _symbols(symbols)
        params = {
            "symbols": ",".join(names),
            "period": period,
            "start": _text(start),
            "end": _text(end),
            "count": count,
            "adjust": adjust,
            "adjust_ref": _text(adjust_ref),
            "include_forming": "true" if include_forming else None,
        }
        table = self._table("/api/v1/bars", params)
        unknown = _listed(_meta(table), "tickbar-unknown")
        if unknown:
            warnings.warn(f"no store has ever held a bar of {', '.join(unknown)}: not a listing?", stacklevel=2)
        out = _convert(table, as_, dtype)
        if as_ == "pandas":
            out.attrs["unknown"] = unknown
        return out

    def snapshot(
        self,
        period: int = 1,
        at: When = None,
        symbols: Optional[Symbols] = None,
        include_forming: bool = False,
        as_: str = "pandas",
        dtype: str = "decimal",
    ):
        """Every symbol's latest closed bar at or before ``at`` on that trading day, or only those of
        ``symbols``; with ``include_forming`` (and no ``at``) the forming bars too, marked in the
        ``forming`` column. Without ``at``: now, or when now has no bar yet (before the open, a
        weekend), the close of the latest day with bars.

        What the answer says beside its rows is kept: in pandas ``df.attrs`` (``"at"``, the moment
        served; ``"latest"``, True when now had no bar and this is the latest day with bars;
        ``"missing"``, the symbols asked for with no bar, warned about too), in Arrow the schema's
        metadata (``tickbar-snapshot-at``, ``tickbar-snapshot-latest``, ``tickbar-missing``)."""
        params = {
            "period": period,
            "at": _text(at),
            "symbols": ",".join(_symbols(symbols)) if symbols else None,
            "include_forming": "true" if include_forming else None,
        }
        table = self._table("/api/v1/snapshot", params)
        meta = _meta(table)
        missing = _listed(meta, "tickbar-missing")
        if missing:
            warnings.warn(f"no bar for {', '.join(missing)} on that day", stacklevel=2)
        out = _convert(table, as_, dtype)
        if as_ == "pandas":
            out.attrs.update(
                at=meta.get("tickbar-snapshot-at"),
                latest=meta.get("tickbar-snapshot-latest") == "true",
                missing=missing,
            )
        return out

    # -- ticks ----------------------------------------------------------------------------------

    def ticks(
        self,
        symbols: Symbols,
        start: When = None,
        end: When = None,
        count: Optional[int] = None,
        as_: str = "pandas",
        dtype: str = "decimal",
    ):
        """The archived ticks of one or more symbols, as the producer accepted them, as one long
        table in the order the symbols are given: ``symbol, time`` (ms, tz-aware Asia/Shanghai),
        ``price, volume, amount, cumulative`` (``volume``/``amount`` are the day's totals so far when
        ``cumulative``), ``high, low, trades`` (where the feed gives them) and the book,
        ``bid_price, bid_volume, ask_price, ask_volume`` (lists, best level first).

        Give ``start`` and ``end`` (a date alone is the whole day), or ``count`` for the last N ticks
        of each symbol at or before ``end`` (default: now). Prices and amounts are exact
        ``decimal.Decimal`` (lists of them in the book); ``as_`` and ``dtype`` as for :meth:`bars`.
        """
        if count is None and start is None:
            raise ValueError("give start (and end) or count")
        params = {
            "symbols": ",".join(_symbols(symbols)),
            "start": _text(start),
            "end": _text(end),
            "count": count,
        }
        return _convert(self._table("/api/v1/ticks", params), as_, dtype)

    # -- instruments ----------------------------------------------------------------------------

    def instruments(self, symbols: Optional[Symbols] = None):
        """The instrument list ``producer import-instruments`` loaded (or its entries for
        ``symbols``) as a pandas DataFrame: ``symbol, name, board`` (``main``, ``star``,
        ``chinext``, ``beijing``), ``list_date``, ``delist_date`` (``datetime.date``, ``None``
        while listed) and ``st``."""
        import pandas

        params = {"symbols": ",".join(_symbols(symbols)) if symbols else None}
        rows = self._json("/api/v1/instruments", params)["instruments"]
        for row in rows:
            row["list_date"] = dt.date.fromisoformat(row["list_date"])
            row["delist_date"] = row["delist_date"] and dt.date.fromisoformat(row["delist_date"])
        columns = ["symbol", "name", "board", "list_date", "delist_date", "st"]
        return pandas.DataFrame(rows, columns=columns)

    # -- calendar -------------------------------------------------------------------------------

    def keep_calendar(self, start: When, end: When, path: Optional[str] = None) -> str:
        """Keeps a local copy of the calendar from ``start`` to ``end`` (trading days and day
        overrides) in ``path`` (default: ``calendar_copy``, ``$TICKBAR_CALENDAR`` or
        ``~/.cache/tickbar/calendar.json``); while the API does not answer, :meth:`trading_days`
        and :meth:`phase` answer from it inside its range, with an ``OfflineCalendar`` warning
        (and ``"offline": True`` in a phase). Keep it again after the calendar changes (a new
        holiday list, an announced closure). Returns the path."""
        answer = self._json("/api/v1/calendar/trading-days", {"start": _text(start), "end": _text(end)})
        path = path or self.calendar_copy or default_path()
        CalendarCopy.save(path, answer)
        self.calendar_copy = path
        return path

    def _copy_for(self, error: TickbarError, *dates: dt.date) -> CalendarCopy:
        """The kept copy when the API did not answer and the copy covers ``dates``; else ``error``."""
        copy = CalendarCopy.load(self.calendar_copy) if error.status == 0 and self.calendar_copy else None
        if copy is None or not copy.covers(*dates):
            raise error
        return copy

    def trading_days(self, start: When, end: When) -> List[dt.date]:
        """The trading days from ``start`` to ``end``, both included."""
        try:
            answer = self._json("/api/v1/calendar/trading-days", {"start": _text(start), "end": _text(end)})
        except TickbarError as e:
            first, last = _date(start), _date(end)
            return self._copy_for(e, first, last).trading_days(first, last)
        return [dt.date.fromisoformat(d) for d in answer["days"]]

    def phase(self, at: When = None, symbol: Optional[str] = None) -> Dict[str, Any]:
        """The market's phase at ``at`` (default now) on the schedule of ``symbol``'s board (STAR,
        ChiNext and Beijing have the 15:05-15:30 after-hours session; default: the main boards'):
        ``{"at", "symbol", "trading_day", "provisional", "phase", "next": {"phase", "at"}}`` with
        the times as aware datetimes. Phases: ``pre_open``, ``opening_auction``, ``pause``,
        ``continuous``, ``lunch_break``, ``closing_auction``, ``after_hours``, ``halted`` (a day
        override's halt or late open), ``closed``."""
        try:
            answer = self._json("/api/v1/calendar/phase", {"at": _text(at), "symbol": symbol})
        except TickbarError as e:
            when = _instant(at)
            return self._copy_for(e, when.date()).phase(when, symbol)
        answer["at"] = dt.datetime.fromisoformat(answer["at"])
        answer["next"]["at"] = dt.datetime.fromisoformat(answer["next"]["at"])
        return answer

    # -- live -----------------------------------------------------------------------------------

    def stream(
        self,
        symbols: Symbols,
        period: int = 1,
        retry: float = 1.0,
        max_retry: float = 30.0,
        forming: bool = False,
    ) -> Iterator[StreamEvent]:
        """Live closed (and amended) bars of ``symbols`` as they are published, forever; with
        ``forming`` also each symbol's forming bar as it changes (``StreamEvent("forming", ...)``).

        One event stream per symbol, each reconnecting with backoff (``retry`` doubling up to
        ``max_retry`` seconds) when it drops; a drop or the server's ``gap`` event yields a
        ``StreamEvent("gap", symbol)``, so the caller knows to re-query the missed frames.
        Closing the generator stops the streams.
        """
        events: "queue.Queue[StreamEvent]" = queue.Queue()
        stop = threading.Event()
        threads = [
            threading.Thread(target=self._follow, args=(s, period, retry, max_retry, forming, events, stop), daemon=True)
            for s in _symbols(symbols)
        ]
        for t in threads:
            t.start()
        try:
            while True:
                yield events.get()
        finally:
            stop.set()

    def _follow(
        self,
        symbol: str,
        period: int,
        retry: float,
        max_retry: float,
        forming: bool,
        events: "queue.Queue[StreamEvent]",
        stop: threading.Event,
    ) -> None:
        delay = retry
        connected_before = False
        while not stop.is_set():
            try:
                with self._request("/api/v1/stream/bars", {"symbol": symbol, "period": period}, timeout=60) as r:
                    if connected_before:
                        events.put(StreamEvent("gap", symbol, message="the event stream reconnected"))
                    connected_before, delay = True, retry
                    for kind, data in _server_events(r):
                        if stop.is_set():
                            return
                        if kind == "bar" or (kind == "forming" and forming):
                            events.put(StreamEvent(kind, symbol, _bar(data)))
                        elif kind == "gap":
                            events.put(StreamEvent("gap", symbol, message=data))
            except TickbarError as e:
                if 400 <= e.status < 500:
                    events.put(StreamEvent("gap", symbol, message=f"refused: {e}"))
                    return
            except OSError:
                pass
            stop.wait(delay)
            delay = min(delay * 2, max_retry)


def _decimal(text: str) -> decimal.Decimal:
    return decimal.Decimal(text)


def _bar(data: str) -> Dict[str, Any]:
    """A bar object of the event stream: exact decimals, `frame` a tz-aware datetime."""
    bar = json.loads(data, parse_float=_decimal)
    bar["frame"] = dt.datetime.fromisoformat(bar["frame"])
    return bar


def _server_events(response) -> Iterable[tuple]:
    """(event, data) pairs of a text/event-stream."""
    kind, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _meta(table: pa.Table) -> Dict[str, str]:
    """The answer's `tickbar-*` headers, as `_table` kept them in the schema's metadata."""
    return {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}


def _listed(meta: Dict[str, str], name: str) -> List[str]:
    """The comma-separated symbols of header `name`."""
    return [s for s in meta.get(name, "").split(",") if s]


def _floats(table: pa.Table) -> pa.Table:
    """`table` with every decimal column (and list of decimals) as float64: each value the double
    nearest its exact decimal, as ``float(Decimal)`` gives (by way of its text: Arrow's own
    decimal-to-float cast is off by an ulp at times)."""

    def swap(to):
        fields = []
        for field in table.schema:
            if pa.types.is_decimal(field.type):
                fields.append(field.with_type(to))
            elif pa.types.is_list(field.type) and pa.types.is_decimal(field.type.value_type):
                fields.append(field.with_type(pa.list_(to)))
            else:
                fields.append(field)
        return pa.schema(fields)

    return table.cast(swap(pa.string())).cast(swap(pa.float64()))


def _convert(table: pa.Table, as_: str, dtype: str = "decimal"):
    if dtype == "float":
        table = _floats(table)
    elif dtype != "decimal":
        raise ValueError(f"dtype={dtype!r}: accepted are 'decimal' (exact, the default) and 'float'")
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        import polars

        return polars.from_arrow(table)
    raise ValueError(f"as_={as_!r}: accepted are 'pandas', 'polars' and 'arrow'")

