"""Incident metrics as pure functions: what each MTTx measures, its statistics, its target.

Invariants:
- Every duration runs between two recorded milestones of one incident (see `METRICS`):
  MTTD = detected - started, MTTA = acknowledged - detected, MTTM = mitigated - detected,
  MTTR = resolved - detected. An incident lacking either milestone, or whose end
  milestone precedes its start milestone (a data-entry error), is left out of that metric
  only; it still counts as an incident.
- Durations are minutes (float). Statistics of an empty set are n = 0 and None elsewhere;
  never 0, which would read as "instant".
- The median of an even count is the mean of the two middle values; p90 interpolates
  linearly between closest ranks (see `quantile`), as PostgreSQL's `percentile_cont` and
  NumPy's default do, so both stores and a spreadsheet agree.
- A target is met when the mean is strictly below it (the seeds say "MTTD < 5 minutes");
  no target, or no data, means `met` is None, not True.
- Drills never reach these functions: callers filter them out (see queries.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# metric -> (start milestone, end milestone)
METRICS: dict[str, tuple[str, str]] = {
    "mttd": ("started", "detected"),
    "mtta": ("detected", "acknowledged"),
    "mttm": ("detected", "mitigated"),
    "mttr": ("detected", "resolved"),
}
METRIC_LABELS: dict[str, str] = {
    "mttd": "Mean time to detect",
    "mtta": "Mean time to acknowledge",
    "mttm": "Mean time to mitigate",
    "mttr": "Mean time to resolve",
}
# The playbook's phases (seed 003, "Phase Durations by Severity"): phase -> (from, to).
# Triage ends when the incident is declared with its severity; mitigation starts at the
# `mitigation_started` milestone; customers are informed at `customers_informed` (the first
# external update or status page post). Customers told before mitigation started count as
# 0 minutes for the third phase: they were not kept waiting.
PHASES: dict[str, tuple[str, str]] = {
    "triage": ("detected", "declared"),
    "mitigation_start": ("declared", "mitigation_started"),
    "customer_comms": ("mitigation_started", "customers_informed"),
}
PHASE_LABELS: dict[str, str] = {
    "triage": "Detect to triage",
    "mitigation_start": "Triage to mitigation started",
    "customer_comms": "Mitigation to customer comms",
}
# Seed 003's targets in minutes; SEV-4's customer comms are "best effort" (no target).
PHASE_TARGETS: dict[str, dict[str, float]] = {
    "SEV-1": {"triage": 5, "mitigation_start": 15, "customer_comms": 5},
    "SEV-2": {"triage": 15, "mitigation_start": 30, "customer_comms": 15},
    "SEV-3": {"triage": 30, "mitigation_start": 60, "customer_comms": 60},
    "SEV-4": {"triage": 120, "mitigation_start": 240},
}
# Detection sources that mean a customer found the problem before our monitoring did.
CUSTOMER_SOURCES = ("customer_report", "social_media")

# The seeds' targets ("Metrics to Track" and the health checks of the incident-metrics
# chapter). A severity's own `targets` (config as code: `mttd_minutes`, `mtta_minutes`,
# `mttm_minutes`, `mttr_minutes`) win over these.
ALL_SEVERITIES_TARGETS: dict[str, float] = {"mttd": 5}
SEVERITY_TARGETS: dict[str, dict[str, float]] = {
    "SEV-1": {"mtta": 5, "mttm": 30},
    "SEV-2": {"mttr": 60},
}
# Rates: (comparison, threshold in percent).
RATE_TARGETS: dict[str, tuple[str, float]] = {
    "customer_detected_rate": ("<", 10.0),
    "postmortem_completion_rate": (">", 90.0),
    "postmortem_on_time_rate": (">", 90.0),
    "action_item_completion_rate": (">", 75.0),
}
ACTION_ITEM_WINDOW_DAYS = 30
INTERVALS = ("week", "month")


@dataclass(frozen=True)
class Stats:
    """n, mean, median and p90 of a set of durations in minutes; None where n = 0."""

    n: int
    mean: float | None
    median: float | None
    p90: float | None


def minutes(start: Any, end: Any) -> float | None:
    """Returns end - start in minutes, or None if either is missing or end precedes start."""
    if start is None or end is None or end < start:
        return None
    return float((end - start).total_seconds()) / 60.0


def metric_minutes(metric: str, milestones: Mapping[str, Any]) -> float | None:
    """Returns one incident's duration for `metric` (a key of METRICS) from its milestones by
    name (started, detected, ...), or None when it does not count (see the module docstring).
    Raises KeyError for an unknown metric."""
    start, end = METRICS[metric]
    return minutes(milestones.get(start), milestones.get(end))


def phase_minutes(phase: str, milestones: Mapping[str, Any]) -> float | None:
    """Returns one incident's duration of `phase` (a key of PHASES) from its milestones by
    name, or None when it does not count: a milestone missing, or (triage, mitigation start)
    the end before the start. Customer comms before mitigation started count as 0.
    Raises KeyError for an unknown phase."""
    start, end = PHASES[phase]
    a, b = milestones.get(start), milestones.get(end)
    if phase == "customer_comms" and a is not None and b is not None and b < a:
        return 0.0
    return minutes(a, b)


def phase_target(
    phase: str, severity: str, configured: Mapping[str, Any] | None = None
) -> float | None:
    """Returns the target minutes for `phase` under `severity`: the severity's configured
    `phase_<phase>_minutes` if set, else seed 003's number for that severity, else None."""
    value = (configured or {}).get(f"phase_{phase}_minutes")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    default = PHASE_TARGETS.get(severity, {}).get(phase)
    return None if default is None else float(default)


