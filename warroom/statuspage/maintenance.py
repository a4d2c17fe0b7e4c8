"""Scheduled maintenance: a public incident of kind `maintenance`, linked to no internal
incident, that goes scheduled, in_progress, verifying, completed.

Invariants:
- A maintenance window ends after it starts, and it names components, never groups.
- In progress, its operational components show under_maintenance; completed, those
  still under maintenance are operational again (a component someone set to an outage
  meanwhile keeps that status).
- With auto_transition, the engine starts it at scheduled_for and completes it at
  scheduled_until: one job per step, keyed by maintenance and step and enqueued in the
  transaction that schedules it; a step that finds the maintenance moved on does
  nothing.
- Every change is a public update like an incident's (see incidents): it enqueues its
  fan-out job to subscribers and bumps the page version, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc
from warroom.core.errors import ValidationFailed
from warroom.core.principal import SYSTEM, Principal, require_role
from warroom.engine.queue import enqueue
from warroom.statuspage import rules
from warroom.statuspage.common import choice, clean_text, unique_code
from warroom.statuspage.components import component_by_name
from warroom.statuspage.incidents import (
    MAX_BODY,
    MAX_NAME,
    add_update,
    apply_components,
    public_incident,
    set_incident_status,
)
from warroom.statuspage.models import PublicIncident, PublicIncidentUpdate, StatusComponent


def schedule_maintenance(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    name: str,
    body: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: list[str] | None = None,
    auto_transition: bool = True,
) -> PublicIncident:
    """Responder or above: schedules a maintenance window with its first (scheduled)
    update and returns it; enqueues the update's fan-out job, bumps the version and, with
    auto_transition, enqueues its start and end jobs (due then, or now if already past).

    Errors: ValidationFailed on `name` (empty, over 200 characters), `body` (empty, over
    20000), `scheduled_until` (not after scheduled_for) and `components` (a group);
    NotFound on `component` (no such component)."""
    require_role(principal, "responder")
    name = clean_text(name, "name", MAX_NAME)
    body = clean_text(body, "body", MAX_BODY)
    start, end = ensure_utc(scheduled_for), ensure_utc(scheduled_until)
    if end <= start:
        raise ValidationFailed(
            "scheduled_until must be after scheduled_for", field="scheduled_until"
        )
    rows = [component_by_name(session, n) for n in dict.fromkeys(components or [])]
    for row in rows:
        if row.is_group:
            raise ValidationFailed(f"{row.name!r} is a group", field="components")
    now = clock.now()
    pub = PublicIncident(
        code=unique_code(session, PublicIncident),
        kind="maintenance",
        incident_id=None,
        name=name,
        status="scheduled",
        impact="maintenance",
        components=[r.id for r in rows],
        created_at=now,
        updated_at=now,
        started_at=start,
        scheduled_for=start,
        scheduled_until=end,
    )
    session.add(pub)
    session.flush()
    add_update(session, clock, principal, pub, status="scheduled", body=body, affected=[])
    if auto_transition:
        for step, due in (("start", start), ("end", end)):
            enqueue(
                session,
                kind="statuspage_maintenance",
                key=f"statuspage:maintenance:{pub.id}:{step}",
                due_at=max(due, now),
                payload={"maintenance": pub.id, "step": step},
                now=now,
            )
    return pub


def maintenance_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    code: str,
    *,
    status: str,
    body: str = "",
) -> PublicIncidentUpdate:
    """Responder or above: moves a maintenance to `status` with an update (a standard text
    when `body` is empty), setting its components as the window requires, and returns the
    update; enqueues its fan-out job and bumps the version.

    Any status may follow any other. in_progress puts its operational components under
    maintenance; completed brings those under maintenance back to operational. Errors:
    NotFound on `id` (no such maintenance); ValidationFailed on `status` (not scheduled,
    in_progress, verifying or completed) and `body` (over 20000 characters)."""
    require_role(principal, "responder")
    pub = public_incident(session, code, kind="maintenance")
    choice(status, rules.MAINTENANCE_STATUSES, "status")
    default = {
        "scheduled": "The maintenance is scheduled.",
        "in_progress": "Scheduled maintenance is currently in progress.",
        "verifying": "Maintenance is complete; we are verifying the results.",
        "completed": "The scheduled maintenance has been completed.",
    }[status]
    body = clean_text(body or default, "body", MAX_BODY)
    wanted: dict[str, str] = {}
    for cid in pub.components or []:
        row = session.get(StatusComponent, cid)
        if row is None:
            continue
        if status == "in_progress" and row.status == "operational":
            wanted[row.name] = "under_maintenance"
        if status == "completed" and row.status == "under_maintenance":
            wanted[row.name] = "operational"
    affected = apply_components(session, clock, pub, wanted)
    set_incident_status(pub, status, clock.now())
    return add_update(session, clock, principal, pub, status=status, body=body, affected=affected)


def run_maintenance_step(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine job (statuspage_maintenance), idempotent: at its start a still scheduled
    maintenance goes in progress, at its end one not yet completed is completed (as the
    system principal, through `maintenance_update`); a maintenance that is gone or was
    moved on meanwhile is left alone."""
    pub = session.get(PublicIncident, int(payload["maintenance"]))
    if pub is None or pub.kind != "maintenance":
        return
    if payload["step"] == "start" and pub.status == "scheduled":
        maintenance_update(session, clock, SYSTEM, pub.code, status="in_progress")
    elif payload["step"] == "end" and pub.status in ("scheduled", "in_progress", "verifying"):
        maintenance_update(session, clock, SYSTEM, pub.code, status="completed")
