"""Service level objectives as arithmetic (pure: no store, no clock, no engine).

An SLO promises that a service is good for `objective` percent of a window; the rest of
the window is its error budget (seed 000): 99.99% over 4 weeks is 4.03 minutes, 99.9%
over a 30-day month is 43.2 minutes.

Invariants:
- A window is either rolling (the last N days/weeks/hours up to now) or calendar (the
  week, month or quarter that holds now, in UTC; weeks start on Monday). A calendar
  window's budget is its whole length, so the budget is known on its first day.
- Bad time from incidents is counted once: where incidents overlap, each instant counts
  once, at the largest affected share among the incidents open at that instant (so two
  overlapping incidents at 100% spend the overlap once; 50% under 100% spends 100%).
- An interval is bad from its start to its end, clipped to the window and to now; an
  interval that ends where it starts spends nothing.
- The burn rate over a span is the share of that span that was bad, divided by the
  share the objective allows (1 - objective): 1.0 spends the budget exactly by the end
  of the window; 14.4 over an hour spends 2% of a 30-day budget.
- The gate freezes a service when any of its SLOs has spent more than its whole budget
  (consumed strictly above 100%), unless an exception is in force (its expiry strictly
  after now and not revoked). Above `warn_percent` (80%) it still says go, with a warning.
"""

from __future__ import annotations

import bisect
import calendar as _calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from warroom.core.errors import ValidationFailed

SOURCES = ("incidents", "prometheus")
BUDGETING = ("occurrences", "timeslices")
CALENDAR_UNITS = ("week", "month", "quarter")
THRESHOLD_OPS = ("<", "<=", ">", ">=")

# The burn-rate spans shown for every SLO, shortest first.
BURN_SPANS: tuple[tuple[str, timedelta], ...] = (
    ("5m", timedelta(minutes=5)),
    ("30m", timedelta(minutes=30)),
    ("1h", timedelta(hours=1)),
    ("2h", timedelta(hours=2)),
    ("6h", timedelta(hours=6)),
    ("1d", timedelta(days=1)),
    ("3d", timedelta(days=3)),
)


@dataclass(frozen=True)
class BurnAlert:
    """One multiwindow, multi-burn-rate condition: both spans must burn above `factor`."""

    severity: str  # "page" | "ticket"
    long: str
    short: str
    factor: float


# The SRE workbook's multiwindow, multi-burn-rate alerts (for a 30-day window: 2% of the
# budget in an hour, 5% in six hours pages; 10% in a day, 10% in three days opens a ticket).
BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("page", "1h", "5m", 14.4),
    BurnAlert("page", "6h", "30m", 6.0),
    BurnAlert("ticket", "1d", "2h", 3.0),
    BurnAlert("ticket", "3d", "6h", 1.0),
)

WARN_PERCENT = 80.0
FREEZE_PERCENT = 100.0

