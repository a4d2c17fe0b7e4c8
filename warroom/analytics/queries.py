"""Incident metrics from the store: the summary and the timeseries, aggregated in SQL.

Invariants:
- The incident set of a range [from, to) is the incidents *declared* in it: one declared
  before `from` and resolved inside is not counted; one declared inside and resolved
  after `to` is, with the milestones recorded so far. A report re-run later can only
  gain durations of incidents that were still open, never gain or lose incidents.
- Drills are left out of every figure; the summary shows their count apart.
- Private incidents count only for callers who may see them (incidents.queries'
  visibility rule), so no figure reveals an incident its reader cannot open.
- Everything is read from the facts tables (`analytics.models`: one row per incident with
  its durations in minutes, kept in step by `analytics.facts`), never from incidents.
- Counts, means, MTBF and buckets are SQL aggregates (one grouped scan gives the counts by
  severity and source and n and sum of every duration); medians and p90 are
  `percentile_cont` on PostgreSQL and, on SQLite (which has none), the one or two values
  at the interpolation ranks, read by walking the duration's partial covering index with
  ORDER BY ... LIMIT 2 OFFSET k from the nearer end. Python never loops over incident
  rows (only over groups: severities, sources, services).
- Postmortem and action-item rates read postmortems' tables (never write them) and count
  the postmortems and items of the counted incidents only.
- Reads only; checks the viewer role itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from warroom.analytics import rules
from warroom.analytics.models import IncidentFact, IncidentFactMonth, IncidentFactService
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.core.errors import NotFound, ValidationFailed, require_choice
from warroom.core.principal import Principal, require_role
from warroom.incidents.models import IncidentParticipant, IncidentService
from warroom.org.models import Service, Severity, Team
from warroom.postmortems.models import ActionItem, Postmortem

DEFAULT_DAYS = 30
MAX_BUCKETS = 1000
TIMESERIES_METRICS = ("count", "mttd", "mtta", "mttm", "mttr")


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


F = IncidentFact
FS = IncidentFactService
DURATIONS: tuple[str, ...] = (*rules.METRICS, *rules.PHASES)


def _visible(principal: Principal, incident_id: Any, private: Any) -> Any:
    """incidents.queries' visibility rule, over a facts table's columns."""
    if principal.is_admin:
        return true()
    if principal.user_id is None:
        return private == false()
    mine = (
        select(IncidentParticipant.id)
        .where(
            IncidentParticipant.incident_id == incident_id,
            IncidentParticipant.user_id == principal.user_id,
        )
        .exists()
    )
    return or_(private == false(), mine)


def _service_match(incident_id: Any, f: Filters) -> list[Any]:
    clauses: list[Any] = []
    if f.service:
        clauses.append(
            select(IncidentService.id)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id == incident_id, Service.name == f.service)
            .exists()
        )
    if f.team:
        clauses.append(
            select(IncidentService.id)
            .join(Service, Service.id == IncidentService.service_id)
            .join(Team, Team.id == Service.owner_team_id)
            .where(IncidentService.incident_id == incident_id, Team.name == f.team)
            .exists()
        )
    return clauses


def _where(principal: Principal, f: Filters, *, drills: bool = False) -> list[Any]:
    """The counted incidents of the range, as conditions on `incident_facts`."""
    clauses: list[Any] = [
        F.drill.is_(drills),
        F.declared_at >= f.start,
        F.declared_at < f.end,
        _visible(principal, F.incident_id, F.private),
    ]
    if f.severity:
        clauses.append(F.severity == f.severity)
    return clauses + _service_match(F.incident_id, f)


def _service_where(principal: Principal, f: Filters) -> list[Any]:
    """The same incidents as `_where`, as conditions on `incident_fact_services`."""
    clauses: list[Any] = [
        FS.drill.is_(False),
        FS.declared_at >= f.start,
        FS.declared_at < f.end,
        _visible(principal, FS.incident_id, FS.private),
    ]
    if f.severity:
        clauses.append(
            select(F.incident_id)
            .where(F.incident_id == FS.incident_id, F.severity == f.severity)
            .exists()
        )
    return clauses + _service_match(FS.incident_id, f)


def _minutes_expr(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float) / 60.0
    # julianday() is a float of days: rounded to whole milliseconds, as PostgreSQL's are.
    return func.round((func.julianday(end) - func.julianday(start)) * 86_400_000.0) / 60_000.0


def metric_stats(session: Session, where: list[Any], metric: str) -> rules.Stats:
    """Returns n, mean, median and p90 in minutes of a duration (a metric or a phase) over
    the facts matching `where`, computed by the store (see the module docstring)."""
    overall, _ = all_stats(session, where, group=False)
    return overall[metric]


def _unindexed(column: Any) -> ColumnElement[Any]:
    """The column as an expression SQLite cannot look up by its index (`col || ''`)."""
    return column.concat("")


# Below this many values a quantile is a sort of the range's rows (found through the
# declared_at index); above it, a walk of the duration's index from the nearer end.
SORT_BELOW = 20_000


def _pick(session: Session, cond: list[Any], column: Any, n: int, q: float) -> float:
    """SQLite: the q-quantile from the one or two values at its ranks. Many values: read from
    the nearer end of the duration's partial covering index (a walk, no sort); few: sorted
    (`+col` keeps SQLite off that index, which it would otherwise walk past every row out of
    the range)."""
    lo, weight = rules.quantile_ranks(n, q)
    hi = min(lo + 1, n - 1)
    query = select(column).where(*cond, column.is_not(None))
    key: Any = column
    if n < SORT_BELOW:
        key = literal_column(f"+{F.__tablename__}.{column.key}")
    if lo <= n // 2:
        query = query.order_by(key).offset(lo)
    else:
        query = query.order_by(key.desc()).offset(n - 1 - hi)
    vals = sorted(float(v) for v in session.scalars(query.limit(hi - lo + 1)))
    return vals[0] + weight * (vals[-1] - vals[0])


def _empty() -> dict[str, rules.Stats]:
    return dict.fromkeys(DURATIONS, rules.Stats(0, None, None, None))


def _quantiles_pg(session: Session, where: list[Any]) -> dict[str, dict[str, tuple[Any, Any]]]:
    """PostgreSQL: the median and p90 of every duration per severity and overall ("all"),
    in one scan (GROUPING SETS) with one sort per duration and group (an array of both
    fractions)."""
    cols: list[Any] = [
        func.percentile_cont(literal_column("ARRAY[0.5, 0.9]")).within_group(getattr(F, d))
        for d in DURATIONS
    ]
    key = func.grouping(F.severity).label("overall")
    query = select(F.severity, key, *cols).where(*where)
    out: dict[str, dict[str, tuple[Any, Any]]] = {}
    for row in session.execute(query.group_by(text("GROUPING SETS ((severity), ())"))):
        name = "all" if row[1] else str(row[0])
        out[name] = {
            d: (None, None) if row[2 + k] is None else (row[2 + k][0], row[2 + k][1])
            for k, d in enumerate(DURATIONS)
        }
    return out


def _stats_from(
    session: Session,
    where: list[Any],
    sums: dict[str, dict[str, tuple[int, float]]],
    severity: str | None,
    quantiles: dict[str, tuple[Any, Any]] | None,
) -> dict[str, rules.Stats]:
    """Stats of every duration for one group (a severity, or all with `severity` None) from
    its n and sums, and its quantiles: PostgreSQL's given, SQLite's read from the index."""
    group = sums.get(severity or "all", {})
    out: dict[str, rules.Stats] = {}
    for d in DURATIONS:
        n, total = group.get(d, (0, 0.0))
        if n == 0:
            out[d] = rules.Stats(0, None, None, None)
            continue
        if quantiles is not None:
            med, p90 = quantiles[d]
            out[d] = rules.Stats(n, total / n, float(med), float(p90))
            continue
        col = getattr(F, d)
        cond = [*where, *([F.severity == severity] if severity else [])]
        out[d] = rules.Stats(
            n, total / n, _pick(session, cond, col, n, 0.5), _pick(session, cond, col, n, 0.9)
        )
    return out


def _scan(session: Session, where: list[Any]) -> list[Any]:
    """The one grouped scan of the facts matching `where`: per severity and detection
    source, the incident count, the repeats, and n and sum of every duration."""
    cols: list[Any] = [func.count(), func.sum(case((F.is_repeat, 1), else_=0))]
    for d in DURATIONS:
        col = getattr(F, d)
        cols += [func.count(col), func.sum(col)]
    return list(
        session.execute(
            select(F.severity, F.detection_source, *cols)
            .where(*where)
            .group_by(F.severity, F.detection_source)
        )
    )


def _whole_months(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The first instant of the first whole UTC month in [start, end) and the end of the
    last one, or None when the range holds no whole month."""
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    first = datetime(s.year, s.month, 1, tzinfo=UTC)
    if first < s:
        first = datetime(s.year + s.month // 12, s.month % 12 + 1, 1, tzinfo=UTC)
    last = datetime(e.year, e.month, 1, tzinfo=UTC)
    return (first, last) if first < last else None


def _counted_scan(session: Session, principal: Principal, f: Filters) -> list[Any]:
    """`_scan` of the summary's incidents, reading the range's whole months from the
    monthly rollup and only its partial months (and, for a reader who is not an admin, the
    private incidents they may see) from the facts. With a service or team filter, the
    facts alone (the rollup has no services)."""
    months = _whole_months(f.start, f.end)
    if months is None or f.service or f.team:
        return _scan(session, _where(principal, f))
    first, last = months
    live_where = _where(principal, f)
    # the partial months, each a range the declared_at index finds
    live = [
        *_scan(session, [*live_where, F.declared_at < first]),
        *_scan(session, [*live_where, F.declared_at >= last]),
    ]
    if not principal.is_admin:
        # whole months' public incidents come from the rollup; the private ones the reader
        # may see from the facts (through their own index)
        live += _scan(
            session,
            [*live_where, F.private.is_(True), F.declared_at >= first, F.declared_at < last],
        )
    M = IncidentFactMonth
    cols: list[Any] = [func.sum(M.count), func.sum(M.repeats)]
    for d in DURATIONS:
        cols += [func.sum(getattr(M, f"{d}_n")), func.sum(getattr(M, f"{d}_sum"))]
    cond: list[Any] = [
        M.drill.is_(False),
        M.month >= f"{first:%Y-%m}",
        M.month < f"{last:%Y-%m}",
    ]
    if not principal.is_admin:
        cond.append(M.private.is_(False))
    if f.severity:
        cond.append(M.severity == f.severity)
    rolled = session.execute(
        select(M.severity, M.detection_source, *cols)
        .where(*cond)
        .group_by(M.severity, M.detection_source)
    )
    merged: dict[tuple[str, str], list[Any]] = {}
    for row in [*rolled, *live]:
        key = (str(row[0]), str(row[1]))
        values = [0 if v is None else v for v in row[2:]]
        if key in merged:
            merged[key] = [a + b for a, b in zip(merged[key], values, strict=True)]
        else:
            merged[key] = values
    return [(sev, src, *values) for (sev, src), values in merged.items() if values[0]]


def _sums(rows: list[Any]) -> dict[str, dict[str, tuple[int, float]]]:
    sums: dict[str, dict[str, tuple[int, float]]] = {}
    for row in rows:
        for key in (str(row[0]), "all"):
            group = sums.setdefault(key, {})
            for k, d in enumerate(DURATIONS):
                n, total = group.get(d, (0, 0.0))
                group[d] = (n + int(row[4 + 2 * k] or 0), total + float(row[5 + 2 * k] or 0.0))
    return sums


def all_stats(
    session: Session, where: list[Any], *, group: bool = True
) -> tuple[dict[str, rules.Stats], dict[str, dict[str, rules.Stats]]]:
    """Returns the Stats of every duration over the facts matching `where`, overall and
    (with `group`) per severity. Reads only."""
    return _all_stats(session, where, _scan(session, where), group=group)


def _all_stats(
    session: Session, where: list[Any], rows: list[Any], *, group: bool = True
) -> tuple[dict[str, rules.Stats], dict[str, dict[str, rules.Stats]]]:
    sums = _sums(rows)
    if not rows:
        return _empty(), {}
    pg = session.get_bind().dialect.name == "postgresql"
    severities = sorted({str(r[0]) for r in rows})
    q_pg = _quantiles_pg(session, where) if pg else {}
    overall = _stats_from(session, where, sums, None, q_pg.get("all") if pg else None)
    if not group:
        return overall, {}
    if len(severities) == 1:
        return overall, {severities[0]: overall}
    q_sev = q_pg
    by_sev = {
        sev: _stats_from(session, where, sums, sev, q_sev.get(sev) if pg else None)
        for sev in severities
    }
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
    """Returns the postmortem and action-item rates of the incidents whose facts match
    `where` (docs/analytics.md#postmortems), counted in SQL from postmortems' tables (driven
    by them: they are few beside the incidents); `now` decides which open action items are
    overdue. Reads only."""
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
        )
        .select_from(Postmortem)
        .where(
            required,
            select(F.incident_id).where(F.incident_id == Postmortem.incident_id, *where).exists(),
        )
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
        )
        .select_from(ActionItem)
        .where(
            live,
            select(F.incident_id).where(F.incident_id == ActionItem.incident_id, *where).exists(),
        )
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


