"""Public incidents and their updates, and what scheduled maintenance (a public incident
of kind `maintenance`) shares with them: updates, component statuses, reads.

Invariants:
- Publishing is an explicit act: an internal incident is on the status page only once a
  responder has published it, and only once (publishing it again is a Conflict).
- Private incidents are never published; a public incident whose internal incident has
  since been made private is hidden from the public page and cannot be updated.
- Staff reads (`public_dict`, `public_incident` with a principal) keep such a hidden
  public incident listed, marked `hidden`, since it was once the public record. Only
  those who may see the private incident (admins, its participants) see its name, its
  updates and its internal incident; anyone else sees a placeholder name, no updates and
  no link, and cannot find it by its internal reference (INC-42).
- Every update applies its component statuses through the components module (so they
  enter the components' history), records them as its affected_components, enqueues one
  fan-out job to subscribers in the same transaction (outbox) and bumps the page
  version, all in the caller's transaction.
- Resolving an incident brings its affected components back to operational unless the
  update says otherwise; an incident's impact only worsens unless it is set explicitly.
- monitoring_at records when a public incident was first monitoring; resolved_at when it
  resolved (a maintenance: completed), cleared when it is reopened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom import seam
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, NotFound
from warroom.core.principal import Principal, require_role
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules as incident_rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident
from warroom.org.models import Service
from warroom.statuspage import events, rules
from warroom.statuspage.common import choice, clean_text, linked_private, unique_code
from warroom.statuspage.components import component_by_name, set_status
from warroom.statuspage.models import PublicIncident, PublicIncidentUpdate, StatusComponent
from warroom.statuspage.page import bump
from warroom.statuspage.subscriptions import notify_subscribers

MAX_NAME = 200
MAX_BODY = 20_000


def apply_components(
    session: Session,
    clock: Clock,
    pub: PublicIncident,
    wanted: dict[str, str],
) -> list[dict[str, Any]]:
    """Sets component statuses for an update; returns Statuspage's affected_components."""
    affected = []
    ids = list(pub.components or [])
    for name, status in wanted.items():
        row = component_by_name(session, name)
        choice(status, rules.COMPONENT_STATUSES, f"components.{name}")
        old = row.status
        set_status(session, clock, row, status)
        affected.append(
            {"code": row.code, "name": row.name, "old_status": old, "new_status": status}
        )
        if row.id not in ids:
            ids.append(row.id)
    pub.components = ids
    return affected


def add_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    pub: PublicIncident,
    *,
    status: str,
    body: str,
    affected: list[dict[str, Any]],
) -> PublicIncidentUpdate:
    """Adds an update (checked by the caller), enqueues its fan-out job, bumps the version;
    publishes PublicUpdatePosted when the public incident stands for an internal one."""
    now = clock.now()
    upd = PublicIncidentUpdate(
        code=unique_code(session, PublicIncidentUpdate),
        public_incident_id=pub.id,
        status=status,
        body=body,
        affected_components=affected,
        created_by=principal.name,
        created_at=now,
        display_at=now,
    )
    session.add(upd)
    pub.updated_at = now
    session.flush()
    notify_subscribers(session, clock, pub, upd)
    bump(session, clock)
    if pub.incident_id is not None:
        seam.publish(
            session,
            clock,
            events.PublicUpdatePosted(at=now, incident_id=pub.incident_id, by=principal.name),
        )
    return upd


def set_incident_status(pub: PublicIncident, status: str, now: datetime) -> None:
    """Sets the public status and keeps `monitoring_at` / `resolved_at` in step with it (a
    status that is not resolved again clears `resolved_at`)."""
    pub.status = status
    if status == "monitoring" and pub.monitoring_at is None:
        pub.monitoring_at = now
    if status in ("resolved", "postmortem", "completed") and pub.resolved_at is None:
        pub.resolved_at = now
    if status in rules.UNRESOLVED or status in ("scheduled", "in_progress", "verifying"):
        pub.resolved_at = None