_ROLLING = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True)
class Window:
    """A rolling span (`rolling` set) or a calendar period (`calendar` set)."""

    rolling: timedelta | None = None
    calendar: str | None = None

    @property
    def text(self) -> str:
        """The window as config writes it: `30d`, `4w`, `36h`, or `calendar month`."""
        if self.calendar:
            return f"calendar {self.calendar}"
        assert self.rolling is not None
        secs = int(self.rolling.total_seconds())
        if secs % 86400 == 0:
            return f"{secs // 86400}d"
        return f"{secs // 3600}h"

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The window holding `now`: (start, end). Rolling: (now - length, now); calendar:
        the period's first instant and the next period's first instant."""
        if self.rolling is not None:
            return now - self.rolling, now
        return calendar_bounds(self.calendar or "month", now)

    def minutes(self, now: datetime) -> float:
        """The window's whole length in minutes (a calendar period's full length)."""
        start, end = self.bounds(now)
        return (end - start).total_seconds() / 60.0


def parse_window(window: str | None = None, calendar: str | None = None) -> Window:
    """`window: 30d` (rolling; h, d or w) or `calendar: month` (week, month, quarter); one
    of the two. Raises ValidationFailed naming `window` or `calendar`."""
    if calendar is not None and window is not None:
        raise ValidationFailed("give either a rolling window or a calendar period", field="window")
    if calendar is not None:
        unit = calendar.strip().lower()
        if unit not in CALENDAR_UNITS:
            raise ValidationFailed(
                f"calendar must be one of {', '.join(CALENDAR_UNITS)}, not {calendar!r}",
                field="calendar",
            )
        return Window(calendar=unit)
    if window is None:
        return Window(rolling=timedelta(days=30))
    text = window.strip().lower()
    if text.startswith("calendar "):
        return parse_window(calendar=text.removeprefix("calendar ").strip())
    m = _ROLLING.match(text)
    if not m or int(m.group(1)) == 0:
        raise ValidationFailed(
            f"window must look like 30d, 4w or 36h (or calendar: month), not {window!r}",
            field="window",
        )
    length = int(m.group(1)) * _UNIT[m.group(2)]
    if length < timedelta(hours=1) or length > timedelta(days=400):
        raise ValidationFailed("window must be between 1h and 400d", field="window")
    return Window(rolling=length)


def calendar_bounds(unit: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar week (Monday first), month or quarter holding `now`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if unit == "month":
        start = day.replace(day=1)
        return start, _add_months(start, 1)
    if unit == "quarter":
        start = day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
        return start, _add_months(start, 3)
    raise ValueError(f"unknown calendar unit {unit!r}")


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, _calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class SloSpec:
    """One SLO as declared in config as code (and in OpenSLO).

    `objective` is a percent (0 < objective < 100). For `source: prometheus` a ratio SLI
    gives `total` and one of `good` / `bad` (PromQL counter selectors, rated by warroom);
    a threshold SLI gives `threshold_query`, `threshold_op` and `threshold_value` (a
    gauge-like query that is good while `query op value` holds) and budgets by timeslices.
    """

    name: str
    service: str
    objective: float
    window: Window = field(default_factory=lambda: Window(rolling=timedelta(days=30)))
    source: str = "incidents"
    budgeting: str = "occurrences"
    description: str = ""
    good: str | None = None
    bad: str | None = None
    total: str | None = None
    threshold_query: str | None = None
    threshold_op: str | None = None
    threshold_value: float | None = None

    @property
    def allowed_ratio(self) -> float:
        """The share of the window that may be bad: 1 - objective."""
        return allowed_share(self.objective)


def allowed_share(objective: float) -> float:
    """1 - objective as a fraction, computed in decimal: 99.9 gives 0.001, not the
    0.000999999999999943 binary floating point makes of 100 - 99.9."""
    return float((Decimal(100) - Decimal(str(objective))) / Decimal(100))


def budget_minutes(objective: float, window_minutes: float) -> float:
    """The error budget in minutes: the window's minutes times (100 - objective)%."""
    return float(Decimal(str(window_minutes)) * Decimal(str(allowed_share(objective))))


def _above(value: float, limit: float) -> bool:
    """Strictly above, ignoring the last few bits of floating point (a spend of exactly the
    budget, or a burn of exactly the factor, is not above it)."""
    return round(value, 9) > limit


@dataclass(frozen=True)
class Interval:
    """Bad time: from `start` to `end` (None: still going) at `weight` (0 < w <= 1)."""

    start: datetime
    end: datetime | None
    weight: float = 1.0
    ref: int | None = None  # the incident's id, when it is one


class BadTime:
    """The bad time of a set of intervals up to `now`, as disjoint segments each at the
    largest weight open in it, with running totals: `minutes(start, end)` is then two
    binary searches, so a thousand SLOs on one service share one sweep."""

    def __init__(self, intervals: Iterable[Interval], now: datetime) -> None:
        edges: list[tuple[float, int, float]] = []
        stop = now.timestamp()
        for iv in intervals:
            a = iv.start.timestamp()
            b = min(iv.end.timestamp() if iv.end is not None else stop, stop)
            if b <= a or iv.weight <= 0:
                continue
            edges.append((a, 1, iv.weight))
            edges.append((b, -1, iv.weight))
        edges.sort(key=lambda e: (e[0], e[1]))
        self.now = stop
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.weights: list[float] = []
        self.before: list[float] = []  # weighted seconds of the segments before each
        open_weights: dict[float, int] = {}
        last = edges[0][0] if edges else 0.0
        total = 0.0
        for at, kind, weight in edges:
            if open_weights and at > last:
                w = max(open_weights)
                if self.ends and self.ends[-1] == last and self.weights[-1] == w:
                    self.ends[-1] = at  # the same weight goes on: one segment
                else:
                    self.starts.append(last)
                    self.ends.append(at)
                    self.weights.append(w)
                    self.before.append(total)
                total += (at - last) * w
            last = at
            if kind == 1:
                open_weights[weight] = open_weights.get(weight, 0) + 1
            else:
                open_weights[weight] -= 1
                if not open_weights[weight]:
                    del open_weights[weight]

    def _upto(self, t: float) -> float:
        """Weighted bad seconds before the instant t."""
        k = bisect.bisect_right(self.starts, t) - 1
        if k < 0:
            return 0.0
        inside = min(t, self.ends[k]) - self.starts[k]
        return self.before[k] + max(0.0, inside) * self.weights[k]

    def minutes(self, start: datetime, end: datetime) -> float:
        """Weighted bad minutes in [start, min(end, now)]."""
        a, b = start.timestamp(), min(end.timestamp(), self.now)
        if b <= a:
            return 0.0
        return (self._upto(b) - self._upto(a)) / 60.0


