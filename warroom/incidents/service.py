"""The incident lifecycle: declare, staff, log, change status and severity, resolve.

Every function checks the caller's role, validates before it writes, and runs inside
the caller's transaction: a request that fails changes nothing. Each change is written
with its timeline entry and then published through the seam (`incidents.events`), so
paging, update cadence and response-target timers react in the same transaction
without this module knowing them. Reads live in `queries`, the journal in `timeline`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom import seam
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed, require_choice
from warroom.core.principal import Principal, require_responder
from warroom.core.urls import require_web_url
from warroom.incidents import events, rules
from warroom.incidents.models import (
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
    TimelineEvent,
)
from warroom.incidents.queries import milestones
from warroom.incidents.timeline import active_roles, record
from warroom.org.service import services_by_names, severity_by_name, user_by_name
from warroom.severity.levels import is_downgrade

MAX_TITLE = 200


# --- helpers ----------------------------------------------------------------------------


def lock(session: Session, inc: Incident) -> None:
    """Takes the incident's row lock for the rest of the caller's transaction and reloads
    the incident, so concurrent writers to one incident run one after the other and each
    sees what the previous one committed (PostgreSQL; a SQLite write transaction already
    holds the whole store). Every write below starts with it."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(select(Incident.id).where(Incident.id == inc.id).with_for_update())
    session.refresh(inc)


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
    """Declares an incident (status investigating), returns it and publishes IncidentDeclared.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422) for an empty or over
    200-character title (`title`), a bridge URL that is not http(s) (`bridge_url`), an unknown
    severity (`severity`) or services (`services`), a
    detection source outside DETECTION_SOURCES (`detection_source`), a start or detection time more
    than a minute ahead or a start after detection (`started_at`/`detected_at`); NotFound (404,
    field `user`) for an unknown `commander` and ValidationFailed (`user`) for a deactivated one.
    The caller becomes a participant; a `commander` is assigned (see assign_role) before
    IncidentDeclared is published. Paging, update cadence and response-target timers start in the
    caller's transaction."""
    require_responder(principal)
    title = _clean_text(title, "title", MAX_TITLE)
    bridge_url = require_web_url(_clean_text(bridge_url, "bridge_url", 500, False), "bridge_url")
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
        bridge_url=bridge_url,
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
    seam.publish(
        session,
        clock,
        events.IncidentDeclared(at=now, incident_id=inc.id, severity=sev.name, by=principal.name),
    )
    return inc


