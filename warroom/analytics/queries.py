"""Incident metrics from the store: the summary and the timeseries, aggregated in SQL.

Invariants:
- The incident set of a range [from, to) is the incidents *declared* in it: one declared
  before `from` and resolved inside is not counted; one declared inside and resolved
  after `to` is, with the milestones recorded so far. A report re-run later can only
  gain durations of incidents that were still open, never gain or lose incidents.
- Drills are left out of every figure; the summary shows their count apart.
- Private incidents count only for callers who may see them (incidents.queries'
  visibility rule), so no figure reveals an incident its reader cannot open.
- Counts, means, MTBF and buckets are SQL aggregates; medians and p90 are
  `percentile_cont` on PostgreSQL and, on SQLite (which has none), the one or two rows at
  the interpolation ranks fetched with ORDER BY ... LIMIT 2 OFFSET k. Python never loops
  over incident rows.
- Postmortem and action-item rates read postmortems' tables (never write them) and count
  the postmortems and items of the counted incidents only.
- Reads only; checks the viewer role itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from warroom.analytics import rules
from warroom.core.clock import Clock, iso, parse_utc
from warroom.core.errors import NotFound, ValidationFailed, require_choice
from warroom.core.principal import Principal, require_role
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.queries import visible_clause
from warroom.org.models import Service, Severity, Team
from warroom.postmortems.models import ActionItem, Postmortem

DEFAULT_DAYS = 30
MAX_BUCKETS = 1000
TIMESERIES_METRICS = ("count", "mttd", "mtta", "mttm", "mttr")
COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "started": Incident.started_at,
    "detected": Incident.detected_at,
    "acknowledged": Incident.acknowledged_at,
    "mitigated": Incident.mitigated_at,
    "resolved": Incident.resolved_at,
}


@dataclass(frozen=True)
class Filters:
    """A validated range and the optional severity, service and team filters."""

    start: datetime
    end: datetime
    severity: str | None = None
    service: str | None = None
    team: str | None = None
    now: datetime | None = None


def _instant(text: str | None, field: str) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        return parse_utc(text)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a date (2026-03-01) or an ISO 8601 time", field=field
        ) from None


def filters(
    session: Session,
    clock: Clock,
    *,
    start: str | None = None,
    end: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    team: str | None = None,
) -> Filters:
    """Returns validated filters: `start`/`end` are dates (midnight UTC) or ISO instants,
    defaulting to the 30 days up to now. Raises ValidationFailed (422) naming `from` or `to`
    for a malformed or reversed range, and NotFound (404) naming `severity`, `service` or
    `team` for an unknown name. Reads only."""
    to = _instant(end, "to") or clock.now()
    frm = _instant(start, "from") or to - timedelta(days=DEFAULT_DAYS)
    if frm >= to:
        raise ValidationFailed("from must be before to", field="from")
    if severity and session.scalar(select(Severity.id).where(Severity.name == severity)) is None:
        raise NotFound(f"severity {severity!r} not found", field="severity")
    if service and session.scalar(select(Service.id).where(Service.name == service)) is None:
        raise NotFound(f"service {service!r} not found", field="service")
    if team and session.scalar(select(Team.id).where(Team.name == team)) is None:
        raise NotFound(f"team {team!r} not found", field="team")
    return Filters(frm, to, severity or None, service or None, team or None, clock.now())


def _where(principal: Principal, f: Filters, *, drills: bool = False) -> list[Any]:
    clauses: list[Any] = [
        Incident.drill.is_(drills),
        Incident.declared_at >= f.start,
        Incident.declared_at < f.end,
        visible_clause(principal),
    ]
    if f.severity:
        clauses.append(Incident.severity == f.severity)
    if f.service:
        clauses.append(
            select(IncidentService.id)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id == Incident.id, Service.name == f.service)
            .exists()
        )
    if f.team:
        clauses.append(
            select(IncidentService.id)
            .join(Service, Service.id == IncidentService.service_id)
            .join(Team, Team.id == Service.owner_team_id)
            .where(IncidentService.incident_id == Incident.id, Team.name == f.team)
            .exists()
        )
    return clauses


def _minutes_expr(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float) / 60.0
    # julianday() is a float of days: rounded to whole milliseconds, as PostgreSQL's are.
    return func.round((func.julianday(end) - func.julianday(start)) * 86_400_000.0) / 60_000.0


def _counted(metric: str) -> list[Any]:
    start, end = (COLUMNS[m] for m in rules.METRICS[metric])
    return [start.is_not(None), end.is_not(None), end >= start]


def metric_stats(session: Session, where: list[Any], metric: str) -> rules.Stats:
    """Returns n, mean, median and p90 in minutes of `metric` over the incidents matching
    `where`, computed by the store (see the module docstring). Reads only."""
    overall, _ = all_stats(session, where, group=False)
    return overall[metric]


def _expr(session: Session, metric: str) -> ColumnElement[Any]:
    start, end = (COLUMNS[m] for m in rules.METRICS[metric])
    return _minutes_expr(session, start, end)


def _unindexed(column: Any) -> ColumnElement[Any]:
    """The column as an expression SQLite cannot look up by its index (`col || ''`), so that
    the range's declared_at index drives the query rather than the severity index."""
    return column.concat("")


