"""Schedule expansion: plain functions over plain data, no store.

A schedule is a stack of layers. Each layer is a rotation: ordered members take
turns, one shift each; shifts start at a handoff time in the layer's IANA zone
(wall-clock time, so a daily 09:00 handoff stays at 09:00 across daylight-saving
changes). A layer may be restricted to windows (business hours, weekdays, any
time-of-day span) in its zone, so follow-the-sun is several zone-bound layers.

Layers carry a level: 1 is the primary, 2 the secondary, and so on. Within a level a
later layer wins where layers overlap; overrides win over all layers. The final
schedule is computed for any span, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "weekend": frozenset({5, 6}),
    "daily": frozenset(range(7)),
    "every day": frozenset(range(7)),
}
FULL_NAMES = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
DEFAULT_START = date(2024, 1, 1)  # a Monday: rotations count their shifts from here
BURNOUT_MIN = 5  # rotations with fewer people burn them out (the seeds' rule)
LEVEL_NAMES = {1: "primary", 2: "secondary"}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level {level}")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- parsing the human forms used by config and API -------------------------------------

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SHIFT_RE = re.compile(r"^(\d{1,4})\s*(h|hours?|d|days?|w|weeks?)$")


def parse_time(text: str, *, allow_24: bool = False) -> time:
    """'09:00' -> time(9). With allow_24, '24:00' is midnight at the end of a day."""
    t = str(text).strip()
    if allow_24 and t == "24:00":
        return time(0)
    m = _TIME_RE.match(t)
    if not m:
        raise ValueError(f"{text!r} is not a time of day like '09:00'")
    return time(int(m.group(1)), int(m.group(2)))


def parse_shift(text: str) -> timedelta:
    """'daily', 'weekly', '12h', '3d', '2w' -> a wall-clock length."""
    t = str(text).strip().lower()
    if t == "daily":
        return timedelta(days=1)
    if t == "weekly":
        return timedelta(weeks=1)
    m = _SHIFT_RE.match(t)
    if not m:
        raise ValueError(f"shift {text!r} is not daily, weekly or a length like '12h', '3d', '2w'")
    n, unit = int(m.group(1)), m.group(2)[0]
    step = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    if step < timedelta(hours=1) or step > timedelta(weeks=52):
        raise ValueError(f"shift {text!r} must be between 1 hour and 52 weeks")
    return step


def parse_handoff(text: str) -> tuple[int | None, time]:
    """'10:00' -> (None, 10:00); 'Monday 10:00' -> (0, 10:00)."""
    parts = str(text).strip().split()
    if len(parts) == 2:
        day = parts[0].lower()
        if day[:3] not in WEEKDAYS or (len(day) > 3 and day not in FULL_NAMES):
            raise ValueError(f"handoff {text!r}: {parts[0]!r} is not a weekday")
        return WEEKDAYS.index(day[:3]), parse_time(parts[1])
    if len(parts) == 1:
        return None, parse_time(parts[0])
    raise ValueError(f"handoff {text!r} is not like '09:00' or 'Monday 10:00'")


def parse_days(value: str | Sequence[str]) -> frozenset[int]:
    """'weekdays', 'weekends', 'daily', or a list like [mon, tue] / 'mon-fri'."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in DAY_SETS:
            return DAY_SETS[v]
        if "-" in v:
            a, _, b = v.partition("-")
            i, j = _day(a), _day(b)
            return frozenset((i + k) % 7 for k in range((j - i) % 7 + 1))
        return frozenset({_day(v)})
    out: set[int] = set()
    for item in value:
        out |= parse_days(item)
    if not out:
        raise ValueError("days must name at least one day")
    return frozenset(out)


def _day(text: str) -> int:
    t = text.strip().lower()
    if t in FULL_NAMES:
        return FULL_NAMES[t]
    if t in WEEKDAYS:
        return WEEKDAYS.index(t)
    raise ValueError(f"{text!r} is not a day (mon … sun, weekdays, weekends, daily)")


