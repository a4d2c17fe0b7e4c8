"""Status page rules as pure functions: statuses, impact, the page indicator, uptime."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from warroom.core.clock import ensure_utc

COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
COMPONENT_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
UNRESOLVED = ("investigating", "identified", "monitoring")
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
MAINTENANCE_ACTIVE = ("in_progress", "verifying")
IMPACTS = ("none", "minor", "major", "critical")
IMPACT_RANK = {name: i for i, name in enumerate(IMPACTS)}
# What a component status means for the page indicator and an incident's impact.
STATUS_IMPACT = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
SEVERITY_ORDER = {s: i for i, s in enumerate(COMPONENT_STATUSES[:4])} | {"under_maintenance": 0}
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}
# Share of a day in each status counted as downtime (Statuspage's own weighting:
# a major outage counts fully, a partial outage 30%, degraded performance not at all).
DOWNTIME_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}
UPTIME_DAYS = 90
_CODE_CHARS = string.ascii_lowercase + string.digits


def new_code() -> str:
    return "".join(secrets.choice(_CODE_CHARS) for _ in range(12))


def worst_impact(impacts: list[str]) -> str:
    return max(impacts, key=lambda i: IMPACT_RANK[i], default="none")


def impact_of(statuses: list[str]) -> str:
    """An incident's impact from the statuses it gives its components."""
    return worst_impact([STATUS_IMPACT[s] for s in statuses])


def page_indicator(
    component_statuses: list[str], incident_impacts: list[str], maintenance_active: bool
) -> str:
    """none/minor/major/critical from components and unresolved incidents; `maintenance`
    when nothing is broken but maintenance is under way."""
    worst = worst_impact([STATUS_IMPACT[s] for s in component_statuses] + list(incident_impacts))
    if worst == "none" and (maintenance_active or "under_maintenance" in component_statuses):
        return "maintenance"
    return worst


@dataclass(frozen=True)
class Day:
    day: date
    seconds: dict[str, float]  # status -> seconds spent in it that day (known time only)

    @property
    def known(self) -> bool:
        return sum(self.seconds.values()) > 0

    @property
    def worst(self) -> str:
        bad = [s for s, secs in self.seconds.items() if secs > 0]
        if not bad:
            return "none"
        return max(bad, key=lambda s: SEVERITY_ORDER[s])

    @property
    def downtime(self) -> float:
        return sum(self.seconds.get(s, 0.0) * w for s, w in DOWNTIME_WEIGHT.items())

    @property
    def uptime(self) -> float | None:
        total = sum(self.seconds.values())
        return None if total <= 0 else 1.0 - self.downtime / total


def uptime_days(
    changes: list[tuple[datetime, str]], now: datetime, days: int = UPTIME_DAYS
) -> list[Day]:
    """Per UTC day, oldest first, the time spent in each status, from a component's
    recorded history (ordered `(at, new_status)` pairs). Time before the first recorded
    change is unknown and counts for nothing."""
    now = ensure_utc(now)
    first_day = now.date() - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=now.tzinfo)
    spans: list[tuple[datetime, datetime, str]] = []
    ordered = sorted((ensure_utc(at), s) for at, s in changes)
    for i, (at, status) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else now
        if end > start and at < now:
            spans.append((max(at, start), min(end, now), status))
    out = []
    for n in range(days):
        d0 = start + timedelta(days=n)
        d1 = d0 + timedelta(days=1)
        secs: dict[str, float] = {}
        for a, b, status in spans:
            overlap = (min(b, d1) - max(a, d0)).total_seconds()
            if overlap > 0:
                secs[status] = secs.get(status, 0.0) + overlap
        out.append(Day(d0.date(), secs))
    return out


def uptime_share(days: list[Day]) -> float | None:
    total = sum(sum(d.seconds.values()) for d in days)
    if total <= 0:
        return None
    return 1.0 - sum(d.downtime for d in days) / total
