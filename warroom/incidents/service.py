"""The incident lifecycle: declare, staff, log, change status and severity, resolve.

Every function validates before it writes, and runs inside the caller's
transaction: a request that fails changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_choice
from warroom.core.pagination import decode_cursor, encode_cursor
from warroom.core.principal import Principal
from warroom.engine.queue import enqueue
from warroom.paging import service as paging
from warroom.incidents import rules
from warroom.incidents.models import (
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
    TimelineEvent,
)
from warroom.org.models import Service, User
from warroom.org.service import services_by_names, severity_by_name, user_by_name
from warroom.severity.levels import is_downgrade, timer_targets

MAX_TITLE = 200
REMINDER_ROUNDS = 6


# --- visibility -------------------------------------------------------------------------


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


def require_responder(principal: Principal) -> None:
    if not principal.can("responder"):
        raise Forbidden("this action needs the responder role")


# --- helpers ----------------------------------------------------------------------------


def _add_participant(session: Session, incident_id: int, user_id: int | None) -> None:
    if user_id is None:
        return
    exists = session.scalar(
        select(IncidentParticipant.id).where(
            IncidentParticipant.incident_id == incident_id,
            IncidentParticipant.user_id == user_id,
        )
    )
    if exists is None:
        session.add(IncidentParticipant(incident_id=incident_id, user_id=user_id))


def _active_roles(session: Session, incident_id: int) -> list[tuple[RoleAssignment, str]]:
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
    held = [ra.role for ra, _ in _active_roles(session, incident_id) if ra.user_id == user_id]
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


def _schedule_targets(session: Session, clock: Clock, incident: Incident) -> None:
    sev = severity_by_name(session, incident.severity)
    for target, minutes in timer_targets(sev.targets or {}).items():
        due = incident.declared_at + timedelta(minutes=minutes)
        enqueue(
            session,
            kind="response_target",
            key=f"target:{incident.id}:{sev.name}:{target}:0",
            due_at=max(due, clock.now()),
            payload={
                "incident_id": incident.id,
                "severity": sev.name,
                "target": target,
                "minutes": minutes,
                "round": 0,
            },
            now=clock.now(),
        )
    from warroom.comms.service import schedule_cadence  # comms imports this module

    schedule_cadence(session, clock, incident)


def _clean_text(value: str, field: str, max_len: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(text) > max_len:
        raise ValidationFailed(f"{field} is longer than {max_len} characters", field=field)
    return text


# --- declare ----------------------------------------------------------------------------


def declare(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    title: str,
    severity: str,
    services: list[str] | None = None,
    impact_summary: str = "",
    detection_source: str = "internal_report",
    customer_facing: bool = False,
    private: bool = False,
    drill: bool = False,
    bridge_url: str = "",
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    commander: str | None = None,
) -> Incident:
    require_responder(principal)
    title = _clean_text(title, "title", MAX_TITLE)
    sev = severity_by_name(session, severity)
    svcs = services_by_names(session, services or [])
    require_choice(detection_source, rules.DETECTION_SOURCES, "detection_source")
    now = clock.now()
    detected = ensure_utc(detected_at) if detected_at else now
    started = ensure_utc(started_at) if started_at else detected
    for name, value in (("started_at", started), ("detected_at", detected)):
        if value > now + timedelta(minutes=1):
            raise ValidationFailed(f"{name} is in the future", field=name)
    if started > detected:
        raise ValidationFailed("started_at is after detected_at", field="started_at")
    ic_user = user_by_name(session, commander) if commander else None

    inc = Incident(
        title=title,
        severity=sev.name,
        status="investigating",
        impact_summary=impact_summary.strip(),
        resolution_summary="",
        detection_source=detection_source,
        customer_facing=customer_facing,
        private=private,
        drill=drill,
        channel="",
        bridge_url=bridge_url.strip(),
        created_by_id=principal.user_id,
        started_at=started,
        detected_at=detected,
        declared_at=now,
        updated_at=now,
    )
    session.add(inc)
    session.flush()
    inc.channel = rules.channel_name(now, title)
    for svc in svcs:
        session.add(IncidentService(incident_id=inc.id, service_id=svc.id))
    _add_participant(session, inc.id, principal.user_id)
    parts = [f"Declared {sev.name} ({sev.label}): {title}"]
    if drill:
        parts.append("[drill]")
    if private:
        parts.append("[private]")
    record(
        session,
        clock,
        inc,
        kind="status",
        text=" ".join(parts),
        actor=principal,
        data={"status": "investigating", "severity": sev.name},
    )
    if started != now:
        record(
            session,
            clock,
            inc,
            kind="milestone",
            text=f"Impact started at {iso(started)}",
            actor=principal,
            data={"milestone": "started", "to": iso(started)},
        )
    if ic_user is not None:
        assign_role(session, clock, principal, inc, role="commander", user_name=ic_user.name)
    _schedule_targets(session, clock, inc)
    paging.start_for_incident(session, clock, inc.id, inc.title)
    return inc


# --- list / show ------------------------------------------------------------------------


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
    return {
        "started": inc.started_at,
        "detected": inc.detected_at,
        "acknowledged": inc.acknowledged_at,
        "declared": inc.declared_at,
        "ic_assigned": inc.ic_assigned_at,
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
        "private": inc.private,
        "drill": inc.drill,
        "channel": inc.channel,
        "bridge_url": inc.bridge_url,
        "declared_at": iso(inc.declared_at),
        "resolved_at": iso(inc.resolved_at),
    }


def event_dict(ev: TimelineEvent) -> dict[str, Any]:
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
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.id > after_id)
            .order_by(TimelineEvent.id)
        )
    )


def detail(
    session: Session, clock: Clock, inc: Incident, with_timeline: bool = True
) -> dict[str, Any]:
    out = summarize(session, [inc])[0]
    active = _active_roles(session, inc.id)
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


# --- changes ----------------------------------------------------------------------------


def _require_open(inc: Incident, what: str) -> None:
    if inc.status == "closed":
        raise Conflict(f"{rules.short_id(inc.id)} is closed; {what} is not possible")


def log_event(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    kind: str,
    text: str,
    role: str | None = None,
    corrects: int | None = None,
) -> TimelineEvent:
    require_responder(principal)
    require_choice(kind, rules.USER_EVENT_KINDS, "kind")
    text = _clean_text(text, "text", 10_000)
    if role is not None:
        require_choice(role, rules.ROLES, "role")
    if corrects is not None:
        target = session.get(TimelineEvent, corrects)
        if target is None or target.incident_id != inc.id:
            raise ValidationFailed(
                f"event {corrects} is not in {rules.short_id(inc.id)}", field="corrects"
            )
    return record(
        session,
        clock,
        inc,
        kind=kind,
        text=text,
        actor=principal,
        role=role,
        corrects_id=corrects,
    )


def acknowledge(session: Session, clock: Clock, principal: Principal, inc: Incident) -> None:
    require_responder(principal)
    _require_open(inc, "acknowledging")
    if inc.acknowledged_at is None:
        inc.acknowledged_at = clock.now()
        record(
            session,
            clock,
            inc,
            kind="milestone",
            text=f"Acknowledged by {principal.name}",
            actor=principal,
            data={"milestone": "acknowledged", "to": iso(inc.acknowledged_at)},
        )
    paging.stop_for_incident(session, clock, inc.id, "acknowledge", principal.name)


def assign_role(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    role: str,
    user_name: str,
) -> None:
    require_responder(principal)
    require_choice(role, rules.ROLES, "role")
    _require_open(inc, "assigning roles")
    user = user_by_name(session, user_name)
    if not user.active:
        raise ValidationFailed(f"user {user.name!r} is deactivated", field="user")
    now = clock.now()
    active = _active_roles(session, inc.id)
    before = len({ra.user_id for ra, _ in active})
    if any(ra.role == role and ra.user_id == user.id for ra, _ in active):
        return  # already holds it: assigning again changes nothing
    previous = None
    if role in rules.SINGLE_HOLDER_ROLES:
        for ra, name in active:
            if ra.role == role:
                ra.ended_at = now
                previous = name
    session.add(
        RoleAssignment(
            incident_id=inc.id,
            role=role,
            user_id=user.id,
            assigned_by_id=principal.user_id,
            assigned_at=now,
        )
    )
    _add_participant(session, inc.id, user.id)
    session.flush()
    title = rules.ROLE_TITLES[role]
    text = f"{user.name} is now {title}"
    if previous:
        text += f" (was {previous})"
    record(
        session,
        clock,
        inc,
        kind="role",
        text=text,
        actor=principal,
        data={"role": role, "user": user.name, "previous": previous},
    )
    if inc.acknowledged_at is None:
        inc.acknowledged_at = now
        record(
            session,
            clock,
            inc,
            kind="milestone",
            text=f"Acknowledged ({user.name} took a role)",
            actor=principal,
            data={"milestone": "acknowledged", "to": iso(now)},
        )
    if role == "commander" and inc.ic_assigned_at is None:
        inc.ic_assigned_at = now
        record(
            session,
            clock,
            inc,
            kind="milestone",
            text=f"Incident Commander assigned: {user.name}",
            actor=principal,
            data={"milestone": "ic_assigned", "to": iso(now)},
        )
    after = len({ra.user_id for ra, _ in _active_roles(session, inc.id)})
    if after > rules.SPAN_OF_CONTROL >= before:
        record(
            session,
            clock,
            inc,
            kind="warning",
            text=(
                f"{after} active responders: more than {rules.SPAN_OF_CONTROL} exceeds one "
                "commander's span of control. Consider releasing people or splitting work."
            ),
            actor=None,
            data={"warning": "span_of_control", "active_responders": after},
        )


def unassign_role(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    role: str,
    user_name: str | None = None,
) -> None:
    require_responder(principal)
    require_choice(role, rules.ROLES, "role")
    now = clock.now()
    ended = []
    for ra, name in _active_roles(session, inc.id):
        if ra.role == role and (user_name is None or name == user_name):
            ra.ended_at = now
            ended.append(name)
    if not ended:
        raise NotFound(f"nobody holds {role} on {rules.short_id(inc.id)}", field="role")
    for name in ended:
        record(
            session,
            clock,
            inc,
            kind="role",
            text=f"{name} released from {rules.ROLE_TITLES[role]}",
            actor=principal,
            data={"role": role, "user": None, "previous": name},
        )


def change_status(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    status: str,
    note: str = "",
) -> None:
    require_responder(principal)
    require_choice(status, rules.STATUSES, "status")
    if status == inc.status:
        return
    allowed = rules.allowed_transitions(inc.status)
    if status not in allowed:
        raise Conflict(
            f"{rules.short_id(inc.id)} is {inc.status}; it can move to "
            + (", ".join(allowed) if allowed else "nothing"),
            field="status",
            allowed=list(allowed),
        )
    now = clock.now()
    old = inc.status
    inc.status = status
    text = f"Status {old} → {status}"
    if note.strip():
        text += f": {note.strip()}"
    record(
        session,
        clock,
        inc,
        kind="status",
        text=text,
        actor=principal,
        data={"from": old, "to": status},
    )
    if status in ("monitoring", "resolved") and inc.mitigated_at is None:
        _set_milestone(session, clock, principal, inc, "mitigated", now, auto=True)
    if status == "resolved":
        _set_milestone(session, clock, principal, inc, "resolved", now, auto=True)
    elif status == "closed":
        inc.closed_at = now
    elif old == "resolved":
        # Reopened: the incident is not resolved any more.
        inc.resolved_at = None
        inc.closed_at = None
        _schedule_targets(session, clock, inc)
        paging.start_for_incident(session, clock, inc.id, inc.title)
    if status in ("resolved", "closed"):
        paging.stop_for_incident(session, clock, inc.id, "resolve", principal.name)


def resolve(
    session: Session, clock: Clock, principal: Principal, inc: Incident, *, summary: str = ""
) -> None:
    if summary.strip():
        inc.resolution_summary = _clean_text(summary, "summary", 10_000)
    change_status(session, clock, principal, inc, status="resolved", note=summary)


def change_severity(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    severity: str,
    reason: str = "",
) -> None:
    require_responder(principal)
    _require_open(inc, "changing severity")
    new = severity_by_name(session, severity)
    if new.name == inc.severity:
        return
    old = severity_by_name(session, inc.severity)
    reason = reason.strip()
    downgrade = is_downgrade(old.rank, new.rank)
    if downgrade and not reason:
        raise ValidationFailed(
            f"downgrading from {old.name} to {new.name} needs a reason (when in doubt, escalate)",
            field="reason",
        )
    inc.severity = new.name
    verb = "Downgraded" if downgrade else "Escalated"
    text = f"{verb} {old.name} → {new.name}"
    if reason:
        text += f": {reason}"
    record(
        session,
        clock,
        inc,
        kind="severity",
        text=text,
        actor=principal,
        data={"from": old.name, "to": new.name, "reason": reason},
    )
    if inc.status not in ("resolved", "closed"):
        _schedule_targets(session, clock, inc)


def _set_milestone(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    name: str,
    at: datetime | None,
    auto: bool = False,
) -> None:
    attr = f"{name}_at"
    old = getattr(inc, attr)
    setattr(inc, attr, at)
    if auto:
        text = f"{name.replace('_', ' ').capitalize()} at {iso(at)}"
    else:
        text = (
            f"{principal.name} changed {name.replace('_', ' ')} from {iso(old) or 'unset'} to "
            + (iso(at) or "unset")
        )
    record(
        session,
        clock,
        inc,
        kind="milestone",
        text=text,
        actor=principal,
        data={"milestone": name, "from": iso(old), "to": iso(at)},
    )


def edit_milestone(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    name: str,
    at: datetime | None,
) -> None:
    require_responder(principal)
    require_choice(name, rules.MILESTONES, "milestone")
    if name == "declared" and at is None:
        raise ValidationFailed("declared cannot be unset", field="at")
    if at is not None:
        at = ensure_utc(at)
        if at > clock.now() + timedelta(minutes=1):
            raise ValidationFailed(f"{name} cannot be in the future", field="at")
    proposed = milestones(inc)
    proposed[name] = at
    problems = rules.milestone_order_problems(proposed)
    if problems:
        raise ValidationFailed("; ".join(problems), field="at")
    if getattr(inc, f"{name}_at") == at:
        return
    _set_milestone(session, clock, principal, inc, name, at)


def update_fields(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    changes: dict[str, Any],
) -> None:
    require_responder(principal)
    _require_open(inc, "editing")
    texts = []
    if "title" in changes:
        inc.title = _clean_text(changes["title"], "title", MAX_TITLE)
        texts.append(f"title to {inc.title!r}")
    if "impact_summary" in changes:
        inc.impact_summary = _clean_text(changes["impact_summary"], "impact_summary", 10_000, False)
        texts.append("impact summary")
    if "bridge_url" in changes:
        inc.bridge_url = _clean_text(changes["bridge_url"], "bridge_url", 500, False)
        texts.append("bridge URL")
    if "customer_facing" in changes:
        inc.customer_facing = bool(changes["customer_facing"])
        texts.append(f"customer-facing to {inc.customer_facing}")
    if "private" in changes:
        inc.private = bool(changes["private"])
        texts.append(f"private to {inc.private}")
    if "services" in changes:
        svcs = services_by_names(session, list(changes["services"]))
        for link in session.scalars(
            select(IncidentService).where(IncidentService.incident_id == inc.id)
        ):
            session.delete(link)
        session.flush()
        for svc in svcs:
            session.add(IncidentService(incident_id=inc.id, service_id=svc.id))
        texts.append("services to " + (", ".join(s.name for s in svcs) or "none"))
    if texts:
        record(
            session,
            clock,
            inc,
            kind="note",
            text="Changed " + "; ".join(texts),
            actor=principal,
            data={"changed": sorted(changes)},
        )


def add_participant(
    session: Session, principal: Principal, inc: Incident, *, user_name: str
) -> None:
    require_responder(principal)
    user = user_by_name(session, user_name)
    _add_participant(session, inc.id, user.id)


# --- engine work ------------------------------------------------------------------------


def check_response_target(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """A response target fell due: warn in the timeline if it was missed, and schedule
    a reminder that repeats while it stays missed. Idempotent per (target, round)."""
    inc = session.get(Incident, int(payload["incident_id"]))
    if inc is None or inc.status not in rules.ACTIVE_STATUSES:
        return
    if inc.severity != payload["severity"]:
        return  # the severity changed; its own timers took over
    target = payload["target"]
    if target == "ic_minutes":
        met = any(ra.role == "commander" for ra, _ in _active_roles(session, inc.id))
        what = "no Incident Commander"
    else:
        met = inc.acknowledged_at is not None
        what = "not acknowledged"
    if met:
        return
    rnd = int(payload.get("round", 0))
    minutes = int(payload["minutes"])
    key = f"{inc.severity}:{target}:{rnd}"
    already = session.scalar(
        select(TimelineEvent.id).where(
            TimelineEvent.incident_id == inc.id,
            TimelineEvent.kind == "warning",
            TimelineEvent.data["target_key"].as_string() == key,
        )
    )
    if already is None:
        elapsed = int((clock.now() - inc.declared_at).total_seconds() // 60)
        prefix = "Reminder: still " if rnd else "Response target missed: "
        record(
            session,
            clock,
            inc,
            kind="warning",
            text=(
                f"{prefix}{what} {elapsed} min after declaration "
                f"({inc.severity} target: {minutes} min)"
            ),
            actor=None,
            data={"warning": "response_target", "target": target, "target_key": key},
        )
    if rnd + 1 < REMINDER_ROUNDS:
        enqueue(
            session,
            kind="response_target",
            key=f"target:{inc.id}:{inc.severity}:{target}:{rnd + 1}",
            due_at=clock.now() + timedelta(minutes=minutes),
            payload={**payload, "round": rnd + 1},
            now=clock.now(),
        )