# --- changes ----------------------------------------------------------------------------


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
    """Appends a note, decision, action or communication to the incident's timeline and returns it.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422) for another kind
    (`kind`), empty or over 10,000-character text (`text`), an unknown role (`role`) or a
    `corrects` id that is not in this incident (`corrects`). Allowed on closed incidents too.
    Changes no incident state and publishes nothing; runs in the caller's transaction."""
    lock(session, inc)
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
    """Acknowledges the incident and publishes IncidentAcknowledged, which stops its pages.
    Needs the responder role (Forbidden, 403); raises Conflict (409) for a closed incident. The
    acknowledged milestone is set (publishing IncidentMilestoneChanged) only the first time;
    IncidentAcknowledged is published on every call, also for a resolved incident. Runs in the
    caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    rules.require_open(inc.id, inc.status, "acknowledging")
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
        _milestone_changed(session, clock, inc, "acknowledged", None, principal.name)
    seam.publish(
        session,
        clock,
        events.IncidentAcknowledged(at=clock.now(), incident_id=inc.id, by=principal.name),
    )


def assign_role(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    role: str,
    user_name: str,
) -> None:
    """Gives `user_name` the role and publishes IncidentRoleChanged; a role already held is a no-op.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422) for an unknown role
    (`role`) or a deactivated user (`user`), NotFound (404, field `user`) for an unknown user and
    Conflict (409) for a closed incident. Every role but SME has one holder: the previous one is
    released. The first role of an unacknowledged incident sets the acknowledged milestone
    (without IncidentAcknowledged, so pages keep running) and the first commander sets ic_assigned,
    each publishing IncidentMilestoneChanged; a warning line is added when active responders
    exceed the span of control. The user becomes a participant; runs in the caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    require_choice(role, rules.ROLES, "role")
    rules.require_open(inc.id, inc.status, "assigning roles")
    user = user_by_name(session, user_name)
    if not user.active:
        raise ValidationFailed(f"user {user.name!r} is deactivated", field="user")
    now = clock.now()
    active = active_roles(session, inc.id)
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
    seam.publish(
        session,
        clock,
        events.IncidentRoleChanged(
            at=now,
            incident_id=inc.id,
            role=role,
            user=user.name,
            previous=previous,
            by=principal.name,
        ),
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
        _milestone_changed(session, clock, inc, "acknowledged", None, principal.name)
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
        _milestone_changed(session, clock, inc, "ic_assigned", None, principal.name)
    after = len({ra.user_id for ra, _ in active_roles(session, inc.id)})
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
    """Releases the role's holders (or only `user_name`), publishing IncidentRoleChanged for each.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422, field `role`) for an
    unknown role, Conflict (409) for a closed incident (its roles are its record) and NotFound
    (404, field `role`) when nobody matching holds it. Runs in the caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    require_choice(role, rules.ROLES, "role")
    rules.require_open(inc.id, inc.status, "releasing roles")
    now = clock.now()
    ended = []
    for ra, name in active_roles(session, inc.id):
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
        seam.publish(
            session,
            clock,
            events.IncidentRoleChanged(
                at=now, incident_id=inc.id, role=role, user=None, previous=name, by=principal.name
            ),
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
    """Moves the incident to `status`, publishing IncidentStatusChanged; its own status is a no-op.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422, field `status`) for an
    unknown status and Conflict (409, field `status`, with `allowed`) for a move the lifecycle does
    not allow. Identified, monitoring or resolved sets the mitigation_started milestone if unset
    (no line of its own: the status line says it). Monitoring or resolved sets the mitigated
    milestone if unset; resolved sets the
    resolved one and publishes IncidentResolved (its pages stop); closed sets closed_at and
    publishes IncidentClosed; leaving resolved clears resolved_at and closed_at and publishes
    IncidentReopened. Each milestone set publishes IncidentMilestoneChanged. Runs in the caller's
    transaction."""
    lock(session, inc)
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
    if status in ("identified", "monitoring", "resolved") and inc.mitigation_started_at is None:
        inc.mitigation_started_at = now
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
    by = principal.name
    seam.publish(
        session,
        clock,
        events.IncidentStatusChanged(
            at=now, incident_id=inc.id, from_status=old, to_status=status, by=by
        ),
    )
    if status == "resolved":
        seam.publish(session, clock, events.IncidentResolved(at=now, incident_id=inc.id, by=by))
    elif status == "closed":
        seam.publish(session, clock, events.IncidentClosed(at=now, incident_id=inc.id, by=by))
    elif old == "resolved":
        seam.publish(
            session,
            clock,
            events.IncidentReopened(at=now, incident_id=inc.id, to_status=status, by=by),
        )


def resolve(
    session: Session, clock: Clock, principal: Principal, inc: Incident, *, summary: str = ""
) -> None:
    """Resolves the incident as change_status does, keeping a non-empty `summary` as its
    resolution. Same role check, errors and events as change_status, plus ValidationFailed
    (422, field `summary`) over 10,000 characters; on an incident resolved already, only the
    summary changes."""
    lock(session, inc)
    require_responder(principal)
    rules.require_open(inc.id, inc.status, "resolving")
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
    """Sets the severity and publishes IncidentSeverityChanged; the current severity is a no-op.
    Needs the responder role (Forbidden, 403). Raises Conflict (409) for a closed incident, and
    ValidationFailed (422) for an unknown severity (field `severity`) or a downgrade without a
    reason (field `reason`). Resolved incidents may change severity too. Runs in the caller's
    transaction."""
    lock(session, inc)
    require_responder(principal)
    rules.require_open(inc.id, inc.status, "changing severity")
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
    seam.publish(
        session,
        clock,
        events.IncidentSeverityChanged(
            at=clock.now(),
            incident_id=inc.id,
            from_severity=old.name,
            to_severity=new.name,
            by=principal.name,
        ),
    )


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
    _milestone_changed(session, clock, inc, name, old, principal.name)


def _milestone_changed(
    session: Session, clock: Clock, inc: Incident, name: str, old: datetime | None, by: str
) -> None:
    seam.publish(
        session,
        clock,
        events.IncidentMilestoneChanged(
            at=clock.now(),
            incident_id=inc.id,
            milestone=name,
            from_time=iso(old),
            to_time=iso(getattr(inc, f"{name}_at")),
            by=by,
        ),
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
    """Sets or clears (`at=None`) one milestone of the incident; its current value is a no-op.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422) for an unknown
    milestone (field `milestone`), and (field `at`) for clearing `declared`, a time more than a
    minute ahead or an order the milestones cannot have. Records a timeline line and publishes
    IncidentMilestoneChanged; allowed on closed incidents. Runs in the caller's transaction."""
    lock(session, inc)
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