def common_phase_target(
    phase: str, severities: Mapping[str, Mapping[str, Any] | None]
) -> float | None:
    """The phase target every severity shares, or None when they differ or one has none."""
    targets = {phase_target(phase, name, t) for name, t in severities.items()}
    if len(targets) != 1:
        return None
    return targets.pop()


def quantile(sorted_values: Sequence[float], q: float) -> float | None:
    """Returns the q-quantile (0 <= q <= 1) of ascending values, or None for none.
    Linear interpolation between closest ranks: h = (n - 1) * q, the value is
    x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]) with 0-based ranks
    (Hyndman and Fan's type 7; PostgreSQL `percentile_cont`). q = 0.5 gives the median."""
    n = len(sorted_values)
    if n == 0:
        return None
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo]))


def quantile_ranks(n: int, q: float) -> tuple[int, float]:
    """Returns (0-based rank, weight) for `quantile` over n values: the value is
    x[rank] + weight * (x[rank + 1] - x[rank]). The store fetches just those two rows."""
    h = (n - 1) * q
    lo = math.floor(h)
    return lo, h - lo


def stats(values: Iterable[float | None]) -> Stats:
    """Returns n, mean, median and p90 of the durations, leaving out None."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return Stats(0, None, None, None)
    return Stats(len(xs), sum(xs) / len(xs), quantile(xs, 0.5), quantile(xs, 0.9))


def target_for(
    metric: str, severity: str, configured: Mapping[str, Any] | None = None
) -> float | None:
    """Returns the target minutes for `metric` under `severity`: the severity's configured
    `<metric>_minutes` if set, else the seeds' default for that severity, else the default
    for every severity, else None (no target)."""
    value = (configured or {}).get(f"{metric}_minutes")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if metric in SEVERITY_TARGETS.get(severity, {}):
        return float(SEVERITY_TARGETS[severity][metric])
    if metric in ALL_SEVERITIES_TARGETS:
        return float(ALL_SEVERITIES_TARGETS[metric])
    return None


def common_target(metric: str, severities: Mapping[str, Mapping[str, Any] | None]) -> float | None:
    """Returns the target that applies to a set of incidents of mixed severities: the one
    target every severity shares, or None when they differ or one has none."""
    targets = {target_for(metric, name, t) for name, t in severities.items()}
    if len(targets) != 1:
        return None
    return targets.pop()


def met(mean: float | None, target: float | None) -> bool | None:
    """True when the mean is strictly below the target; None without data or target."""
    if mean is None or target is None:
        return None
    return mean < target


def rate(part: int, whole: int) -> float | None:
    """Returns part / whole in percent, rounded to 0.1, or None when whole is 0."""
    if whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


def rate_met(name: str, value: float | None) -> bool | None:
    """Whether a rate meets its seed target (RATE_TARGETS); None without a value or target."""
    if value is None or name not in RATE_TARGETS:
        return None
    op, threshold = RATE_TARGETS[name]
    return value < threshold if op == "<" else value > threshold


def mtbf_hours(first: Any, last: Any, count: int) -> float | None:
    """Mean time between failures in hours: the mean gap between consecutive incident starts,
    (last start - first start) / (count - 1). None for fewer than two incidents."""
    if count < 2 or first is None or last is None:
        return None
    return float((last - first).total_seconds()) / 3600.0 / (count - 1)


def trend(counts: Sequence[int]) -> str | None:
    """'down', 'up' or 'flat': the second half of the buckets against the first half by total
    incidents (an odd middle bucket is left out). None for fewer than two buckets."""
    if len(counts) < 2:
        return None
    half = len(counts) // 2
    first, second = sum(counts[:half]), sum(counts[-half:])
    if second < first:
        return "down"
    if second > first:
        return "up"
    return "flat"


def metric_block(s: Stats, target: float | None) -> dict[str, Any]:
    """The API form of one metric: {n, mean_minutes, median_minutes, p90_minutes,
    target_minutes, met}, minutes rounded to 0.01; `met` judges the mean as shown."""
    return {
        "n": s.n,
        "mean_minutes": _round(s.mean),
        "median_minutes": _round(s.median),
        "p90_minutes": _round(s.p90),
        "target_minutes": target,
        "met": met(_round(s.mean), target),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


PERIODS = ("week", "month", "quarter")


def period_range(now: datetime, period: str) -> tuple[datetime, datetime]:
    """Returns [start, end) of the last complete week (Monday 00:00 UTC), calendar month or
    calendar quarter before `now` (an aware datetime): the operational review's range.
    Raises KeyError for an unknown period."""
    if period not in PERIODS:
        raise KeyError(period)
    today = now.astimezone(UTC).date()
    if period == "week":
        end_d = today - timedelta(days=today.weekday())
        start_d = end_d - timedelta(days=7)
    else:
        months = 1 if period == "month" else 3
        first = (today.month - 1) // months * months + 1
        end_d = date(today.year, first, 1)
        m0 = end_d.month - months
        start_d = date(end_d.year + (m0 - 1) // 12, (m0 - 1) % 12 + 1, 1)
    return (
        datetime(start_d.year, start_d.month, start_d.day, tzinfo=UTC),
        datetime(end_d.year, end_d.month, end_d.day, tzinfo=UTC),
    )


# --- scheduled delivery of the review ------------------------------------------------------

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def parse_report_at(period: str, at: str) -> tuple[int, int, int]:
    """Parses a delivery time: "MON 09:00" (weekday and time) for a weekly review, "09:00"
    or "3 09:00" (day of the month, 1-28, and time; day 1 if left out) for a monthly or
    quarterly one (the quarter's first month). Returns (weekday 0-6 or day 1-28, hour,
    minute). Raises ValueError saying what is wrong."""
    parts = at.split()
    if period == "week":
        if len(parts) != 2 or parts[0].upper() not in WEEKDAYS:
            raise ValueError(
                f"{at!r}: a weekly review's time is a weekday and HH:MM, e.g. MON 09:00"
            )
        day, clock_text = WEEKDAYS.index(parts[0].upper()), parts[1]
    elif period in ("month", "quarter"):
        if len(parts) == 1:
            day, clock_text = 1, parts[0]
        elif len(parts) == 2 and parts[0].isdigit() and 1 <= int(parts[0]) <= 28:
            day, clock_text = int(parts[0]), parts[1]
        else:
            raise ValueError(
                f"{at!r}: a {period}ly review's time is [day 1-28] HH:MM, e.g. 1 09:00"
            )
    else:
        raise ValueError(f"unknown period {period!r}")
    hm = clock_text.split(":")
    if len(hm) != 2 or not all(p.isdigit() and len(p) == 2 for p in hm):
        raise ValueError(f"{at!r}: the time must be HH:MM")
    hour, minute = int(hm[0]), int(hm[1])
    if hour > 23 or minute > 59:
        raise ValueError(f"{at!r}: the time must be HH:MM between 00:00 and 23:59")
    return day, hour, minute


def next_report_at(after: datetime, period: str, at: str, zone: Any) -> datetime:
    """Returns the first delivery instant strictly after `after` (aware) of a review
    delivered at `at` (see parse_report_at) in the time zone `zone` (a tzinfo), in UTC. A
    local time that does not exist that day (a DST gap) is read as zoneinfo does (the
    offset before the change). Raises ValueError for a malformed `at`."""
    day, hour, minute = parse_report_at(period, at)
    local = after.astimezone(zone)

    def instant(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, hour, minute, tzinfo=zone).astimezone(UTC)

    if period == "week":
        d = local.date() + timedelta(days=(day - local.weekday()) % 7)
        while instant(d) <= after:
            d += timedelta(days=7)
        return instant(d)
    step = 1 if period == "month" else 3
    year, month = local.year, local.month
    if period == "quarter":
        month = (month - 1) // 3 * 3 + 1
    while True:
        candidate = instant(date(year, month, day))
        if candidate > after:
            return candidate
        month += step
        if month > 12:
            year, month = year + 1, month - 12
