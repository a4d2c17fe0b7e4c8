"""Status page: components, public incidents, maintenance, subscribers.

Every write runs in the caller's transaction and bumps the page's `version`, which is
how every process (replica) learns that its rendered page is stale.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom import settings
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import SYSTEM, Principal, require_role
from warroom.engine.queue import enqueue
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules as incident_rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident
from warroom.org.models import Service
from warroom.org.service import services_by_names
from warroom.statuspage import rules
from warroom.statuspage.models import (
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentUpdate,
    StatusComponent,
    StatusPage,
    StatusSubscriber,
)

MAX_NAME = 200
MAX_BODY = 20_000
HISTORY_LIMIT = 50  # incidents.json and scheduled-maintenances.json list the newest 50


# --- the page row and its version ------------------------------------------------------


def default_page_url() -> str:
    base = settings.base_url()
    return f"{base}/status" if base else "/status"


def page(session: Session, clock: Clock) -> StatusPage:
    row = session.get(StatusPage, 1)
    if row is None:
        row = StatusPage(
            id=1,
            code=rules.new_code(),
            name="",
            url="",
            time_zone="Etc/UTC",
            version=1,
            updated_at=clock.now(),
        )
        session.add(row)
        session.flush()
    return row


def default_page_name() -> str:
    return settings.status_page_name()


def page_name(session: Session) -> str:
    row = session.get(StatusPage, 1)
    return (row.name if row else "") or default_page_name()


def page_dict(row: StatusPage) -> dict[str, Any]:
    return {
        "id": row.code,
        "name": row.name or default_page_name(),
        "url": row.url or default_page_url(),
        "version": row.version,
    }


def current_version(session: Session) -> tuple[int, frozenset[int]]:
    """The cheap check each process makes (at most about once a second): the page's
    version, and which published incidents have since been made private (the incidents
    module does not bump the version, so this catches a leak at the next check)."""
    version = session.scalar(select(StatusPage.version).where(StatusPage.id == 1)) or 0
    hidden = session.scalars(
        select(PublicIncident.incident_id)
        .join(Incident, Incident.id == PublicIncident.incident_id)
        .where(Incident.private.is_(True))
    )
    return version, frozenset(i for i in hidden if i is not None)


def bump(session: Session, clock: Clock) -> None:
    """Marks the public page changed, in the caller's transaction."""
    now = clock.now()
    done = session.execute(
        update(StatusPage)
        .where(StatusPage.id == 1)
        .values(version=StatusPage.version + 1, updated_at=now)
    )
    if getattr(done, "rowcount", 0) == 0:
        page(session, clock)
    session.info["statuspage_changed"] = True


def update_page(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    name: str | None = None,
    url: str | None = None,
) -> StatusPage:
    require_role(principal, "admin")
    row = page(session, clock)
    if name is not None:
        row.name = _text(name, "name", 200)
    if url is not None:
        row.url = _text(url, "url", 500, required=False)
    bump(session, clock)
    return row


# --- helpers ----------------------------------------------------------------------------


def _text(value: str | None, field: str, max_len: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(text) > max_len:
        raise ValidationFailed(f"{field} is longer than {max_len} characters", field=field)
    return text


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(allowed)}", field=field, allowed=list(allowed)
        )
    return value


def _unique_code(session: Session, model: Any) -> str:
    while True:
        code = rules.new_code()
        if session.scalar(select(model.id).where(model.code == code)) is None:
            return code


# --- components -------------------------------------------------------------------------


def component_by_name(session: Session, name: str) -> StatusComponent:
    row = session.scalar(select(StatusComponent).where(StatusComponent.name == name))
    if row is None:
        row = session.scalar(select(StatusComponent).where(StatusComponent.code == name))
    if row is None:
        raise NotFound(f"no status page component named {name!r}", field="component")
    return row


def list_components(session: Session) -> list[StatusComponent]:
    return list(
        session.scalars(
            select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)
        )
    )


def _group(session: Session, name: str | None, *, exclude: int | None = None) -> int | None:
    if not name:
        return None
    grp = component_by_name(session, name)
    if not grp.is_group:
        raise ValidationFailed(f"{name!r} is a component, not a group", field="group")
    if exclude is not None and grp.id == exclude:
        raise ValidationFailed("a group cannot contain itself", field="group")
    return grp.id