def bad_minutes(
    intervals: Iterable[Interval], start: datetime, end: datetime, now: datetime
) -> float:
    """Weighted bad minutes in [start, min(end, now)], each instant counted once at the
    largest weight open at that instant."""
    return BadTime(intervals, now).minutes(start, end)


def interval_minutes(iv: Interval, now: datetime) -> float:
    """One interval's own weighted minutes, up to now (what one incident spent)."""
    end = iv.end if iv.end is not None else now
    if end <= iv.start:
        return 0.0
    return (end - iv.start).total_seconds() / 60.0 * iv.weight


def burn_rate(bad: float, span_minutes: float, allowed_ratio: float) -> float:
    """Bad share of the span over the allowed share; 0 for an empty span."""
    if span_minutes <= 0 or allowed_ratio <= 0:
        return 0.0
    return (bad / span_minutes) / allowed_ratio


@dataclass(frozen=True)
class Status:
    """Where one SLO stands at `now`."""

    name: str
    service: str
    objective: float
    window: str
    window_start: datetime
    window_end: datetime
    budget_minutes: float
    consumed_minutes: float
    burn_rates: dict[str, float]

    @property
    def consumed_percent(self) -> float:
        if self.budget_minutes <= 0:
            return 0.0
        return self.consumed_minutes / self.budget_minutes * 100.0

    @property
    def remaining_minutes(self) -> float:
        return self.budget_minutes - self.consumed_minutes

    @property
    def remaining_percent(self) -> float:
        return 100.0 - self.consumed_percent

    @property
    def exhausted(self) -> bool:
        return _above(self.consumed_percent, FREEZE_PERCENT)

    def alerting(self) -> str | None:
        """'page' or 'ticket' when a multiwindow burn condition holds (page first)."""
        for cond in BURN_ALERTS:
            if _above(self.burn_rates.get(cond.long, 0.0), cond.factor) and _above(
                self.burn_rates.get(cond.short, 0.0), cond.factor
            ):
                return cond.severity
        return None


def status_from_intervals(
    spec: SloSpec, intervals: Sequence[Interval] | BadTime, now: datetime
) -> Status:
    """The SLO's budget, spend and burn rates at `now` from bad-time intervals (or their
    BadTime, built once for every SLO of a service)."""
    bad = intervals if isinstance(intervals, BadTime) else BadTime(intervals, now)
    start, end = spec.window.bounds(now)
    budget = budget_minutes(spec.objective, (end - start).total_seconds() / 60.0)
    consumed = bad.minutes(start, end)
    rates = {
        label: burn_rate(
            bad.minutes(now - span, now),
            span.total_seconds() / 60.0,
            spec.allowed_ratio,
        )
        for label, span in BURN_SPANS
    }
    return Status(
        name=spec.name,
        service=spec.service,
        objective=spec.objective,
        window=spec.window.text,
        window_start=start,
        window_end=end,
        budget_minutes=budget,
        consumed_minutes=consumed,
        burn_rates=rates,
    )


