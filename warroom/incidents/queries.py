"""Reading incidents: visibility, lookups, lists and the detail view.

Private incidents are visible to admins and participants only; a private incident the
caller may not see is indistinguishable from a missing one. Nothing here writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from warroom.core.clock import Clock, iso
from warroom.core.errors import NotFound, ValidationFailed, require_choice
from warroom.core.pagination import decode_cursor, encode_cursor
from warroom.core.principal import Principal
from warroom.incidents import rules
from warroom.incidents.models import (
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
)
from warroom.incidents.timeline import active_roles, event_dict, timeline
from warroom.org.models import Service, User
from warroom.org.service import severity_by_name


def visible_clause(principal: Principal) -> ColumnElement[bool]:
    """Private incidents are visible to admins and participants only."""
    if principal.is_admin:
        return true()
    if principal.user_id is None:
        return Incident.private == false()
    # A correlated EXISTS keeps the newest-first index scan: with `id IN (subquery)`
    # SQLite sorted every public row before applying LIMIT (200 ms at 100k incidents).
    mine = (
        select(IncidentParticipant.id)
        .where(
            IncidentParticipant.incident_id == Incident.id,
            IncidentParticipant.user_id == principal.user_id,
        )
        .exists()
    )
    return or_(Incident.private == false(), mine)


def get_incident(session: Session, principal: Principal, ref: str | int) -> Incident:
    """Returns the incident `ref` names (INC-42 or 42) if the caller may see it.
    Raises ValidationFailed (422, field `incident_id`) for a malformed ref and NotFound (404, field
    `incident_id`) for a missing incident or a private one the caller may not see. Checks no role;
    reads only."""
    number = rules.parse_incident_ref(ref)
    if number is None:
        raise ValidationFailed(
            f"{ref!r} is not an incident id (use INC-42 or 42)", field="incident_id"
        )
    inc = None
    if number <= rules.MAX_ID:
        inc = session.scalar(
            select(Incident).where(Incident.id == number, visible_clause(principal))
        )
    if inc is None:
        # A private incident the caller may not see is indistinguishable from a missing one.
        raise NotFound(f"incident {rules.short_id(number)} not found", field="incident_id")
    return inc


def list_incidents(
    session: Session,
    principal: Principal,
    *,
    status: str | None = None,
    severity: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """Returns a page of the incidents the caller may see, newest first, and the next page's cursor.
    The cursor is None on the last page. `status` wins over `active`; `q` matches the title
    case-insensitively. Raises ValidationFailed (422) for an unknown `status` (field `status`) or
    `severity` (field `severity`), a `limit` outside 1-500 (field `limit`) or a bad `cursor`
    (field `cursor`). Checks no role; reads only."""
    if status is not None:
        require_choice(status, rules.STATUSES, "status")
    if severity is not None:
        severity_by_name(session, severity)
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    query = select(Incident).where(visible_clause(principal))
    if status:
        query = query.where(Incident.status == status)
    elif active:
        query = query.where(Incident.status.in_(rules.ACTIVE_STATUSES))
    if severity:
        query = query.where(Incident.severity == severity)
    if q:
        query = query.where(func.lower(Incident.title).contains(q.lower()))
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Incident.id < after)
    rows = list(session.scalars(query.order_by(Incident.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    summaries = summarize(session, rows)
    return summaries, encode_cursor(rows[-1].id) if more and rows else None


def count_incidents(session: Session, principal: Principal) -> dict[str, int]:
    """Returns how many incidents the caller may see per status, every status present (maybe 0)."""
    rows = session.execute(
        select(Incident.status, func.count())
        .where(visible_clause(principal))
        .group_by(Incident.status)
    )
    counts = dict.fromkeys(rules.STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def summarize(session: Session, incidents: list[Incident]) -> list[dict[str, Any]]:
    """List rows, with services and commanders loaded in two batched queries."""
    ids = [i.id for i in incidents]
    services: dict[int, list[str]] = {}
    commanders: dict[int, str] = {}
    if ids:
        for inc_id, name in session.execute(
            select(IncidentService.incident_id, Service.name)
            .join(Service, Service.id == IncidentService.service_id)
            .where(IncidentService.incident_id.in_(ids))
        ):
            services.setdefault(inc_id, []).append(name)
        for inc_id, name in session.execute(
            select(RoleAssignment.incident_id, User.name)
            .join(User, User.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.incident_id.in_(ids),
                RoleAssignment.role == "commander",
                RoleAssignment.ended_at.is_(None),
            )
        ):
            commanders[inc_id] = name
    return [_base_dict(i, sorted(services.get(i.id, [])), commanders.get(i.id)) for i in incidents]


def milestones(inc: Incident) -> dict[str, datetime | None]:
    """Returns the incident's milestone times by name, started to resolved, None where unset."""
    return {
        "started": inc.started_at,
        "detected": inc.detected_at,
        "acknowledged": inc.acknowledged_at,
        "declared": inc.declared_at,
        "ic_assigned": inc.ic_assigned_at,
        "mitigation_started": inc.mitigation_started_at,
        "customers_informed": inc.customers_informed_at,
        "mitigated": inc.mitigated_at,
        "resolved": inc.resolved_at,
    }