def _pick(session: Session, cond: Any, expr: ColumnElement[Any], n: int, q: float) -> float:
    """SQLite: the q-quantile from the one or two rows at its ranks, read from the nearer end."""
    lo, weight = rules.quantile_ranks(n, q)
    hi = min(lo + 1, n - 1)
    d = expr.label("d")
    if lo <= n // 2:
        query = select(d).where(cond).order_by(literal_column("d")).offset(lo)
    else:
        query = select(d).where(cond).order_by(literal_column("d").desc()).offset(n - 1 - hi)
    vals = sorted(float(v) for v in session.scalars(query.limit(hi - lo + 1)))
    return vals[0] + weight * (vals[-1] - vals[0])


def all_stats(
    session: Session, where: list[Any], *, group: bool = True
) -> tuple[dict[str, rules.Stats], dict[str, dict[str, rules.Stats]]]:
    """Returns the Stats of every metric over the incidents matching `where`, overall and
    (with `group`) per severity. n and sums come from one grouped scan; medians and p90 from
    `percentile_cont` (PostgreSQL, one more grouped query) or the rows at their ranks
    (SQLite). Reads only."""
    pg = session.get_bind().dialect.name == "postgresql"
    cols: list[Any] = []
    for metric in rules.METRICS:
        cond = and_(*_counted(metric))
        expr = _expr(session, metric)
        cols += [func.count(case((cond, 1))), func.sum(case((cond, expr)))]
        if pg:
            cols += [func.percentile_cont(q).within_group(case((cond, expr))) for q in (0.5, 0.9)]
    key = Incident.severity if group else literal_column("'all'")
    query = select(key, *cols).where(*where)
    rows = list(session.execute(query.group_by(key) if group else query))
    per = 4 if pg else 2
    by_sev: dict[str, dict[str, rules.Stats]] = {}
    totals: dict[str, tuple[int, float]] = dict.fromkeys(rules.METRICS, (0, 0.0))
    for row in rows:
        stats: dict[str, rules.Stats] = {}
        for k, metric in enumerate(rules.METRICS):
            n, total = int(row[1 + k * per] or 0), float(row[2 + k * per] or 0.0)
            a, b = totals[metric]
            totals[metric] = (a + n, b + total)
            if n == 0:
                stats[metric] = rules.Stats(0, None, None, None)
            elif pg:
                med, p90 = row[3 + k * per], row[4 + k * per]
                stats[metric] = rules.Stats(n, total / n, float(med), float(p90))
            else:
                cond = and_(
                    *where,
                    *_counted(metric),
                    *([_unindexed(Incident.severity) == row[0]] if group else []),
                )
                expr = _expr(session, metric)
                stats[metric] = rules.Stats(
                    n,
                    total / n,
                    _pick(session, cond, expr, n, 0.5),
                    _pick(session, cond, expr, n, 0.9),
                )
        by_sev[str(row[0])] = stats
    if not group:
        empty = dict.fromkeys(rules.METRICS, rules.Stats(0, None, None, None))
        return by_sev.get("all", empty), {}
    overall: dict[str, rules.Stats] = {}
    if len(rows) == 1:
        overall = next(iter(by_sev.values()))
    else:
        # Quantiles do not combine across groups: one ungrouped query for them.
        overall = (
            all_stats(session, where, group=False)[0]
            if rows
            else dict.fromkeys(rules.METRICS, rules.Stats(0, None, None, None))
        )
    return overall, by_sev


def _severity_targets(session: Session, only: str | None) -> dict[str, dict[str, Any] | None]:
    query = select(Severity.name, Severity.targets).order_by(Severity.rank)
    if only:
        query = query.where(Severity.name == only)
    return {name: targets for name, targets in session.execute(query)}


