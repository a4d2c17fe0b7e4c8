"""On-call health, as plain functions over plain data: shifts worked, pages per shift,
off-hours pages in each person's own time zone, and the share of pages nobody could act
on, per person and per rotation, with flags where on call is hurting people.

The seeds' rules: track pages per on-call shift, off-hours pages and the false-alarm
rate; if more than 20% of pages are non-actionable the alerting needs work; someone
woken five times (in four weeks) is paged too much off-hours.

A page is one escalation reaching one person, however many messages (methods, repeats)
it took. It belongs to the rotation the person was on call for when it came (the lowest
level first); a page that came while they were on call for none belongs to no rotation
but still counts for the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from warroom.core.clock import ensure_utc, iso
from warroom.oncall import rules

DEFAULT_PERIOD = timedelta(days=28)
NON_ACTIONABLE_LIMIT = 0.20  # above this share of non-actionable pages, alerting needs work
OFF_HOURS_PAGES = 5  # off-hours pages (per 28 days, at least) that flag a person
BUSINESS = (time(9), time(17))

Hours = tuple[time, time]


@dataclass(frozen=True)
class Shift:
    schedule: str
    user: str
    level: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Page:
    user: str
    escalation: int
    at: datetime
    non_actionable: bool = False


def is_off_hours(at: datetime, zone: str, business: Hours = BUSINESS) -> bool:
    """Outside business hours on a weekday, or any time on Saturday and Sunday, in the
    given IANA zone."""
    local = ensure_utc(at).astimezone(rules.zone(zone))
    if local.weekday() >= 5:
        return True
    t = local.time().replace(tzinfo=None)
    return not business[0] <= t < business[1]


def dedupe(pages: Iterable[Page]) -> list[Page]:
    """One page per person and escalation: the earliest."""
    first: dict[tuple[str, int], Page] = {}
    for p in pages:
        key = (p.user, p.escalation)
        if key not in first or p.at < first[key].at:
            first[key] = p
    return sorted(first.values(), key=lambda p: (p.at, p.user, p.escalation))


def attribute(page: Page, shifts: Sequence[Shift]) -> Shift | None:
    """The shift the page came in: the person's, containing its time, lowest level first
    (then schedule name)."""
    holding = [s for s in shifts if s.user == page.user and s.start <= page.at < s.end]
    return min(holding, key=lambda s: (s.level, s.schedule)) if holding else None


@dataclass
class Stats:
    shifts: int = 0
    hours: float = 0.0
    pages: int = 0
    off_hours: int = 0
    non_actionable: int = 0

    @property
    def pages_per_shift(self) -> float | None:
        return self.pages / self.shifts if self.shifts else None

    @property
    def off_hours_share(self) -> float:
        return self.off_hours / self.pages if self.pages else 0.0

    @property
    def non_actionable_share(self) -> float:
        return self.non_actionable / self.pages if self.pages else 0.0

    def to_dict(self) -> dict[str, Any]:
        pps = self.pages_per_shift
        return {
            "shifts": self.shifts,
            "hours": round(self.hours, 2),
            "pages": self.pages,
            "pages_per_shift": None if pps is None else round(pps, 2),
            "off_hours_pages": self.off_hours,
            "off_hours_share": round(self.off_hours_share, 3),
            "non_actionable_pages": self.non_actionable,
            "non_actionable_share": round(self.non_actionable_share, 3),
        }


@dataclass(frozen=True)
class Flag:
    kind: str  # non_actionable | off_hours
    subject: str  # person | rotation
    name: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "name": self.name,
            "message": self.message,
        }


@dataclass
class PersonHealth:
    user: str
    timezone: str
    stats: Stats = field(default_factory=Stats)
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "timezone": self.timezone,
            **self.stats.to_dict(),
            "flags": [f.kind for f in self.flags],
        }


@dataclass
class RotationHealth:
    schedule: str
    people: set[str] = field(default_factory=set)
    stats: Stats = field(default_factory=Stats)
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "people": sorted(self.people),
            **self.stats.to_dict(),
            "flags": [f.kind for f in self.flags],
        }


@dataclass
class Report:
    start: datetime
    end: datetime
    people: list[PersonHealth]
    rotations: list[RotationHealth]
    off_hours_limit: int

    @property
    def flags(self) -> list[Flag]:
        return [f for r in self.rotations for f in r.flags] + [
            f for p in self.people for f in p.flags
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "thresholds": {
                "non_actionable_share": NON_ACTIONABLE_LIMIT,
                "off_hours_pages": self.off_hours_limit,
            },
            "people": [p.to_dict() for p in self.people],
            "rotations": [r.to_dict() for r in self.rotations],
            "flags": [f.to_dict() for f in self.flags],
        }


def off_hours_limit(start: datetime, end: datetime) -> int:
    """Off-hours pages that flag a person over the period: 5 (five nights woken within
    four weeks or less is too many), and for a longer period 5 per 28 days, pro rata."""
    days = (end - start).total_seconds() / 86400
    return max(OFF_HOURS_PAGES, round(OFF_HOURS_PAGES * days / 28))


def _overlap(s: Shift, start: datetime, end: datetime) -> float:
    a, b = max(s.start, start), min(s.end, end)
    return max(0.0, (b - a).total_seconds() / 3600)


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


def assess(
    *,
    start: datetime,
    end: datetime,
    shifts: Iterable[Shift],
    pages: Iterable[Page],
    zones: dict[str, str],
    business: dict[str, Hours] | None = None,
    schedules: Sequence[str] = (),
    only_schedule: str | None = None,
) -> Report:
    """Health over [start, end). `shifts` are duties (a person's stint at a level);
    those overlapping the period count, their hours clipped to it. `zones` maps people
    to their IANA zone (UTC if missing); `business` a schedule to its business hours
    (09:00-17:00 if missing; a page that belongs to no rotation uses the default).
    With `only_schedule`, people are measured on that rotation alone: its shifts and the
    pages that came during them."""
    business = business or {}
    worked = [s for s in shifts if s.start < end and s.end > start]
    paged = [p for p in dedupe(pages) if start <= p.at < end]
    owner = {(p.user, p.escalation): attribute(p, worked) for p in paged}
    if only_schedule is not None:
        worked = [s for s in worked if s.schedule == only_schedule]
        paged = [
            p
            for p in paged
            if (sh := owner[(p.user, p.escalation)]) is not None and sh.schedule == only_schedule
        ]
        schedules = [only_schedule]

    people: dict[str, PersonHealth] = {}
    rotations: dict[str, RotationHealth] = {name: RotationHealth(name) for name in schedules}

    def person(name: str) -> PersonHealth:
        if name not in people:
            people[name] = PersonHealth(name, zones.get(name, "UTC"))
        return people[name]

    for s in worked:
        hours = _overlap(s, start, end)
        for st in (
            person(s.user).stats,
            rotations.setdefault(s.schedule, RotationHealth(s.schedule)).stats,
        ):
            st.shifts += 1
            st.hours += hours
        rotations[s.schedule].people.add(s.user)
    off_by_rotation: dict[tuple[str, str], int] = {}
    for p in paged:
        sh = owner[(p.user, p.escalation)]
        hours_of = business.get(sh.schedule, BUSINESS) if sh else BUSINESS
        off = is_off_hours(p.at, zones.get(p.user, "UTC"), hours_of)
        targets = [person(p.user).stats]
        if sh is not None:
            targets.append(rotations.setdefault(sh.schedule, RotationHealth(sh.schedule)).stats)
            key = (sh.schedule, p.user)
            off_by_rotation[key] = off_by_rotation.get(key, 0) + int(off)
        for st in targets:
            st.pages += 1
            st.off_hours += int(off)
            st.non_actionable += int(p.non_actionable)

    limit = off_hours_limit(start, end)
    for ph in people.values():
        st = ph.stats
        if st.non_actionable_share > NON_ACTIONABLE_LIMIT:
            ph.flags.append(
                Flag(
                    "non_actionable",
                    "person",
                    ph.user,
                    f"{ph.user}: {st.non_actionable} of {st.pages} pages "
                    f"({_pct(st.non_actionable_share)}) were non-actionable; above "
                    f"{_pct(NON_ACTIONABLE_LIMIT)} the alerting needs work",
                )
            )
        if st.off_hours >= limit:
            ph.flags.append(
                Flag(
                    "off_hours",
                    "person",
                    ph.user,
                    f"{ph.user} was paged {st.off_hours} time{'s' if st.off_hours != 1 else ''}"
                    f" off-hours (nights and weekends in {ph.timezone}); {limit} or more "
                    "in this period is too many",
                )
            )
    for rh in rotations.values():
        st = rh.stats
        if st.non_actionable_share > NON_ACTIONABLE_LIMIT:
            rh.flags.append(
                Flag(
                    "non_actionable",
                    "rotation",
                    rh.schedule,
                    f"rotation {rh.schedule}: {st.non_actionable} of {st.pages} pages "
                    f"({_pct(st.non_actionable_share)}) were non-actionable; above "
                    f"{_pct(NON_ACTIONABLE_LIMIT)} the alerting needs work",
                )
            )
        hurt = sorted(
            f"{user} ({n})"
            for (name, user), n in off_by_rotation.items()
            if name == rh.schedule and n >= limit
        )
        if hurt:
            rh.flags.append(
                Flag(
                    "off_hours",
                    "rotation",
                    rh.schedule,
                    f"rotation {rh.schedule}: paged {limit} or more times off-hours on this "
                    f"rotation: {', '.join(hurt)}",
                )
            )
    return Report(
        start,
        end,
        sorted(people.values(), key=lambda p: p.user),
        sorted(rotations.values(), key=lambda r: r.schedule),
        limit,
    )