def _by_service_and_team(
    session: Session, principal: Principal, f: Filters
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Incidents per service (with MTBF) and distinct incidents per owning team: one grouped
    scan of `incident_fact_services`; a team's incidents that affect one service are added
    up from its services, and only those affecting several are counted DISTINCT."""
    where = _service_where(principal, f)
    services = {
        sid: (name, team)
        for sid, name, team in session.execute(
            select(Service.id, Service.name, Team.name).outerjoin(
                Team, Team.id == Service.owner_team_id
            )
        )
    }
    per: dict[str, list[Any]] = {}
    team_counts: dict[str, int] = {}
    for sid, multi, n, first, last in session.execute(
        select(
            FS.service_id,
            FS.multi,
            func.count(),
            func.min(FS.declared_at),
            func.max(FS.declared_at),
        )
        .where(*where)
        .group_by(FS.service_id, FS.multi)
    ):
        name, team = services.get(sid, (str(sid), None))
        entry = per.setdefault(name, [0, first, last])
        entry[0] += int(n)
        entry[1] = min(entry[1], first)
        entry[2] = max(entry[2], last)
        if team is not None and not multi:
            team_counts[team] = team_counts.get(team, 0) + int(n)
    for team, n in session.execute(
        select(Team.name, func.count(func.distinct(FS.incident_id)))
        .select_from(FS)
        .join(Service, Service.id == FS.service_id)
        .join(Team, Team.id == Service.owner_team_id)
        .where(*where, FS.multi.is_(True))
        .group_by(Team.name)
    ):
        team_counts[team] = team_counts.get(team, 0) + int(n)
    by_service = [
        {
            "service": name,
            "count": n,
            "mtbf_hours": None
            if (h := rules.mtbf_hours(ensure_utc(first), ensure_utc(last), n)) is None
            else round(h, 2),
        }
        for name, (n, first, last) in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    by_team = [
        {"team": name, "count": n}
        for name, n in sorted(team_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return by_service, by_team


def _blocks(
    stats: dict[str, rules.Stats],
    targets: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    metrics = {m: rules.metric_block(stats[m], targets(m, False)) for m in rules.METRICS}
    phases = {p: rules.metric_block(stats[p], targets(p, True)) for p in rules.PHASES}
    return metrics, phases


def summary(session: Session, principal: Principal, f: Filters) -> dict[str, Any]:
    """Returns the summary of the incidents declared in the range: count, MTTx metrics and
    phase durations (overall, against the target every matching severity shares, and per
    severity against its own), breakdowns by severity, service (with MTBF), team and
    detection source, the customer-detected and repeat rates and the drills kept apart,
    read from the facts tables. Raises Forbidden (403) below viewer. Reads only."""
    require_role(principal, "viewer")
    where = _where(principal, f)
    severities = _severity_targets(session, f.severity)
    rows = _counted_scan(session, principal, f)
    total = sum(int(r[2]) for r in rows)
    repeats = sum(int(r[3] or 0) for r in rows)
    by_sev_counts: dict[str, int] = {}
    by_source_counts: dict[str, int] = {}
    for r in rows:
        by_sev_counts[str(r[0])] = by_sev_counts.get(str(r[0]), 0) + int(r[2])
        by_source_counts[str(r[1])] = by_source_counts.get(str(r[1]), 0) + int(r[2])
    customer = sum(n for src, n in by_source_counts.items() if src in rules.CUSTOMER_SOURCES)
    drills = int(
        session.scalar(
            select(func.count()).select_from(F).where(*_where(principal, f, drills=True))
        )
        or 0
    )
    overall, per_severity = _all_stats(session, where, rows)

    def severity_target(name: str, sev_targets: Any) -> Any:
        def target(d: str, phase: bool) -> float | None:
            if phase:
                return rules.phase_target(d, name, sev_targets)
            return rules.target_for(d, name, sev_targets)

        return target

    def common(d: str, phase: bool) -> float | None:
        if phase:
            return rules.common_phase_target(d, severities)
        return rules.common_target(d, severities)

    by_severity = []
    for name, sev_targets in severities.items():
        metrics, phases = _blocks(
            per_severity.get(name, _empty()), severity_target(name, sev_targets)
        )
        by_severity.append(
            {
                "severity": name,
                "count": int(by_sev_counts.get(name, 0)),
                "metrics": metrics,
                "phases": phases,
            }
        )
    by_service, by_team = _by_service_and_team(session, principal, f)
    by_source = [
        {"detection_source": src, "count": n}
        for src, n in sorted(by_source_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    customer_rate = rules.rate(customer, total)
    pm = postmortem_figures(session, where, f.now or f.end)
    metrics, phases = _blocks(overall, common)
    return {
        "from": iso(f.start),
        "to": iso(f.end),
        "filters": {"severity": f.severity, "service": f.service, "team": f.team},
        "incident_count": total,
        "drills_left_out": drills,
        "metrics": metrics,
        "phases": phases,
        "rates": {
            "customer_detected_rate": {
                "percent": customer_rate,
                "part": customer,
                "whole": total,
                "target": _rate_target("customer_detected_rate"),
                "met": rules.rate_met("customer_detected_rate", customer_rate),
            },
            **pm,
            "repeat_rate": _rate_block("repeat_rate", repeats, total),
        },
        "not_measured": [],
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
            func.date_trunc(interval, func.timezone("UTC", F.declared_at)), "YYYY-MM-DD"
        )
    if interval == "week":
        return func.date(F.declared_at, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", F.declared_at)


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
        col = getattr(F, metric)
        query = select(bucket, func.count(), func.avg(col)).where(*where, col.is_not(None))
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
