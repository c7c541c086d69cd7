"""A local copy of the trading calendar for a range of days (trading days and day overrides), kept
by :meth:`tickbar.Client.keep_calendar` in a JSON file and answering the client's calendar calls
while the API does not. The market's phase is worked out from the same session table and override
rules as the server's (docs/conventions.md, "Sessions" and "Day overrides").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

ZONE = dt.timezone(dt.timedelta(hours=8))
DAY_END = 24 * 60


class OfflineCalendar(UserWarning):
    """A calendar call was answered from the local copy: the API did not answer."""


def default_path() -> str:
    """``$TICKBAR_CALENDAR``, or ``~/.cache/tickbar/calendar.json``."""
    return os.environ.get("TICKBAR_CALENDAR") or os.path.join(os.path.expanduser("~"), ".cache", "tickbar", "calendar.json")


def _hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _regular_phases(after_hours: bool) -> List[Tuple[int, str]]:
    phases = [(0, "pre_open"), (_hm("09:15"), "opening_auction"), (_hm("09:25"), "pause"),
              (_hm("09:30"), "continuous"), (_hm("11:30"), "lunch_break"), (_hm("13:00"), "continuous"),
              (_hm("14:57"), "closing_auction")]
    if after_hours:
        return phases + [(_hm("15:00"), "pause"), (_hm("15:05"), "after_hours"), (_hm("15:30"), "closed")]
    return phases + [(_hm("15:00"), "closed")]


def _stop(override: Dict[str, Any]) -> Optional[Tuple[int, int]]:
    change = override["change"]
    if change == "halt":
        return _hm(override["from"]), _hm(override["to"])
    if change == "early_close":
        return _hm(override["at"]), DAY_END
    if change == "late_open":
        return _hm("09:15"), _hm(override["at"])
    return None


def day_phases(after_hours: bool, overrides: List[Dict[str, Any]]) -> List[Tuple[int, str]]:
    """The phases of a trading day (minute of the day each starts at) under its overrides:
    ``halted`` inside a halt or before a late open, ``closed`` from an early close."""
    regular = _regular_phases(after_hours)
    stops = [s for s in map(_stop, overrides) if s]
    starts = sorted({m for m, _ in regular} | {m for s in stops for m in s if m < DAY_END})
    phases: List[Tuple[int, str]] = []
    for start in starts:
        inside = [s for s in stops if s[0] <= start < s[1]]
        if inside:
            phase = "closed" if inside[0][1] == DAY_END else "halted"
        else:
            phase = [p for m, p in regular if m <= start][-1]
        if not phases or phases[-1][1] != phase:
            phases.append((start, phase))
    return phases


def has_after_hours(symbol: Optional[str]) -> bool:
    """STAR Market (688/689.SH), ChiNext (300/301.SZ) and Beijing listings."""
    if not symbol:
        return False
    code, _, exchange = symbol.upper().partition(".")
    return (exchange == "SH" and code[:3] in ("688", "689")) or (exchange == "SZ" and code[:3] in ("300", "301")) \
        or exchange == "BJ"


class CalendarCopy:
    """The calendar from ``start`` to ``end`` as the API gave it on ``kept_at``."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.start = dt.date.fromisoformat(data["start"])
        self.end = dt.date.fromisoformat(data["end"])
        self.days = [dt.date.fromisoformat(d) for d in data["days"]]
        self.overrides: List[Dict[str, Any]] = data.get("overrides", [])
        self.kept_at = data.get("kept_at", "")
        self._trading = set(self.days)

    @staticmethod
    def save(path: str, answer: Dict[str, Any]) -> None:
        data = {"start": answer["start"], "end": answer["end"], "days": answer["days"],
                "overrides": answer.get("overrides", []), "kept_at": dt.datetime.now(ZONE).isoformat()}
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)

    @staticmethod
    def load(path: str) -> Optional["CalendarCopy"]:
        try:
            with open(path, encoding="utf-8") as f:
                return CalendarCopy(json.load(f))
        except (OSError, ValueError, KeyError):
            return None

    def covers(self, *dates: dt.date) -> bool:
        return all(self.start <= d <= self.end for d in dates)

    def _say(self, what: str) -> None:
        warnings.warn(OfflineCalendar(f"the API did not answer: {what} from the local calendar copy of "
                                      f"{self.start} to {self.end} kept at {self.kept_at}"), stacklevel=3)

    def trading_days(self, start: dt.date, end: dt.date) -> List[dt.date]:
        self._say("trading days")
        return [d for d in self.days if start <= d <= end]

    def phase(self, at: dt.datetime, symbol: Optional[str]) -> Dict[str, Any]:
        self._say("phase")
        at = at.astimezone(ZONE) if at.tzinfo else at.replace(tzinfo=ZONE)
        date, minute = at.date(), at.hour * 60 + at.minute
        trading = date in self._trading
        if trading:
            overrides = [o for o in self.overrides if o["date"] == date.isoformat()]
            phases = day_phases(has_after_hours(symbol), overrides)
            now = [i for i, (m, _) in enumerate(phases) if m <= minute][-1]
            if now + 1 < len(phases):
                start, following = phases[now + 1]
                midnight = dt.datetime.combine(date, dt.time(), ZONE)
                return self._answer(at, symbol, trading, phases[now][1], following, midnight + dt.timedelta(minutes=start))
        later = [d for d in self.days if d > date]
        if not later:
            raise LookupError(f"the local calendar copy ends on {self.end}: no trading day after {date} in it")
        return self._answer(at, symbol, trading, "closed", "pre_open", dt.datetime.combine(later[0], dt.time(), ZONE))

    @staticmethod
    def _answer(at, symbol, trading, phase, following, following_at) -> Dict[str, Any]:
        return {"at": at, "symbol": symbol, "trading_day": trading, "provisional": False, "phase": phase,
                "next": {"phase": following, "at": following_at}, "offline": True}
