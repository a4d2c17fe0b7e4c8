"""Keeping `incident_facts`, `incident_fact_services` and the monthly rollup
`incident_fact_months` equal to what the incidents say.

Invariants:
- `refresh` rewrites one incident's fact rows from the incident as the caller's
  transaction sees it; it runs as a `seam.on` reaction to every incident event (wiring),
  so a change and its facts commit together or not at all.
- `backfill` rebuilds every row in SQL (migration 0017, and a bulk load that bypassed the
  lifecycle); both compute each duration with the same rule as `rules.metric_minutes` and
  `rules.phase_minutes`: NULL when a milestone is missing or the end precedes the start,
  customer comms before mitigation started as 0. SQLite's minutes come from `julianday()`
  rounded to whole milliseconds, as PostgreSQL's epochs are.
- The rollup changes by deltas: `refresh` takes the incident's old share out of its month's
  row and adds the new one (upserts, in key order so concurrent moves lock rows alike);
  `backfill` rebuilds it from the facts. A month row whose incidents all moved away stays,
  at zero.
- Writes only these three tables; reads the incidents' and services' tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from warroom.analytics import rules
from warroom.analytics.models import IncidentFact, IncidentFactMonth, IncidentFactService
from warroom.core.clock import ensure_utc
from warroom.incidents.models import Incident, IncidentService

SPANS: dict[str, tuple[str, str]] = {**rules.METRICS, **rules.PHASES}


def milestones(inc: Incident) -> dict[str, Any]:
    """The incident's milestones by name, as analytics measures between them."""
    return {
        "started": inc.started_at,
        "detected": inc.detected_at,
        "acknowledged": inc.acknowledged_at,
        "declared": inc.declared_at,
        "mitigation_started": inc.mitigation_started_at,
        "customers_informed": inc.customers_informed_at,
        "mitigated": inc.mitigated_at,
        "resolved": inc.resolved_at,
    }


def refresh(session: Session, incident_id: int) -> None:
    """Rewrites the fact rows of one incident (removes them if it is gone). Runs in the
    caller's transaction; checks no role (a reaction, not an action)."""
    inc = session.get(Incident, incident_id)
    session.execute(
        delete(IncidentFactService).where(IncidentFactService.incident_id == incident_id)
    )
    fact = session.get(IncidentFact, incident_id)
    old = None if fact is None else _share(fact, -1)
    if inc is None:
        if fact is not None and old is not None:
            _bump(session, [old])
            session.delete(fact)
        return
    if fact is None:
        fact = IncidentFact(incident_id=incident_id)
        session.add(fact)
    ms = milestones(inc)
    fact.declared_at = inc.declared_at
    fact.severity = inc.severity
    fact.detection_source = inc.detection_source
    fact.drill = bool(inc.drill)
    fact.private = bool(inc.private)
    fact.is_repeat = inc.repeat_of_id is not None
    for metric in rules.METRICS:
        setattr(fact, metric, rules.metric_minutes(metric, ms))
    for phase in rules.PHASES:
        setattr(fact, phase, rules.phase_minutes(phase, ms))
    _bump(session, [s for s in (old, _share(fact, 1)) if s is not None])
    service_ids = sorted(
        set(
            session.scalars(
                select(IncidentService.service_id).where(IncidentService.incident_id == incident_id)
            )
        )
    )
    for sid in service_ids:
        session.add(
            IncidentFactService(
                incident_id=incident_id,
                service_id=sid,
                declared_at=inc.declared_at,
                drill=fact.drill,
                private=fact.private,
                multi=len(service_ids) > 1,
            )
        )
    session.flush()


def month_of(at: Any) -> str:
    """The rollup's month of a declaration time: YYYY-MM in UTC."""
    return f"{ensure_utc(at):%Y-%m}"


KEYS = ("month", "severity", "detection_source", "private", "drill")