def _rate_block(name: str, part: int, whole: int) -> dict[str, Any]:
    percent = rules.rate(part, whole)
    return {
        "percent": percent,
        "part": part,
        "whole": whole,
        "target": _rate_target(name) if name in rules.RATE_TARGETS else None,
        "met": rules.rate_met(name, percent),
    }


def postmortem_figures(session: Session, where: list[Any], now: datetime) -> dict[str, Any]:
    """Returns the postmortem and action-item rates of the incidents matching `where`
    (docs/analytics.md#postmortems), counted in SQL from postmortems' tables; `now` decides
    which open action items are overdue. Reads only."""
    counted = select(Incident.id).where(*where).scalar_subquery()
    required = Postmortem.requirement == "required"
    published = Postmortem.status == "published"
    on_time = and_(
        published, or_(Postmortem.due_at.is_(None), Postmortem.published_at <= Postmortem.due_at)
    )
    pm_whole, pm_done, pm_on_time = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((published, 1), else_=0)), 0),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
        ).where(required, Postmortem.incident_id.in_(counted))
    ).one()
    live = ActionItem.status != "wont_do"
    done_in_window = and_(
        ActionItem.status == "done",
        ActionItem.completed_at.is_not(None),
        _minutes_expr(session, ActionItem.created_at, ActionItem.completed_at)
        <= rules.ACTION_ITEM_WINDOW_DAYS * 1440,
    )
    overdue = and_(
        ActionItem.status.in_(("open", "in_progress")),
        ActionItem.due_at.is_not(None),
        ActionItem.due_at < now,
    )
    ai_whole, ai_done, ai_overdue = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((done_in_window, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        ).where(live, ActionItem.incident_id.in_(counted))
    ).one()
    return {
        "postmortem_completion_rate": _rate_block(
            "postmortem_completion_rate", int(pm_done), int(pm_whole)
        ),
        "postmortem_on_time_rate": _rate_block(
            "postmortem_on_time_rate", int(pm_on_time), int(pm_whole)
        ),
        "action_item_completion_rate": _rate_block(
            "action_item_completion_rate", int(ai_done), int(ai_whole)
        ),
        "action_items_overdue": int(ai_overdue),
    }


def summary(session: Session, principal: Principal, f: Filters) -> dict[str, Any]:
    """Returns the summary of the incidents declared in the range: count, MTTx metrics
    (overall, against the target every matching severity shares, and per severity against
    its own), breakdowns by severity, service (with MTBF), team and detection source, the
    customer-detected rate and the drills kept apart. Raises Forbidden (403) below viewer.
    Reads only."""
    require_role(principal, "viewer")
    where = _where(principal, f)
    severities = _severity_targets(session, f.severity)
    total = int(session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0)
    drills = int(
        session.scalar(
            select(func.count()).select_from(Incident).where(*_where(principal, f, drills=True))
        )
        or 0
    )
    customer = int(
        session.scalar(
            select(func.count())
            .select_from(Incident)
            .where(*where, Incident.detection_source.in_(rules.CUSTOMER_SOURCES))
        )
        or 0
    )
    by_sev_counts: dict[str, int] = {
        name: int(n)
        for name, n in session.execute(
            select(Incident.severity, func.count()).where(*where).group_by(Incident.severity)
        )
    }
    overall, per_severity = all_stats(session, where)
    empty = dict.fromkeys(rules.METRICS, rules.Stats(0, None, None, None))
    by_severity = [
        {
            "severity": name,
            "count": int(by_sev_counts.get(name, 0)),
            "metrics": {
                metric: rules.metric_block(
                    per_severity.get(name, empty)[metric], rules.target_for(metric, name, targets)
                )
                for metric in rules.METRICS
            },
        }
        for name, targets in severities.items()
    ]
    by_service = [
        {
            "service": name,
            "count": int(n),
            "mtbf_hours": None
            if (h := rules.mtbf_hours(first, last, int(n))) is None
            else round(h, 2),
        }
        for name, n, first, last in session.execute(
            select(
                Service.name,
                func.count(),
                func.min(Incident.declared_at),
                func.max(Incident.declared_at),
            )
            .join(IncidentService, IncidentService.service_id == Service.id)
            .join(Incident, Incident.id == IncidentService.incident_id)
            .where(*where)
            .group_by(Service.name)
            .order_by(func.count().desc(), Service.name)
        )
    ]
    by_team = [
        {"team": name, "count": int(n)}
        for name, n in session.execute(
            select(Team.name, func.count(func.distinct(Incident.id)))
            .join(Service, Service.owner_team_id == Team.id)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .join(Incident, Incident.id == IncidentService.incident_id)
            .where(*where)
            .group_by(Team.name)
            .order_by(func.count(func.distinct(Incident.id)).desc(), Team.name)
        )
    ]
    by_source = [
        {"detection_source": src, "count": int(n)}
        for src, n in session.execute(
            select(Incident.detection_source, func.count())
            .where(*where)
            .group_by(Incident.detection_source)
            .order_by(func.count().desc(), Incident.detection_source)
        )
    ]
    customer_rate = rules.rate(customer, total)
    pm = postmortem_figures(session, where, f.now or f.end)
    return {
        "from": iso(f.start),
        "to": iso(f.end),
        "filters": {"severity": f.severity, "service": f.service, "team": f.team},
        "incident_count": total,
        "drills_left_out": drills,
        "metrics": {
            metric: rules.metric_block(overall[metric], rules.common_target(metric, severities))
            for metric in rules.METRICS
        },
        "rates": {
            "customer_detected_rate": {
                "percent": customer_rate,
                "part": customer,
                "whole": total,
                "target": _rate_target("customer_detected_rate"),
                "met": rules.rate_met("customer_detected_rate", customer_rate),
            },
            **pm,
        },
        # No incident is marked as a repeat of another yet (docs/analytics.md#not-measured).
        "not_measured": ["repeat_rate"],
        "by_severity": by_severity,
        "by_service": by_service,
        "by_team": by_team,
        "by_detection_source": by_source,
        "oncall_health": "/api/v1/oncall/health",
    }