def status_from_ratios(
    spec: SloSpec, window_bad_ratio: float, span_bad_ratios: dict[str, float], now: datetime
) -> Status:
    """The SLO's status from measured bad ratios (Prometheus): over the window so far and
    over each burn span. Consumed minutes are the bad ratio times the minutes elapsed."""
    start, end = spec.window.bounds(now)
    budget = budget_minutes(spec.objective, (end - start).total_seconds() / 60.0)
    elapsed = (min(end, now) - start).total_seconds() / 60.0
    rates = {
        label: (span_bad_ratios[label] / spec.allowed_ratio if spec.allowed_ratio > 0 else 0.0)
        for label, _ in BURN_SPANS
        if label in span_bad_ratios
    }
    return Status(
        name=spec.name,
        service=spec.service,
        objective=spec.objective,
        window=spec.window.text,
        window_start=start,
        window_end=end,
        budget_minutes=budget,
        consumed_minutes=max(0.0, window_bad_ratio) * elapsed,
        burn_rates=rates,
    )


def burndown(
    spec: SloSpec, intervals: Sequence[Interval], now: datetime, points: int = 60
) -> list[tuple[datetime, float]]:
    """Remaining budget (percent) at `points` + 1 evenly spaced instants from the window's
    start up to now (or its end), for the burn-down chart."""
    start, end = spec.window.bounds(now)
    stop = min(end, now)
    budget = budget_minutes(spec.objective, (end - start).total_seconds() / 60.0)
    out: list[tuple[datetime, float]] = []
    step = (stop - start) / points if points > 0 else timedelta(0)
    bad = BadTime(intervals, now)
    for i in range(points + 1):
        at = start + step * i
        spent = bad.minutes(start, at)
        out.append((at, 100.0 - (spent / budget * 100.0 if budget > 0 else 0.0)))
    return out


@dataclass(frozen=True)
class Grant:
    """An exception to a freeze: who granted it, why, until when."""

    id: int
    granted_by: str
    reason: str
    kind: str
    expires_at: datetime
    revoked: bool = False

    def in_force(self, now: datetime) -> bool:
        return not self.revoked and self.expires_at > now


@dataclass(frozen=True)
class Gate:
    """The release decision for a service."""

    service: str
    go: bool
    state: str  # "go" | "warn" | "freeze" | "exception" | "no-slo"
    reasons: list[str]
    exception: Grant | None = None


def gate(service: str, statuses: Sequence[Status], grants: Sequence[Grant], now: datetime) -> Gate:
    """Freeze when an SLO of the service spent more than its budget, unless a grant is in
    force; warn above WARN_PERCENT; go otherwise. Reasons carry the numbers."""
    if not statuses:
        return Gate(service, True, "no-slo", [f"{service} has no SLO: nothing to gate on"])
    spent = [s for s in statuses if s.exhausted]
    warned = [s for s in statuses if not s.exhausted and _above(s.consumed_percent, WARN_PERCENT)]
    if spent:
        reasons = [
            f"{s.name}: {s.consumed_minutes:.2f} of {s.budget_minutes:.2f} budget minutes spent "
            f"({s.consumed_percent:.1f}%) over {s.window}: error budget exhausted"
            for s in spent
        ]
        live = sorted((g for g in grants if g.in_force(now)), key=lambda g: g.expires_at)
        if live:
            g = live[-1]
            reasons.append(
                f"exception #{g.id} ({g.kind}) granted by {g.granted_by} until "
                f"{g.expires_at:%Y-%m-%d %H:%M}Z: {g.reason}"
            )
            return Gate(service, True, "exception", reasons, g)
        reasons.append("release freeze: only P0 and security fixes, with an exception")
        return Gate(service, False, "freeze", reasons)
    if warned:
        reasons = [
            f"{s.name}: {s.consumed_percent:.1f}% of the budget spent "
            f"({s.remaining_minutes:.2f} minutes remain): approaching the limit"
            for s in warned
        ]
        return Gate(service, True, "warn", reasons)
    reasons = [
        f"{s.name}: {s.remaining_minutes:.2f} of {s.budget_minutes:.2f} minutes remain "
        f"({s.remaining_percent:.1f}%)"
        for s in statuses
    ]
    return Gate(service, True, "go", reasons)


def spend_summary(minutes: float, budget: float, window: Window) -> str:
    """'1.2 minutes, 30% of the monthly budget' (the postmortem's and the room's words)."""
    pct = minutes / budget * 100.0 if budget > 0 else 0.0
    if window.calendar:
        label = {"week": "weekly", "month": "monthly", "quarter": "quarterly"}[window.calendar]
    else:
        label = window.text
    return f"{minutes:.1f} minutes, {pct:.0f}% of the {label} budget"
