"""The incident timeline: the journal every domain appends to.

Appending is the one write into the incidents domain that other domains make
directly: a timeline line records what happened (a page sent, an update posted, an
alert fired) and changes no incident state, so nothing reacts to it. Every line has a
UTC time and an actor (`warroom` when the system acted); a line written by someone
holding a role carries that role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.core.principal import Principal
from warroom.incidents import rules
from warroom.incidents.models import Incident, RoleAssignment, TimelineEvent
from warroom.org.models import User


def active_roles(session: Session, incident_id: int) -> list[tuple[RoleAssignment, str]]:
    """The roles held now, oldest assignment first, with the holder's name."""
    rows = session.execute(
        select(RoleAssignment, User.name)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.incident_id == incident_id, RoleAssignment.ended_at.is_(None))
        .order_by(RoleAssignment.id)
    )
    return [(ra, name) for ra, name in rows]


def _actor_role(session: Session, incident_id: int, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    held = [ra.role for ra, _ in active_roles(session, incident_id) if ra.user_id == user_id]
    for role in rules.ROLES:
        if role in held:
            return role
    return None


def record(
    session: Session,
    clock: Clock,
    incident: Incident,
    *,
    kind: str,
    text: str,
    actor: Principal | None,
    role: str | None = None,
    data: dict[str, Any] | None = None,
    corrects_id: int | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Appends one timeline event (UTC time, actor, optional role prefix)."""
    now = at or clock.now()
    event = TimelineEvent(
        incident_id=incident.id,
        at=now,
        kind=kind,
        actor_id=actor.user_id if actor else None,
        actor=actor.name if actor else "warroom",
        role=role
        if role is not None
        else (_actor_role(session, incident.id, actor.user_id) if actor else None),
        text=text,
        data=data or {},
        corrects_id=corrects_id,
    )
    session.add(event)
    incident.updated_at = now
    session.flush()
    return event


def event_dict(ev: TimelineEvent) -> dict[str, Any]:
    """Returns the API form of a timeline event, with the title of the role it was written in."""
    return {
        "id": ev.id,
        "at": iso(ev.at),
        "kind": ev.kind,
        "actor": ev.actor,
        "role": ev.role,
        "role_title": rules.ROLE_TITLES.get(ev.role) if ev.role else None,
        "text": ev.text,
        "data": dict(ev.data or {}),
        "corrects": ev.corrects_id,
    }


def timeline(session: Session, incident_id: int, after_id: int = 0) -> list[TimelineEvent]:
    """Returns the incident's timeline events after `after_id`, oldest first; checks nothing."""
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.id > after_id)
            .order_by(TimelineEvent.id)
        )
    )