# --- plain data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """On call only from start to end (local time) on the given weekdays. An end at or
    before the start runs past midnight into the next day (00:00-00:00 is the whole day)."""

    days: frozenset[int]
    start: time
    end: time


BUSINESS_HOURS = Window(frozenset(range(5)), time(9), time(17))


@dataclass(frozen=True)
class Layer:
    name: str
    members: tuple[str, ...]
    zone: str = "UTC"
    anchor: datetime = datetime.combine(DEFAULT_START, time(9))  # naive local: first handoff
    step: timedelta = timedelta(weeks=1)
    offset: int = 0  # members shifted by k shifts (a secondary offset from the primary)
    level: int = 1
    windows: tuple[Window, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.zone)


def make_anchor(start: date | None, handoff: str) -> datetime:
    """The first handoff: on the start date, or the first handoff weekday from it."""
    weekday, at = parse_handoff(handoff)
    day = start or DEFAULT_START
    if weekday is not None:
        day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime.combine(day, at)


@dataclass(frozen=True)
class Override:
    start: datetime
    end: datetime
    user: str
    covering: str | None = None  # replace this person wherever they are on call
    level: int | None = None  # without covering: take this level (default primary)
    id: int | None = None


@dataclass(frozen=True)
class Schedule:
    name: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    zone: str = "UTC"


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    user: str
    level: int = 1
    layer: str | None = None
    override: int | None = None  # the override's id (or -1 when it has none)
    covering: str | None = None  # under an override: who it replaces

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass
class Timeline:
    start: datetime
    end: datetime
    layers: dict[str, list[Span]] = field(default_factory=dict)
    final: dict[int, list[Span]] = field(default_factory=dict)
    gaps: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def all_final(self) -> list[Span]:
        return sorted(
            (s for spans in self.final.values() for s in spans), key=lambda s: (s.start, s.level)
        )


# --- local wall-clock time -> UTC -----------------------------------------------------------


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. An ambiguous time (the repeated hour in
    autumn) is its first occurrence; a time that does not exist (the skipped hour in
    spring) is the first instant after the gap. Monotonic: later wall times never map to
    earlier instants, so consecutive handoffs never overlap."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In the gap: fold=1 maps before the transition, fold=0 after it; find the transition.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = first
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return t.astimezone(UTC)


# --- one layer ------------------------------------------------------------------------------


def handoff(layer: Layer, n: int) -> datetime:
    """The instant shift n starts (shift 0 starts at the anchor)."""
    return localize(layer.anchor + n * layer.step, layer.tz)


def member(layer: Layer, n: int) -> str:
    return layer.members[(n + layer.offset) % len(layer.members)]


def shift_index(layer: Layer, t: datetime) -> int | None:
    """The shift containing t, or None before the layer's first shift."""
    t = _utc(t)
    first = handoff(layer, 0)
    if t < first:
        return None
    n = int((t - first) / layer.step)
    while n > 0 and handoff(layer, n) > t:
        n -= 1
    while handoff(layer, n + 1) <= t:
        n += 1
    return n


def rotation_shifts(layer: Layer, start: datetime, end: datetime) -> list[Span]:
    """The layer's shifts clipped to [start, end), before restrictions."""
    start, end = _utc(start), _utc(end)
    out: list[Span] = []
    if not layer.members or start >= end:
        return out
    n = shift_index(layer, start)
    if n is None:
        n = 0
    begin = handoff(layer, n)
    while begin < end:
        finish = handoff(layer, n + 1)
        s, e = max(begin, start), min(finish, end)
        if s < e:
            out.append(Span(s, e, member(layer, n), layer.level, layer.name))
        n += 1
        begin = finish
    return out


