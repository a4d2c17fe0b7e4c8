"""Repeats of open alerts, the bulk of an alert storm, in one statement per batch.

A batch of events for one integration splits by dedup key. A key whose events in the
batch are all triggers and which has an open alert is a repeat: its alert gets the
occurrences, last_seen, summary and severity of those triggers in one
`UPDATE ... FROM <batch rows> ... RETURNING` for the whole batch, which both finds and
bumps the open alerts. Every other key (new alerts, acknowledgements, resolutions)
goes, in arrival order, through `service.ingest`, which applies the dedup, routing,
silence, flapping and grouping rules. The two sets of keys touch different alerts, so
splitting them keeps the per-key order that PagerDuty's dedup semantics need.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm import Session

from warroom.alerts import service
from warroom.alerts.models import Alert, Integration
from warroom.alerts.parsers import NormalizedEvent
from warroom.core.clock import Clock
from warroom.incidents.rules import short_id

_RETURNING = "RETURNING alerts.dedup_key, alerts.id, alerts.incident_id"
_SQL = {
    # Materialised, so SQLite walks the batch's rows and finds each alert by the
    # (integration_id, dedup_key) index, not the other way round.
    "sqlite": f"""
WITH b(k, n, s, v) AS MATERIALIZED (
    SELECT value ->> 'k', value ->> 'n', value ->> 's', value ->> 'v' FROM json_each(:rows)
)
UPDATE alerts SET
    occurrences = alerts.occurrences + b.n,
    last_seen = :now,
    summary = coalesce(b.s, alerts.summary),
    source_severity = b.v
FROM b
WHERE alerts.integration_id = :integration AND alerts.dedup_key = b.k
    AND alerts.status != 'resolved'
{_RETURNING}""",
    "postgresql": f"""
UPDATE alerts SET
    occurrences = alerts.occurrences + b.n,
    last_seen = :now,
    summary = coalesce(b.s, alerts.summary),
    source_severity = b.v
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS b(k text, n integer, s text, v text)
WHERE alerts.integration_id = :integration AND alerts.dedup_key = b.k
    AND alerts.status != 'resolved'
{_RETURNING}""",
}
_STATEMENTS: dict[str, TextClause] = {
    dialect: text(sql).bindparams(bindparam("now", type_=Alert.__table__.c.last_seen.type))
    for dialect, sql in _SQL.items()
}


def bump_open(
    session: Session, integration_id: int, rows: dict[str, list[Any]], now: datetime
) -> dict[str, tuple[int, int | None]]:
    """Adds repeats to the open alerts of `rows` (dedup key -> [count, last non-empty
    summary or None, last severity]); returns dedup key -> (alert id, incident id) for
    the keys that had an open alert."""
    if not rows:
        return {}
    stmt = _STATEMENTS[session.get_bind().dialect.name]
    payload = orjson.dumps(
        [
            {"k": k, "n": n, "s": summary, "v": severity}
            for k, (n, summary, severity) in rows.items()
        ]
    ).decode()
    result = session.execute(stmt, {"rows": payload, "now": now, "integration": integration_id})
    return {key: (alert_id, incident_id) for key, alert_id, incident_id in result}


def ingest(
    session: Session,
    clock: Clock,
    integration_id: int,
    events: list[NormalizedEvent],
    integration: Callable[[], Integration],
    incident_refs: bool = True,
) -> list[service.Outcome]:
    """`service.ingest` with the repeats of open alerts taken out first (see the module's
    docstring). `integration()` loads the integration row, needed only when some events
    are not repeats; it raises if the integration is gone."""
    repeats: dict[str, list[Any]] = {}
    others: set[str] = set()
    for ev in events:
        key = ev.dedup_key
        if key in others:
            continue
        if ev.action != "trigger":
            others.add(key)
            repeats.pop(key, None)
            continue
        row = repeats.get(key)
        if row is None:
            repeats[key] = [1, ev.summary or None, ev.severity]
        else:
            row[0] += 1
            row[1] = ev.summary or row[1]
            row[2] = ev.severity
    bumped = bump_open(session, integration_id, repeats, clock.now())
    if not others and len(bumped) == len(repeats):
        return [_updated(ev.dedup_key, bumped[ev.dedup_key]) for ev in events]
    rest = [ev for ev in events if ev.dedup_key not in bumped]
    rest_out = iter(
        service.ingest(session, clock, integration(), rest, incident_refs=incident_refs)
    )
    return [
        _updated(ev.dedup_key, bumped[ev.dedup_key]) if ev.dedup_key in bumped else next(rest_out)
        for ev in events
    ]


def _updated(key: str, row: tuple[int, int | None]) -> service.Outcome:
    alert_id, incident_id = row
    return service.Outcome(key, alert_id, "updated", short_id(incident_id) if incident_id else None)