def _affected_share(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed("affected_percent must be a number", field="affected_percent")
    if not 0 < value <= 100:
        raise ValidationFailed(
            "affected_percent must be above 0 and at most 100", field="affected_percent"
        )
    return float(value)


def update_fields(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    changes: dict[str, Any],
) -> None:
    """Applies the editable fields found in `changes` and notes them in one timeline line.
    Editable: title, impact_summary, bridge_url, customer_facing, affected_percent (0 < x <= 100,
    or None: not recorded), private and services (replaced);
    other keys are ignored. Needs the responder role (Forbidden, 403). Raises Conflict (409) for a
    closed incident and ValidationFailed (422) for an empty or over-long title (`title`), an
    over-long impact summary or an over-long or non-http(s) bridge URL (`impact_summary`,
    `bridge_url`) or unknown services
    (`services`). Publishes IncidentServicesChanged when services are given (nobody pages on it:
    new services are not paged, removed ones keep paging) and IncidentVisibilityChanged. Runs
    in the caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    rules.require_open(inc.id, inc.status, "editing")
    texts = []
    if "title" in changes:
        inc.title = _clean_text(changes["title"], "title", MAX_TITLE)
        texts.append(f"title to {inc.title!r}")
    if "impact_summary" in changes:
        inc.impact_summary = _clean_text(changes["impact_summary"], "impact_summary", 10_000, False)
        texts.append("impact summary")
    if "bridge_url" in changes:
        inc.bridge_url = require_web_url(
            _clean_text(changes["bridge_url"], "bridge_url", 500, False), "bridge_url"
        )
        texts.append("bridge URL")
    if "customer_facing" in changes:
        inc.customer_facing = bool(changes["customer_facing"])
        texts.append(f"customer-facing to {inc.customer_facing}")
    if "affected_percent" in changes:
        inc.affected_percent = _affected_share(changes["affected_percent"])
        shown = "not recorded" if inc.affected_percent is None else f"{inc.affected_percent:g}%"
        texts.append(f"affected share to {shown}")
    was_private = inc.private
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
        session.flush()
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
    if "services" in changes:
        seam.publish(
            session,
            clock,
            events.IncidentServicesChanged(at=clock.now(), incident_id=inc.id, by=principal.name),
        )
    if inc.private != was_private:
        seam.publish(
            session,
            clock,
            events.IncidentVisibilityChanged(
                at=clock.now(),
                incident_id=inc.id,
                from_private=was_private,
                to_private=inc.private,
                by=principal.name,
            ),
        )


def add_participant(
    session: Session, principal: Principal, inc: Incident, *, user_name: str
) -> None:
    """Makes the user a participant (so they may see the incident if private); idempotent.
    Needs the responder role (Forbidden, 403); raises NotFound (404, field `user`) for an unknown
    user. Records no timeline line and publishes nothing; allowed on closed incidents and for
    deactivated users. Runs in the caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    user = user_by_name(session, user_name)
    _add_participant(session, inc.id, user.id)


def mark_repeat(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    of: Incident | None,
) -> None:
    """Marks the incident as a repeat of the earlier incident `of`, or clears the mark
    (`of=None`); the current mark is a no-op. Needs the responder role (Forbidden, 403).
    Raises ValidationFailed (422, field `of`) when `of` is the incident itself or was declared
    after it. Records a timeline line and publishes IncidentRepeatChanged; allowed on closed
    incidents (repeats are often found in the review). Runs in the caller's transaction."""
    lock(session, inc)
    require_responder(principal)
    new_id = None if of is None else of.id
    if of is not None:
        if of.id == inc.id:
            raise ValidationFailed("an incident cannot repeat itself", field="of")
        if (ensure_utc(of.declared_at), of.id) > (ensure_utc(inc.declared_at), inc.id):
            raise ValidationFailed(
                f"{rules.short_id(of.id)} was declared after {rules.short_id(inc.id)}; "
                "a repeat points to an earlier incident",
                field="of",
            )
    old_id = inc.repeat_of_id
    if old_id == new_id:
        return
    inc.repeat_of_id = new_id
    text = (
        f"{principal.name} marked this a repeat of {rules.short_id(new_id)}"
        if new_id is not None
        else f"{principal.name} cleared the repeat mark (was {rules.short_id(old_id or 0)})"
    )
    record(
        session,
        clock,
        inc,
        kind="note",
        text=text,
        actor=principal,
        data={
            "repeat_of": None if new_id is None else rules.short_id(new_id),
            "previous": None if old_id is None else rules.short_id(old_id),
        },
    )
    seam.publish(
        session,
        clock,
        events.IncidentRepeatChanged(
            at=clock.now(),
            incident_id=inc.id,
            repeat_of_id=new_id,
            previous_id=old_id,
            by=principal.name,
        ),
    )


def note_customers_informed(
    session: Session, clock: Clock, incident_id: int, at: datetime, by: str
) -> None:
    """Sets the customers_informed milestone to `at` if it is unset (the first external
    update or status page post), with a timeline line and IncidentMilestoneChanged. A
    reaction, not a person's action: checks no role. Runs in the caller's transaction."""
    inc = session.get(Incident, incident_id)
    if inc is None or inc.customers_informed_at is not None:
        return
    lock(session, inc)
    if inc.customers_informed_at is not None:
        return
    actor = Principal(role="admin", user_id=None, name=by)
    _set_milestone(session, clock, actor, inc, "customers_informed", ensure_utc(at), auto=True)