def _rate_target(name: str) -> str:
    op, threshold = rules.RATE_TARGETS[name]
    return f"{op} {threshold:g}%"


def _bucket_expr(session: Session, interval: str) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(
            func.date_trunc(interval, func.timezone("UTC", Incident.declared_at)), "YYYY-MM-DD"
        )
    if interval == "week":
        return func.date(Incident.declared_at, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", Incident.declared_at)


def bucket_starts(start: datetime, end: datetime, interval: str) -> list[date]:
    """Returns the first day of every week (Monday, UTC) or month that overlaps [start, end)."""
    d = start.astimezone(UTC).date()
    d = d - timedelta(days=d.weekday()) if interval == "week" else d.replace(day=1)
    out: list[date] = []
    while datetime(d.year, d.month, d.day, tzinfo=UTC) < end:
        out.append(d)
        try:
            if interval == "week":
                d += timedelta(days=7)
            else:
                d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        except (OverflowError, ValueError):  # past 9999-12-31: no later bucket
            break
    return out


def timeseries(
    session: Session, principal: Principal, f: Filters, metric: str, interval: str
) -> dict[str, Any]:
    """Returns one point per week (Monday UTC) or month in the range, empty buckets included:
    the incident count, or n and mean minutes of an MTTx metric, grouped in SQL, and the trend
    of the counts. Raises ValidationFailed (422) naming `metric` or `interval` for an unknown
    one, or `from` when the range holds more than 1000 buckets; Forbidden (403) below viewer.
    Reads only."""
    require_role(principal, "viewer")
    require_choice(metric, TIMESERIES_METRICS, "metric")
    require_choice(interval, rules.INTERVALS, "interval")
    starts = bucket_starts(f.start, f.end, interval)
    if len(starts) > MAX_BUCKETS:
        raise ValidationFailed(
            f"the range holds {len(starts)} {interval}s; at most {MAX_BUCKETS}", field="from"
        )
    where = _where(principal, f)
    bucket = _bucket_expr(session, interval).label("bucket")
    found: dict[str, tuple[int, float | None]] = {}
    if metric == "count":
        query = select(bucket, func.count(), literal_column("NULL")).where(*where)
    else:
        a, b = (COLUMNS[m] for m in rules.METRICS[metric])
        expr = _minutes_expr(session, a, b)
        query = select(bucket, func.count(), func.avg(expr)).where(*where, *_counted(metric))
    for key, n, mean in session.execute(query.group_by(literal_column("bucket"))):
        found[str(key)[:10]] = (int(n), None if mean is None else float(mean))
    points = []
    for d in starts:
        n, mean = found.get(d.isoformat(), (0, None))
        point: dict[str, Any] = {"start": d.isoformat(), "count" if metric == "count" else "n": n}
        if metric != "count":
            point["mean_minutes"] = None if mean is None else round(mean, 2)
        points.append(point)
    counts = [p.get("count", p.get("n", 0)) for p in points]
    return {
        "metric": metric,
        "interval": interval,
        "from": iso(f.start),
        "to": iso(f.end),
        "filters": {"severity": f.severity, "service": f.service, "team": f.team},
        "points": points,
        "trend": rules.trend(counts),
    }