def publish(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    incident: str | int,
    body: str,
    name: str | None = None,
    status: str = "investigating",
    impact: str | None = None,
    components: dict[str, str] | None = None,
) -> PublicIncident:
    """Responder or above: publishes an internal incident on the status page (an explicit
    act, once, refused for private incidents) with its first update, and returns it.

    The name is the incident's title unless `name` is given. `components` maps component
    names to statuses, which are applied; without it, the components standing for the
    incident's services are listed as affected and their statuses are left as they are.
    The impact is `impact`, else the worst the set statuses imply. Enqueues the update's
    fan-out job, notes the publication on the incident's timeline, bumps the version.

    Errors: ValidationFailed on `incident_id` (not an incident reference), `status` (not
    investigating, identified or monitoring), `impact`, `body` (empty, over 20000
    characters), `name` (empty, over 200), `components.<name>` (not a component status)
    and `component` (a group); NotFound on `incident_id` (no such incident, or one the
    caller may not see) and `component`; Conflict on `incident` (private, or already
    published)."""
    require_role(principal, "responder")
    inc = incident_queries.get_incident(session, principal, incident)
    short = incident_rules.short_id(inc.id)
    if inc.private:
        raise Conflict(
            f"{short} is private: private incidents are never published on the status page",
            field="incident",
        )
    if session.scalar(select(PublicIncident.id).where(PublicIncident.incident_id == inc.id)):
        raise Conflict(f"{short} is already published; post an update instead", field="incident")
    choice(status, rules.UNRESOLVED, "status")
    if impact is not None:
        choice(impact, rules.IMPACTS, "impact")
    body = clean_text(body, "body", MAX_BODY)
    now = clock.now()
    pub = PublicIncident(
        code=unique_code(session, PublicIncident),
        kind="incident",
        incident_id=inc.id,
        name=clean_text(name if name is not None else inc.title, "name", MAX_NAME),
        status=status,
        impact="none",
        components=[],
        created_at=now,
        updated_at=now,
        started_at=ensure_utc(inc.started_at or inc.declared_at),
    )
    session.add(pub)
    session.flush()
    set_incident_status(pub, status, now)
    affected = apply_components(session, clock, pub, components or {})
    if not components:
        # Without explicit statuses, the components that stand for the incident's
        # services are listed as affected (their statuses are left as they are).
        names = incident_queries.summarize(session, [inc])[0]["services"]
        if names:
            mapped = session.scalars(
                select(StatusComponent.id)
                .join(Service, Service.id == StatusComponent.service_id)
                .where(Service.name.in_(names))
                .order_by(StatusComponent.position, StatusComponent.id)
            )
            pub.components = list(dict.fromkeys([*(pub.components or []), *mapped]))
    pub.impact = impact or rules.impact_of([a["new_status"] for a in affected])
    add_update(session, clock, principal, pub, status=status, body=body, affected=affected)
    incident_timeline.record(
        session,
        clock,
        inc,
        kind="note",
        text=f"Published on the status page as {pub.name!r}: {body}",
        actor=principal,
    )
    return pub


def public_incident(
    session: Session, code: str, kind: str = "incident", principal: Principal | None = None
) -> PublicIncident:
    """Read-only, no role check: the public incident (or, with kind="maintenance", the
    maintenance) with this public code; a public incident is also found by its internal
    incident's reference (INC-42, 42), when a `principal` is given only if it may see that
    incident. NotFound on `id`."""
    pub = session.scalar(
        select(PublicIncident).where(PublicIncident.code == code, PublicIncident.kind == kind)
    )
    if pub is None and kind == "incident":
        number = incident_rules.parse_incident_ref(code)
        if number is not None and number <= incident_rules.MAX_ID:
            pub = session.scalar(select(PublicIncident).where(PublicIncident.incident_id == number))
            if pub is not None and principal is not None and not _may_see(session, principal, pub):
                pub = None  # a private incident the caller may not see is not there
    if pub is None:
        what = "public incident" if kind == "incident" else "maintenance"
        raise NotFound(f"no {what} {code!r}", field="id")
    return pub


