"""The `slos:` section of config as code: check, apply, export.

Entries are matched by name; what the section omits is deleted (with its exceptions
kept: they belong to the service). The entry is stored as written, so an export applies
as a no-op. Applying a section with any SLO makes sure the engine evaluates them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.org.models import Service
from warroom.slos import evaluator, service
from warroom.slos.models import Slo

Problems = list[tuple[tuple[str | int, ...], str]]


def _entry(item: Any) -> dict[str, Any]:
    return dict(item.model_dump(exclude_defaults=False))


def check(doc: Any, services: set[str]) -> Problems:
    """Names used twice, unknown services, windows that do not parse and incomplete
    Prometheus queries."""
    if doc.slos is None:
        return []
    problems: Problems = []
    seen: set[str] = set()
    for i, slo in enumerate(doc.slos):
        if slo.name in seen:
            problems.append((("slos", i, "name"), f"duplicate name {slo.name!r}"))
        seen.add(slo.name)
        if slo.service not in services:
            problems.append((("slos", i, "service"), f"unknown service {slo.service!r}"))
        for field, message in service.check_entry(_entry(slo)):
            problems.append((("slos", i, *field.split(".")), message))
    return problems


def service_users(session: Session, doc: Any) -> dict[str, str]:
    """{slo: service} after the apply, so a service with SLOs is not deleted."""
    if doc.slos is not None:
        return {s.name: s.service for s in doc.slos}
    return {
        name: svc
        for name, svc in session.execute(
            select(Slo.name, Service.name).join(Service, Service.id == Slo.service_id)
        )
    }


def apply(session: Session, clock: Clock, doc: Any) -> None:
    """Creates, changes and deletes SLOs to match the section."""
    assert doc.slos is not None
    now = clock.now()
    wanted = {s.name: s for s in doc.slos}
    ids = {name: sid for sid, name in session.execute(select(Service.id, Service.name))}
    existing = {row.name: row for row in session.scalars(select(Slo))}
    for name, row in existing.items():
        if name not in wanted:
            evaluator.forget(session, clock, row)
            session.delete(row)
    for name, item in wanted.items():
        entry = _entry(item)
        found = existing.get(name)
        if found is None:
            row = Slo(name=name, created_at=now, alert_state="", last={}, last_error="")
            session.add(row)
        else:
            row = found
            if row.spec != entry:
                row.last, row.evaluated_at, row.last_error = {}, None, ""
        row.service_id = ids[item.service]
        row.objective = item.objective
        row.source = item.source
        row.spec = entry
        row.updated_at = now
    session.flush()
    if wanted:
        evaluator.ensure_job(session, clock)


def export(session: Session) -> list[dict[str, Any]]:
    """The section as apply takes it."""
    return [dict(row.spec) for row in session.scalars(select(Slo).order_by(Slo.name))]