def _service_id(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    return services_by_names(session, [name], field="service")[0].id


def create_component(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    name: str,
    description: str = "",
    group: str | None = None,
    is_group: bool = False,
    service: str | None = None,
    position: int | None = None,
    status: str = "operational",
    only_show_if_degraded: bool = False,
    showcase: bool = True,
) -> StatusComponent:
    require_role(principal, "admin")
    name = _text(name, "name", 100)
    _choice(status, rules.COMPONENT_STATUSES, "status")
    if session.scalar(select(StatusComponent.id).where(StatusComponent.name == name)):
        raise Conflict(f"a component named {name!r} exists", field="name")
    if is_group and group:
        raise ValidationFailed("groups cannot be nested", field="group")
    if is_group and service:
        raise ValidationFailed("a group has no service; its components do", field="service")
    now = clock.now()
    if position is None:
        position = len(list_components(session)) + 1
    row = StatusComponent(
        code=_unique_code(session, StatusComponent),
        name=name,
        description=_text(description, "description", 2000, required=False),
        is_group=is_group,
        group_id=_group(session, group),
        service_id=_service_id(session, service),
        position=position,
        status=status,
        only_show_if_degraded=only_show_if_degraded,
        showcase=showcase,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    if not is_group:
        session.add(ComponentStatusChange(component_id=row.id, status=status, at=now))
    bump(session, clock)
    return row


def update_component(
    session: Session,
    clock: Clock,
    principal: Principal,
    name: str,
    changes: dict[str, Any],
) -> StatusComponent:
    require_role(principal, "admin")
    row = component_by_name(session, name)
    if "name" in changes and changes["name"] != row.name:
        new = _text(changes["name"], "name", 100)
        if session.scalar(select(StatusComponent.id).where(StatusComponent.name == new)):
            raise Conflict(f"a component named {new!r} exists", field="name")
        row.name = new
    if "description" in changes:
        row.description = _text(changes["description"], "description", 2000, required=False)
    if "group" in changes:
        if row.is_group and changes["group"]:
            raise ValidationFailed("groups cannot be nested", field="group")
        row.group_id = _group(session, changes["group"], exclude=row.id)
    if "service" in changes:
        if row.is_group and changes["service"]:
            raise ValidationFailed("a group has no service; its components do", field="service")
        row.service_id = _service_id(session, changes["service"])
    for key in ("position", "only_show_if_degraded", "showcase"):
        if key in changes:
            setattr(row, key, changes[key])
    row.updated_at = clock.now()
    if "status" in changes:
        set_status(session, clock, row, changes["status"])
    bump(session, clock)
    return row


def delete_component(session: Session, clock: Clock, principal: Principal, name: str) -> None:
    require_role(principal, "admin")
    row = component_by_name(session, name)
    for child in session.scalars(select(StatusComponent).where(StatusComponent.group_id == row.id)):
        child.group_id = None
    session.delete(row)
    session.flush()
    bump(session, clock)


def set_status(session: Session, clock: Clock, row: StatusComponent, status: str) -> str | None:
    """Changes a component's status and records it in its history. Returns the old status
    (None when nothing changed)."""
    _choice(status, rules.COMPONENT_STATUSES, "status")
    if row.is_group:
        raise ValidationFailed(
            f"{row.name!r} is a group; set the status of its components", field="component"
        )
    if row.status == status:
        return None
    old = row.status
    now = clock.now()
    row.status = status
    row.updated_at = now
    session.add(ComponentStatusChange(component_id=row.id, status=status, at=now))
    bump(session, clock)
    return old


def set_component_status(
    session: Session, clock: Clock, principal: Principal, name: str, status: str
) -> StatusComponent:
    require_role(principal, "responder")
    row = component_by_name(session, name)
    set_status(session, clock, row, status)
    return row


def component_dict(session: Session, row: StatusComponent) -> dict[str, Any]:
    group = session.get(StatusComponent, row.group_id) if row.group_id else None
    svc = session.get(Service, row.service_id) if row.service_id else None
    return {
        "id": row.code,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "group": group.name if group else None,
        "is_group": row.is_group,
        "service": svc.name if svc else None,
        "position": row.position,
        "only_show_if_degraded": row.only_show_if_degraded,
        "showcase": row.showcase,
        "updated_at": iso(row.updated_at),
    }


# --- public incidents -------------------------------------------------------------------


def _apply_components(
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
        _choice(status, rules.COMPONENT_STATUSES, f"components.{name}")
        old = row.status
        set_status(session, clock, row, status)
        affected.append(
            {"code": row.code, "name": row.name, "old_status": old, "new_status": status}
        )
        if row.id not in ids:
            ids.append(row.id)
    pub.components = ids
    return affected


def _add_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    pub: PublicIncident,
    *,
    status: str,
    body: str,
    affected: list[dict[str, Any]],
) -> PublicIncidentUpdate:
    now = clock.now()
    upd = PublicIncidentUpdate(
        code=_unique_code(session, PublicIncidentUpdate),
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
    _notify_subscribers(session, clock, pub, upd)
    bump(session, clock)
    return upd


def _set_incident_status(pub: PublicIncident, status: str, now: datetime) -> None:
    pub.status = status
    if status == "monitoring" and pub.monitoring_at is None:
        pub.monitoring_at = now
    if status in ("resolved", "postmortem", "completed") and pub.resolved_at is None:
        pub.resolved_at = now
    if status in rules.UNRESOLVED or status in ("scheduled", "in_progress", "verifying"):
        pub.resolved_at = None


def _linked_private(session: Session, pub: PublicIncident) -> bool:
    if pub.incident_id is None:
        return False
    return bool(session.scalar(select(Incident.private).where(Incident.id == pub.incident_id)))


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
    """Publishes an internal incident on the status page: an explicit act, refused for
    private incidents."""
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
    _choice(status, rules.UNRESOLVED, "status")
    if impact is not None:
        _choice(impact, rules.IMPACTS, "impact")
    body = _text(body, "body", MAX_BODY)
    now = clock.now()
    pub = PublicIncident(
        code=_unique_code(session, PublicIncident),
        kind="incident",
        incident_id=inc.id,
        name=_text(name if name is not None else inc.title, "name", MAX_NAME),
        status=status,
        impact="none",
        components=[],
        created_at=now,
        updated_at=now,
        started_at=ensure_utc(inc.started_at or inc.declared_at),
    )
    session.add(pub)
    session.flush()
    _set_incident_status(pub, status, now)
    affected = _apply_components(session, clock, pub, components or {})
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
    _add_update(session, clock, principal, pub, status=status, body=body, affected=affected)
    incident_timeline.record(
        session,
        clock,
        inc,
        kind="note",
        text=f"Published on the status page as {pub.name!r}: {body}",
        actor=principal,
    )
    return pub


def public_incident(session: Session, code: str, kind: str = "incident") -> PublicIncident:
    pub = session.scalar(
        select(PublicIncident).where(PublicIncident.code == code, PublicIncident.kind == kind)
    )
    if pub is None and kind == "incident":
        number = incident_rules.parse_incident_ref(code)
        if number is not None and number <= incident_rules.MAX_ID:
            pub = session.scalar(select(PublicIncident).where(PublicIncident.incident_id == number))
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
    require_role(principal, "responder")
    pub = public_incident(session, code)
    if _linked_private(session, pub):
        raise Conflict(
            "the linked incident is now private; its public incident is hidden and cannot "
            "be updated",
            field="incident",
        )
    _choice(status, rules.INCIDENT_STATUSES, "status")
    if impact is not None:
        _choice(impact, rules.IMPACTS, "impact")
    body = _text(body, "body", MAX_BODY)
    now = clock.now()
    wanted = dict(components or {})
    if status in ("resolved", "postmortem") and components is None:
        # Resolving brings the affected components back unless told otherwise.
        for cid in pub.components or []:
            row = session.get(StatusComponent, cid)
            if row is not None and row.status != "operational":
                wanted[row.name] = "operational"
    affected = _apply_components(session, clock, pub, wanted)
    _set_incident_status(pub, status, now)
    if impact is not None:
        pub.impact = impact
    else:
        pub.impact = rules.worst_impact(
            [pub.impact, rules.impact_of([a["new_status"] for a in affected])]
        )
    return _add_update(session, clock, principal, pub, status=status, body=body, affected=affected)


def list_public(session: Session, kind: str, limit: int = 100) -> list[PublicIncident]:
    return list(
        session.scalars(
            select(PublicIncident)
            .where(PublicIncident.kind == kind)
            .order_by(PublicIncident.id.desc())
            .limit(limit)
        )
    )


def updates_of(session: Session, ids: list[int]) -> dict[int, list[PublicIncidentUpdate]]:
    out: dict[int, list[PublicIncidentUpdate]] = {i: [] for i in ids}
    if ids:
        for upd in session.scalars(
            select(PublicIncidentUpdate)
            .where(PublicIncidentUpdate.public_incident_id.in_(ids))
            .order_by(PublicIncidentUpdate.id.desc())
        ):
            out[upd.public_incident_id].append(upd)
    return out


def public_dict(session: Session, pub: PublicIncident) -> dict[str, Any]:
    names = {
        c.id: c.name
        for c in session.scalars(
            select(StatusComponent).where(StatusComponent.id.in_(pub.components or []))
        )
    }
    out: dict[str, Any] = {
        "id": pub.code,
        "kind": pub.kind,
        "incident": incident_rules.short_id(pub.incident_id) if pub.incident_id else None,
        "name": pub.name,
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
            for u in updates_of(session, [pub.id])[pub.id]
        ],
    }
    if pub.kind == "maintenance":
        out["scheduled_for"] = iso(pub.scheduled_for)
        out["scheduled_until"] = iso(pub.scheduled_until)
    return out


# --- scheduled maintenance --------------------------------------------------------------


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
    require_role(principal, "responder")
    name = _text(name, "name", MAX_NAME)
    body = _text(body, "body", MAX_BODY)
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
        code=_unique_code(session, PublicIncident),
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
    _add_update(session, clock, principal, pub, status="scheduled", body=body, affected=[])
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
    require_role(principal, "responder")
    pub = public_incident(session, code, kind="maintenance")
    _choice(status, rules.MAINTENANCE_STATUSES, "status")
    default = {
        "scheduled": "The maintenance is scheduled.",
        "in_progress": "Scheduled maintenance is currently in progress.",
        "verifying": "Maintenance is complete; we are verifying the results.",
        "completed": "The scheduled maintenance has been completed.",
    }[status]
    body = _text(body or default, "body", MAX_BODY)
    wanted: dict[str, str] = {}
    for cid in pub.components or []:
        row = session.get(StatusComponent, cid)
        if row is None:
            continue
        if status == "in_progress" and row.status == "operational":
            wanted[row.name] = "under_maintenance"
        if status == "completed" and row.status == "under_maintenance":
            wanted[row.name] = "operational"
    affected = _apply_components(session, clock, pub, wanted)
    _set_incident_status(pub, status, clock.now())
    return _add_update(session, clock, principal, pub, status=status, body=body, affected=affected)


def run_maintenance_step(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine job: start a scheduled maintenance at its start, complete it at its end,
    unless someone already moved it on."""
    pub = session.get(PublicIncident, int(payload["maintenance"]))
    if pub is None or pub.kind != "maintenance":
        return
    if payload["step"] == "start" and pub.status == "scheduled":
        maintenance_update(session, clock, SYSTEM, pub.code, status="in_progress")
    elif payload["step"] == "end" and pub.status in ("scheduled", "in_progress", "verifying"):
        maintenance_update(session, clock, SYSTEM, pub.code, status="completed")


# --- subscribers ------------------------------------------------------------------------


def _notify_subscribers(
    session: Session, clock: Clock, pub: PublicIncident, upd: PublicIncidentUpdate
) -> None:
    """One fan-out job per public update, in the same transaction (outbox)."""
    enqueue(
        session,
        kind="statuspage_fanout",
        key=f"statuspage:fanout:{upd.code}",
        due_at=clock.now(),
        payload={"update": upd.id},
        now=clock.now(),
    )


def subscribe(session: Session, clock: Clock, *, kind: str, address: str) -> StatusSubscriber:
    _choice(kind, ("email", "webhook"), "kind")
    address = _text(address, "address", 500)
    if kind == "email" and ("@" not in address or any(c in address for c in " <>\r\n,;")):
        raise ValidationFailed("not an email address", field="address")
    if kind == "webhook" and not address.startswith(("http://", "https://")):
        raise ValidationFailed("a webhook must be an http(s) URL", field="address")
    existing = session.scalar(
        select(StatusSubscriber).where(
            StatusSubscriber.kind == kind,
            StatusSubscriber.address == address,
            StatusSubscriber.unsubscribed_at.is_(None),
        )
    )
    if existing is not None:
        sub = existing
    else:
        now = clock.now()
        sub = StatusSubscriber(
            kind=kind,
            address=address,
            token=secrets.token_urlsafe(24),
            confirmed_at=now if kind == "webhook" else None,
            created_at=now,
        )
        session.add(sub)
        session.flush()
    if kind == "email" and sub.confirmed_at is None:
        enqueue(
            session,
            kind="statuspage_deliver",
            # at most one confirmation an hour per address, however often the form is sent
            key=f"statuspage:confirm:{sub.id}:{int(clock.now().timestamp()) // 3600}",
            due_at=clock.now(),
            payload={"subscriber": sub.id, "confirm": True},
            now=clock.now(),
        )
    return sub


def confirm(session: Session, clock: Clock, token: str) -> StatusSubscriber:
    sub = session.scalar(select(StatusSubscriber).where(StatusSubscriber.token == token))
    if sub is None or sub.unsubscribed_at is not None:
        raise NotFound("this confirmation link is unknown or was unsubscribed", field="token")
    if sub.confirmed_at is None:
        sub.confirmed_at = clock.now()
    return sub


def unsubscribe(session: Session, clock: Clock, token: str) -> StatusSubscriber:
    sub = session.scalar(select(StatusSubscriber).where(StatusSubscriber.token == token))
    if sub is None:
        raise NotFound("this unsubscribe link is unknown", field="token")
    if sub.unsubscribed_at is None:
        sub.unsubscribed_at = clock.now()
    return sub


def list_subscribers(session: Session, principal: Principal) -> list[dict[str, Any]]:
    require_role(principal, "admin")
    return [
        {
            "id": s.id,
            "kind": s.kind,
            "address": s.address,
            "confirmed_at": iso(s.confirmed_at),
            "unsubscribed_at": iso(s.unsubscribed_at),
            "created_at": iso(s.created_at),
        }
        for s in session.scalars(select(StatusSubscriber).order_by(StatusSubscriber.id))
    ]


def fan_out(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine job: one delivery job per confirmed subscriber (idempotent per pair)."""
    upd = session.get(PublicIncidentUpdate, int(payload["update"]))
    if upd is None:
        return
    pub = session.get(PublicIncident, upd.public_incident_id)
    if pub is None or _linked_private(session, pub):
        return
    now = clock.now()
    for sub_id in session.scalars(
        select(StatusSubscriber.id).where(
            StatusSubscriber.confirmed_at.is_not(None), StatusSubscriber.unsubscribed_at.is_(None)
        )
    ):
        enqueue(
            session,
            kind="statuspage_deliver",
            key=f"statuspage:deliver:{upd.code}:{sub_id}",
            due_at=now,
            payload={"subscriber": sub_id, "update": upd.id},
            now=now,
        )


def delivery(session: Session, clock: Clock, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What one delivery job sends: None when there is nothing to send any more."""
    sub = session.get(StatusSubscriber, int(payload["subscriber"]))
    if sub is None or sub.unsubscribed_at is not None:
        return None
    row = page(session, clock)
    base = (row.url or default_page_url()).rstrip("/")
    links = {
        "confirm": f"{base}/subscribers/confirm/{sub.token}",
        "unsubscribe": f"{base}/subscribers/unsubscribe/{sub.token}",
    }
    if payload.get("confirm"):
        return {"subscriber": sub, "page": page_name(session), "links": links, "confirm": True}
    upd = session.get(PublicIncidentUpdate, int(payload["update"]))
    if upd is None:
        return None
    pub = session.get(PublicIncident, upd.public_incident_id)
    if pub is None or _linked_private(session, pub):
        return None
    return {
        "subscriber": sub,
        "page": page_name(session),
        "links": links,
        "confirm": False,
        "incident": pub,
        "update": upd,
        "idempotency_key": f"{upd.code}:{sub.id}",
    }