def window_spans(
    windows: Iterable[Window], tz: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Instants inside any window, as merged intervals clipped to [start, end)."""
    start, end = _utc(start), _utc(end)
    raw: list[tuple[datetime, datetime]] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    windows = list(windows)
    while day <= last:
        for w in windows:
            if day.weekday() not in w.days:
                continue
            s = localize(datetime.combine(day, w.start), tz)
            end_day = day if w.end > w.start else day + timedelta(days=1)
            e = localize(datetime.combine(end_day, w.end), tz)
            s, e = max(s, start), min(e, end)
            if s < e:
                raw.append((s, e))
        day += timedelta(days=1)
    return merge_intervals(raw)


def merge_intervals(items: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(items):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def layer_spans(layer: Layer, start: datetime, end: datetime) -> list[Span]:
    """Who this layer puts on call in [start, end): non-overlapping, sorted."""
    shifts = rotation_shifts(layer, start, end)
    if not layer.windows:
        return shifts
    allowed = window_spans(layer.windows, layer.tz, start, end)
    out: list[Span] = []
    i = 0
    for sp in shifts:
        while i < len(allowed) and allowed[i][1] <= sp.start:
            i += 1
        j = i
        while j < len(allowed) and allowed[j][0] < sp.end:
            s, e = max(sp.start, allowed[j][0]), min(sp.end, allowed[j][1])
            if s < e:
                out.append(replace(sp, start=s, end=e))
            j += 1
    return out


# --- the final schedule ---------------------------------------------------------------------


def _stack(
    level: int,
    per_layer: list[list[Span]],
    overrides: list[Override],
    start: datetime,
    end: datetime,
) -> tuple[list[Span], list[tuple[datetime, datetime]]]:
    points = {start, end}
    for spans in per_layer:
        for sp in spans:
            points.add(sp.start)
            points.add(sp.end)
    for o in overrides:
        for p in (o.start, o.end):
            if start < p < end:
                points.add(p)
    idx = [0] * len(per_layer)
    final: list[Span] = []
    gaps: list[tuple[datetime, datetime]] = []
    for a, b in pairwise(sorted(points)):
        chosen: Span | None = None
        for i, spans in enumerate(per_layer):
            while idx[i] < len(spans) and spans[idx[i]].end <= a:
                idx[i] += 1
            if idx[i] < len(spans) and spans[idx[i]].start <= a:
                chosen = spans[idx[i]]  # later layers win
        for o in overrides:
            if not (o.start <= a and b <= o.end):
                continue
            oid = o.id if o.id is not None else -1
            if o.covering is None:
                if (o.level or 1) == level:
                    chosen = Span(a, b, o.user, level, None, oid, chosen.user if chosen else None)
            elif chosen is not None and chosen.user == o.covering and o.level in (None, level):
                chosen = Span(a, b, o.user, level, chosen.layer, oid, o.covering)
        if chosen is None:
            if gaps and gaps[-1][1] == a:
                gaps[-1] = (gaps[-1][0], b)
            else:
                gaps.append((a, b))
            continue
        piece = replace(chosen, start=a, end=b)
        prev = final[-1] if final else None
        if (
            prev is not None
            and prev.end == a
            and (prev.user, prev.layer, prev.override, prev.covering)
            == (piece.user, piece.layer, piece.override, piece.covering)
        ):
            final[-1] = replace(prev, end=b)
        else:
            final.append(piece)
    return final, gaps


def shifts_between(schedule: Schedule, start: datetime, end: datetime) -> Timeline:
    """Every layer's spans, and per level the final view with its gaps, over [start, end)."""
    start, end = _utc(start), _utc(end)
    tl = Timeline(start, end)
    if start >= end:
        return tl
    levels = sorted({layer.level for layer in schedule.layers} | {1})
    overrides = [
        replace(o, start=_utc(o.start), end=_utc(o.end))
        for o in schedule.overrides
        if _utc(o.end) > start and _utc(o.start) < end
    ]
    for o in overrides:
        if o.covering is None and o.level is not None and o.level not in levels:
            levels.append(o.level)
    for layer in schedule.layers:
        tl.layers[layer.name] = layer_spans(layer, start, end)
    for level in sorted(levels):
        per_layer = [tl.layers[x.name] for x in schedule.layers if x.level == level]
        tl.final[level], tl.gaps[level] = _stack(level, per_layer, overrides, start, end)
    return tl


def on_call_at(
    schedule: Schedule, t: datetime, level: int | None = None, context: timedelta | None = None
) -> list[Span]:
    """Who is on call at t: one span per level that has someone, sorted by level.
    With context, each span shows its real extent (as far as context reaches either
    side); without, it is one second long. Escalation asks this."""
    t = _utc(t)
    around = context or timedelta(0)
    tl = shifts_between(schedule, t - around, t + max(around, timedelta(seconds=1)))
    out: list[Span] = []
    for lv, spans in sorted(tl.final.items()):
        if level is not None and lv != level:
            continue
        out.extend(sp for sp in spans if sp.start <= t < sp.end)
    return out


# --- health: gaps and small rotations -------------------------------------------------------


@dataclass(frozen=True)
class Warning_:
    kind: str  # gap | burnout
    schedule: str
    message: str
    layer: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def health(
    schedule: Schedule, start: datetime, end: datetime, tl: Timeline | None = None
) -> list[Warning_]:
    """Gaps (nobody on call at a level) and rotations with fewer than 5 people."""
    out: list[Warning_] = []
    for layer in schedule.layers:
        people = len(set(layer.members))
        if people < BURNOUT_MIN:
            out.append(
                Warning_(
                    "burnout",
                    schedule.name,
                    f"schedule {schedule.name!r} layer {layer.name!r} rotates {people} "
                    f"{'person' if people == 1 else 'people'}; fewer than {BURNOUT_MIN} "
                    "burns people out",
                    layer=layer.name,
                )
            )
    tl = tl or shifts_between(schedule, start, end)
    levels_with_layers = {x.level for x in schedule.layers}
    for level, gaps in sorted(tl.gaps.items()):
        if level not in levels_with_layers or not gaps:
            continue
        hours = sum((e - s).total_seconds() for s, e in gaps) / 3600
        s, e = gaps[0]
        out.append(
            Warning_(
                "gap",
                schedule.name,
                f"schedule {schedule.name!r} has nobody on call ({level_name(level)}) for "
                f"{hours:g} h between {start:%Y-%m-%d} and {end:%Y-%m-%d} in {len(gaps)} "
                f"gap(s), the first {s:%Y-%m-%d %H:%M}–{e:%Y-%m-%d %H:%M} UTC",
                start=s,
                end=e,
            )
        )
    return out


# --- compensation -------------------------------------------------------------------------

CATEGORIES = ("weekday", "off_hours", "weekend")


def split_hours(
    start: datetime, end: datetime, tz: ZoneInfo, business: tuple[time, time] = (time(9), time(17))
) -> dict[str, float]:
    """Hours of [start, end) in the person's zone: weekday business hours, weekday
    off-hours, and weekend (Saturday and Sunday, all day)."""
    start, end = _utc(start), _utc(end)
    out = dict.fromkeys(CATEGORIES, 0.0)
    if start >= end:
        return out
    cuts = {start, end}
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for at in (time(0), business[0], business[1]):
            p = localize(datetime.combine(day, at), tz)
            if start < p < end:
                cuts.add(p)
        day += timedelta(days=1)
    for a, b in pairwise(sorted(cuts)):
        local = a.astimezone(tz)
        if local.weekday() >= 5:
            kind = "weekend"
        elif business[0] <= local.time().replace(tzinfo=None) < business[1]:
            kind = "weekday"
        else:
            kind = "off_hours"
        out[kind] += (b - a).total_seconds() / 3600
    return out


def period_start(t: datetime, period: str) -> datetime:
    t = _utc(t)
    if period == "month":
        return datetime(t.year, t.month, 1, tzinfo=UTC)
    if period == "week":
        d = t.date() - timedelta(days=t.weekday())
        return datetime.combine(d, time(0), tzinfo=UTC)
    raise ValueError("period must be week or month")


def next_period(t: datetime, period: str) -> datetime:
    if period == "month":
        return datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return t + timedelta(weeks=1)


def split_by_period(span: Span, period: str) -> list[tuple[datetime, Span]]:
    out = []
    p = period_start(span.start, period)
    while p < span.end:
        q = next_period(p, period)
        s, e = max(p, span.start), min(q, span.end)
        if s < e:
            out.append((p, replace(span, start=s, end=e)))
        p = q
    return out