def duration_seconds(inc: Incident, now: datetime) -> int:
    """Impact duration: from started (or declared) to resolved, or to now while open."""
    start = inc.started_at or inc.declared_at
    end = inc.resolved_at or now
    return max(0, int((end - start).total_seconds()))


def _base_dict(inc: Incident, services: list[str], commander: str | None) -> dict[str, Any]:
    return {
        "id": rules.short_id(inc.id),
        "number": inc.id,
        "title": inc.title,
        "severity": inc.severity,
        "status": inc.status,
        "services": services,
        "commander": commander,
        "impact_summary": inc.impact_summary,
        "detection_source": inc.detection_source,
        "customer_facing": inc.customer_facing,
        "affected_percent": inc.affected_percent,
        "private": inc.private,
        "drill": inc.drill,
        "channel": inc.channel,
        "bridge_url": inc.bridge_url,
        "declared_at": iso(inc.declared_at),
        "resolved_at": iso(inc.resolved_at),
    }


def detail(
    session: Session, clock: Clock, inc: Incident, with_timeline: bool = True
) -> dict[str, Any]:
    """Returns the incident's full API form: milestones, roles and their history, and the timeline.
    `with_timeline=False` leaves the timeline out. Checks neither role nor visibility (callers got
    `inc` through get_incident); reads only."""
    out = summarize(session, [inc])[0]
    active = active_roles(session, inc.id)
    roles: dict[str, Any] = {r: None for r in rules.ROLES if r != "sme"}
    roles["sme"] = []
    for ra, name in active:
        if ra.role == "sme":
            roles["sme"].append(name)
        else:
            roles[ra.role] = name
    history = session.execute(
        select(RoleAssignment, User.name)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.incident_id == inc.id)
        .order_by(RoleAssignment.id)
    )
    creator = session.get(User, inc.created_by_id) if inc.created_by_id else None
    out.update(
        {
            "resolution_summary": inc.resolution_summary,
            "milestones": {k: iso(v) for k, v in milestones(inc).items()},
            "closed_at": iso(inc.closed_at),
            "repeat_of": rules.short_id(inc.repeat_of_id) if inc.repeat_of_id else None,
            "duration_seconds": duration_seconds(inc, clock.now()),
            "roles": roles,
            "role_history": [
                {
                    "role": ra.role,
                    "user": name,
                    "assigned_at": iso(ra.assigned_at),
                    "ended_at": iso(ra.ended_at),
                }
                for ra, name in history
            ],
            "active_responders": len({ra.user_id for ra, _ in active}),
            "created_by": creator.name if creator else None,
            "allowed_statuses": list(rules.allowed_transitions(inc.status)),
        }
    )
    if with_timeline:
        out["timeline"] = [event_dict(e) for e in timeline(session, inc.id)]
    return out
