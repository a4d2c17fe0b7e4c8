"""Change events (deploys, config changes, feature flags) and the recent changes of an
incident: what changed on its services and their dependencies in the two hours before
detection, the first question of triage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.integrations import service_id as _service_id
from warroom.alerts.models import ChangeEvent
from warroom.alerts.parsers import ChangePayload
from warroom.core.clock import Clock, iso
from warroom.core.errors import ValidationFailed, require_choice
from warroom.incidents.models import Incident, IncidentService
from warroom.org.models import Service, ServiceDependency

CHANGE_KINDS = ("deploy", "config", "feature_flag", "other")
RECENT_CHANGES = timedelta(hours=2)


def _names(session: Session) -> dict[int, str]:
    return {sid: name for sid, name in session.execute(select(Service.id, Service.name))}


def record_change(
    session: Session,
    clock: Clock,
    *,
    change: ChangePayload,
    recorded_by: str,
    service: str | None = None,
    service_id: int | None = None,
    integration_id: int | None = None,
) -> ChangeEvent:
    """Stores one change event (deploy, config change, feature flag) and returns it.
    Raises ValidationFailed (422) for a kind outside CHANGE_KINDS (field `kind`), an unknown
    `service` (field `service`) or a time more than 5 minutes ahead (field `timestamp`). Checks no
    role: the route has authenticated the caller or the integration. Runs in the caller's
    transaction and publishes nothing."""
    require_choice(change.kind, CHANGE_KINDS, "kind")
    if service:
        service_id = _service_id(session, service)
    at = change.timestamp or clock.now()
    if at > clock.now() + timedelta(minutes=5):
        raise ValidationFailed("the change's time is in the future", field="timestamp")
    row = ChangeEvent(
        service_id=service_id,
        integration_id=integration_id,
        kind=change.kind,
        summary=change.summary,
        source=change.source,
        at=at,
        recorded_by=recorded_by,
        links=change.links,
        details=change.details,
    )
    session.add(row)
    session.flush()
    return row


def change_dict(c: ChangeEvent, service_names: dict[int, str]) -> dict[str, Any]:
    """Returns the API form of a change event, its service named through `service_names`."""
    return {
        "id": c.id,
        "kind": c.kind,
        "summary": c.summary,
        "source": c.source,
        "service": service_names.get(c.service_id) if c.service_id else None,
        "at": iso(c.at),
        "recorded_by": c.recorded_by,
        "links": list(c.links or []),
        "details": dict(c.details or {}),
    }


def list_changes(
    session: Session, *, service: str | None = None, since: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Returns up to `limit` change events as API dicts, newest first; reads only.
    Only those of `service` and at or after `since` when given; raises ValidationFailed (422, field
    `service`) for an unknown service. Checks no role."""
    q = select(ChangeEvent).order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc()).limit(limit)
    if service:
        q = q.where(ChangeEvent.service_id == _service_id(session, service))
    if since:
        q = q.where(ChangeEvent.at >= since)
    svc = _names(session)
    return [change_dict(c, svc) for c in session.scalars(q)]


def dependency_closure(session: Session, service_ids: set[int]) -> set[int]:
    """The services and everything they depend on, transitively."""
    edges: dict[int, list[int]] = {}
    for d in session.scalars(select(ServiceDependency)):
        edges.setdefault(d.service_id, []).append(d.depends_on_id)
    seen = set(service_ids)
    stack = list(service_ids)
    while stack:
        for dep in edges.get(stack.pop(), []):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def recent_changes(session: Session, inc: Incident) -> list[dict[str, Any]]:
    """Changes to the incident's services and their dependencies in the 2 hours before
    detection, newest first: the first question of triage."""
    ids = set(
        session.scalars(
            select(IncidentService.service_id).where(IncidentService.incident_id == inc.id)
        )
    )
    if not ids:
        return []
    detected = inc.detected_at or inc.declared_at
    scope = dependency_closure(session, ids)
    q = (
        select(ChangeEvent)
        .where(
            ChangeEvent.service_id.in_(scope),
            ChangeEvent.at >= detected - RECENT_CHANGES,
            ChangeEvent.at <= detected,
        )
        .order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
    )
    svc = _names(session)
    out = []
    for c in session.scalars(q):
        d = change_dict(c, svc)
        d["direct"] = c.service_id in ids
        d["before_detection_minutes"] = int((detected - c.at).total_seconds() // 60)
        out.append(d)
    return out