def _share(fact: IncidentFact, sign: int) -> dict[str, Any]:
    """One fact's share (+1) or its removal (-1) of its month's rollup row."""
    values: dict[str, Any] = {
        "month": month_of(fact.declared_at),
        "severity": fact.severity,
        "detection_source": fact.detection_source,
        "private": bool(fact.private),
        "drill": bool(fact.drill),
        "count": sign,
        "repeats": sign if fact.is_repeat else 0,
    }
    for d in SPANS:
        v = getattr(fact, d)
        values[f"{d}_n"] = 0 if v is None else sign
        values[f"{d}_sum"] = 0.0 if v is None else sign * float(v)
    return values


def _bump(session: Session, shares: list[dict[str, Any]]) -> None:
    """Adds the shares to their rollup rows (an upsert each), in key order so that two
    transactions moving facts between the same rows lock them in the same order."""
    pg = session.get_bind().dialect.name == "postgresql"
    table = IncidentFactMonth.__table__
    for values in sorted(shares, key=lambda v: tuple(str(v[k]) for k in KEYS)):
        stmt = (pg_insert if pg else sqlite_insert)(IncidentFactMonth).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(KEYS),
            set_={k: table.c[k] + stmt.excluded[k] for k in values if k not in KEYS},
        )
        session.execute(stmt)


def _minutes_sql(dialect: str, start: str, end: str, *, clamp: bool = False) -> str:
    if dialect == "postgresql":
        diff = f"(EXTRACT(EPOCH FROM ({end} - {start})) / 60.0)"
    else:
        diff = f"(round((julianday({end}) - julianday({start})) * 86400000.0) / 60000.0)"
    low = "0.0" if clamp else "NULL"
    return (
        f"CASE WHEN {start} IS NULL OR {end} IS NULL THEN NULL "
        f"WHEN {end} < {start} THEN {low} ELSE {diff} END"
    )


def backfill(conn: Connection) -> None:
    """Rebuilds both fact tables from every incident, in SQL (no row passes through Python).
    Runs in the connection's transaction."""
    dialect = conn.dialect.name
    conn.execute(text("DELETE FROM incident_fact_months"))
    conn.execute(text("DELETE FROM incident_fact_services"))
    conn.execute(text("DELETE FROM incident_facts"))
    cols = ", ".join(SPANS)
    exprs = ", ".join(
        _minutes_sql(dialect, f"{a}_at", f"{b}_at", clamp=name == "customer_comms")
        for name, (a, b) in SPANS.items()
    )
    conn.execute(
        text(
            "INSERT INTO incident_facts (incident_id, declared_at, severity, detection_source, "
            f"drill, private, is_repeat, {cols}) "
            "SELECT id, declared_at, severity, detection_source, drill, private, "
            f"repeat_of_id IS NOT NULL, {exprs} FROM incidents"
        )
    )
    conn.execute(
        text(
            "INSERT INTO incident_fact_services "
            "(incident_id, service_id, declared_at, drill, private, multi) "
            "SELECT s.incident_id, s.service_id, i.declared_at, i.drill, i.private, "
            "(SELECT count(*) FROM incident_services o WHERE o.incident_id = s.incident_id) > 1 "
            "FROM incident_services s JOIN incidents i ON i.id = s.incident_id"
        )
    )
    if dialect == "postgresql":
        month = "to_char(declared_at AT TIME ZONE 'UTC', 'YYYY-MM')"
    else:
        month = "strftime('%Y-%m', declared_at)"
    sums = ", ".join(f"count({d}), coalesce(sum({d}), 0)" for d in SPANS)
    names = ", ".join(f"{d}_n, {d}_sum" for d in SPANS)
    conn.execute(
        text(
            "INSERT INTO incident_fact_months (month, severity, detection_source, private, "
            f"drill, count, repeats, {names}) "
            f"SELECT {month}, severity, detection_source, private, drill, count(*), "
            f"sum(CASE WHEN is_repeat THEN 1 ELSE 0 END), {sums} FROM incident_facts "
            f"GROUP BY {month}, severity, detection_source, private, drill"
        )
    )
