"""Heartbeat deadlines, as pure functions over plain data.

A monitor expects a ping every `interval`; it is late once `interval` has passed since
the start of its current interval (its last ping, its creation, or its resumption), and
down once `interval + grace` has passed. All times are aware UTC datetimes.

Invariants:
- Exactly at `since + interval` a monitor is still up; one microsecond later it is late.
  Exactly at the deadline (`since + interval + grace`) it is down: the deadline is the
  first instant that counts as missed, and the engine's timer is due at that instant.
- A paused monitor has no deadline and is never down.
- Maintenance windows are half-open `[start, end)`. A deadline that falls inside one is
  moved to `end + interval + grace`: the end of maintenance counts like a ping, so a
  job that runs once an interval is not paged for the first run after maintenance. A
  window that ends exactly at the deadline, or starts after it, moves nothing. A window
  that starts after the monitor went down does not bring it back up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

STATES = ("new", "up", "late", "down", "paused", "maintenance")
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(days=366)

Window = tuple[datetime, datetime]

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `5m`, `2h`, `1d` or combinations (`1h30m`); plain digits are seconds.
    Raises ValueError naming the text otherwise."""
    value = text.strip().lower()
    if len(value) > 32:
        raise ValueError(f"{text[:32]!r}... is not a duration like 90s, 5m, 2h or 1d")
    if value.isdigit():
        return _bounded(int(value), text)
    pos, total = 0, 0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a duration like 90s, 5m, 2h or 1d")
    return _bounded(total, text)


def _bounded(seconds: int, text: str) -> timedelta:
    if seconds > 10 * 366 * 86400:  # far beyond MAX_INTERVAL, and what timedelta holds
        raise ValueError(f"{text!r} is longer than 3660d")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest of `1d2h`, `5m`, `90s`-style text for a whole number of seconds."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def human_minutes(delta: timedelta) -> str:
    """`7 min`, `2 h 5 min` or `40 s`: for the alert's summary."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass(frozen=True)
class Beat:
    """What the rules need to know about one monitor."""

    since: datetime  # start of the current interval: last ping, creation or resumption
    interval: timedelta
    grace: timedelta
    paused: bool = False
    pinged: bool = False  # whether any ping ever arrived


def deadline(beat: Beat, windows: Iterable[Window] = ()) -> datetime | None:
    """The first instant the monitor counts as down, or None while paused."""
    if beat.paused:
        return None
    period = beat.interval + beat.grace
    due = beat.since + period
    ordered = sorted(windows)
    moved = True
    while moved:  # windows back to back or overlapping move it more than once
        moved = False
        for start, end in ordered:
            if start <= due < end:
                due = end + period
                moved = True
    return due


def next_expected(beat: Beat, windows: Iterable[Window] = ()) -> datetime | None:
    """When the next ping is expected (the deadline less the grace), or None while paused."""
    due = deadline(beat, windows)
    return None if due is None else due - beat.grace


def late_by(beat: Beat, now: datetime, windows: Iterable[Window] = ()) -> timedelta:
    """How long past the expected ping `now` is (zero when not late, or paused)."""
    expected = next_expected(beat, windows)
    if expected is None:
        return timedelta(0)
    return max(timedelta(0), now - expected)


def in_window(windows: Iterable[Window], now: datetime) -> bool:
    """Whether `now` falls inside one of the half-open windows."""
    return any(start <= now < end for start, end in windows)


def state(beat: Beat, now: datetime, windows: Sequence[Window] = ()) -> str:
    """One of STATES at `now`: paused, down (the deadline passed), maintenance (inside a
    window and not down), late (past the expected ping, within grace), new (never pinged)
    or up."""
    if beat.paused:
        return "paused"
    due = deadline(beat, windows)
    assert due is not None
    if now >= due:
        return "down"
    if in_window(windows, now):
        return "maintenance"
    if now > due - beat.grace:
        return "late"
    return "up" if beat.pinged else "new"


def intervals(pings: Sequence[datetime]) -> list[timedelta]:
    """The gaps between consecutive pings (oldest first), for the sparkline."""
    return [b - a for a, b in zip(pings, pings[1:], strict=False)]