def post_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    code: str,
    *,
    status: str,
    body: str,
    impact: str | None = None,
    components: dict[str, str] | None = None,
) -> PublicIncidentUpdate:
    """Responder or above: posts an update on a public incident, applying its component
    statuses, and returns it; enqueues its fan-out job and bumps the version.

    `components` maps component names to statuses; an update that resolves (resolved,
    postmortem) with `components` None brings every affected component that is not
    operational back to operational. The incident takes `status`; its impact is
    `impact`, else the worse of its current impact and the one the set statuses imply.

    Errors: NotFound on `id` (no such public incident) and `component`; Conflict on
    `incident` (the internal incident is now private); ValidationFailed on `status` (not
    an incident status), `impact`, `body` (empty, over 20000 characters),
    `components.<name>` (not a component status) and `component` (a group)."""
    require_role(principal, "responder")
    pub = public_incident(session, code, principal=principal)
    if linked_private(session, pub):
        raise Conflict(
            "the linked incident is now private; its public incident is hidden and cannot "
            "be updated",
            field="incident",
        )
    choice(status, rules.INCIDENT_STATUSES, "status")
    if impact is not None:
        choice(impact, rules.IMPACTS, "impact")
    body = clean_text(body, "body", MAX_BODY)
    now = clock.now()
    wanted = dict(components or {})
    if status in ("resolved", "postmortem") and components is None:
        # Resolving brings the affected components back unless told otherwise.
        for cid in pub.components or []:
            row = session.get(StatusComponent, cid)
            if row is not None and row.status != "operational":
                wanted[row.name] = "operational"
    affected = apply_components(session, clock, pub, wanted)
    set_incident_status(pub, status, now)
    if impact is not None:
        pub.impact = impact
    else:
        pub.impact = rules.worst_impact(
            [pub.impact, rules.impact_of([a["new_status"] for a in affected])]
        )
    return add_update(session, clock, principal, pub, status=status, body=body, affected=affected)


def list_public(session: Session, kind: str, limit: int = 100) -> list[PublicIncident]:
    """Read-only, no role check: the newest `limit` public incidents or maintenances (by
    `kind`), newest first, hidden ones (internal incident now private) included."""
    return list(
        session.scalars(
            select(PublicIncident)
            .where(PublicIncident.kind == kind)
            .order_by(PublicIncident.id.desc())
            .limit(limit)
        )
    )


def updates_of(session: Session, ids: list[int]) -> dict[int, list[PublicIncidentUpdate]]:
    """Read-only: each given public incident's updates, newest first (every id is a key,
    with an empty list when it has none)."""
    out: dict[int, list[PublicIncidentUpdate]] = {i: [] for i in ids}
    if ids:
        for upd in session.scalars(
            select(PublicIncidentUpdate)
            .where(PublicIncidentUpdate.public_incident_id.in_(ids))
            .order_by(PublicIncidentUpdate.id.desc())
        ):
            out[upd.public_incident_id].append(upd)
    return out


HIDDEN_NAME = "Hidden: its incident is now private"


def _may_see(session: Session, principal: Principal, pub: PublicIncident) -> bool:
    if pub.incident_id is None:
        return True
    visible = incident_queries.visible_clause(principal)
    return (
        session.scalar(select(Incident.id).where(Incident.id == pub.incident_id, visible))
        is not None
    )


def public_dict(session: Session, pub: PublicIncident, principal: Principal) -> dict[str, Any]:
    """Read-only, no role check: a public incident or maintenance as the staff API shows
    it to `principal`, with its components by name, its updates newest first (a
    maintenance adds scheduled_for and scheduled_until) and `hidden` (its internal incident
    is now private, so it is off the public page).

    A hidden one the principal may not see (not an admin, not a participant of the
    private incident) keeps its id, status, impact, components and times, but shows
    HIDDEN_NAME, no updates and no internal incident."""
    hidden = linked_private(session, pub)
    redacted = hidden and not _may_see(session, principal, pub)
    names = {
        c.id: c.name
        for c in session.scalars(
            select(StatusComponent).where(StatusComponent.id.in_(pub.components or []))
        )
    }
    incident = None
    if pub.incident_id is not None and not redacted:
        incident = incident_rules.short_id(pub.incident_id)
    updates = [] if redacted else updates_of(session, [pub.id])[pub.id]
    out: dict[str, Any] = {
        "id": pub.code,
        "kind": pub.kind,
        "incident": incident,
        "name": HIDDEN_NAME if redacted else pub.name,
        "hidden": hidden,
        "status": pub.status,
        "impact": pub.impact,
        "components": [names[c] for c in pub.components or [] if c in names],
        "created_at": iso(pub.created_at),
        "updated_at": iso(pub.updated_at),
        "resolved_at": iso(pub.resolved_at),
        "updates": [
            {
                "id": u.code,
                "status": u.status,
                "body": u.body,
                "affected_components": u.affected_components,
                "created_by": u.created_by,
                "created_at": iso(u.created_at),
            }
            for u in updates
        ],
    }
    if pub.kind == "maintenance":
        out["scheduled_for"] = iso(pub.scheduled_for)
        out["scheduled_until"] = iso(pub.scheduled_until)
    return out
