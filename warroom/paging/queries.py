"""What the paging API, web pages and CLI show and check: which pages a caller may see,
whose contact methods a caller may read or change, the one-click page link, and the
test notification an on-call engineer sends to check their setup."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.incidents.models import Incident
from warroom.incidents.queries import get_incident, visible_clause
from warroom.incidents.rules import short_id
from warroom.notify import channels
from warroom.org.models import User
from warroom.org.service import user_by_name
from warroom.paging import links, rules
from warroom.paging.contacts import contact_methods
from warroom.paging.models import ContactMethod, Escalation, InstanceKey, Notification

# A one-click link acts for this long after its notification was made.
LINK_LIFETIME = timedelta(days=7)

# --- which pages a caller may see -------------------------------------------------------


def visible(session: Session, who: Principal, escalations: list[Escalation]) -> list[Escalation]:
    """Escalations of private incidents are seen by those who may see the incident."""
    ids = {e.incident_id for e in escalations if e.incident_id is not None}
    if not ids or who.is_admin:
        return escalations
    seen = set(
        session.scalars(select(Incident.id).where(Incident.id.in_(ids), visible_clause(who)))
    )
    return [e for e in escalations if e.incident_id is None or e.incident_id in seen]


def get_visible(session: Session, who: Principal, escalation_id: int) -> Escalation:
    """Returns the page (escalation) with this id if the caller may see it.
    Raises NotFound (404, field `escalation_id`) for a missing page and for one of a private
    incident the caller may not see. Checks no role; reads only."""
    esc = get_escalation(session, escalation_id)
    if not visible(session, who, [esc]):
        # A private incident's page is indistinguishable from a missing one.
        raise NotFound(f"page {escalation_id} not found", field="escalation_id")
    return esc


def incident_number(session: Session, who: Principal, ref: str, field: str = "incident") -> int:
    """The number of an incident the caller may see; errors name `field`."""
    try:
        return get_incident(session, who, ref).id
    except DomainError as exc:
        raise type(exc)(exc.message, field=field) from exc


def list_for(
    session: Session,
    who: Principal,
    *,
    state: str | None = None,
    incident: str | None = None,
    user: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Returns up to `limit` pages as API dicts, newest first, without those the caller may not see.
    Filters by `state` (`active` or one state), `incident` and notified `user`. Raises
    ValidationFailed (422, field `state`) for an unknown state, incident_number's errors (field
    `incident`) and NotFound (404, field `user`) for an unknown user. Invisible pages are dropped
    after the limit, so fewer may come back. Checks no role; reads only."""
    incident_id = incident_number(session, who, incident) if incident else None
    user_id = user_by_name(session, user).id if user else None
    rows = list_escalations(
        session, state=state or None, incident_id=incident_id, user_id=user_id, limit=limit
    )
    return [escalation_dict(session, e) for e in visible(session, who, rows)]


def notified(session: Session, escalation_id: int) -> list[str]:
    """Who this escalation notified (people by name, in order), for lists."""
    rows = session.execute(
        select(User.name)
        .join(Notification, Notification.user_id == User.id)
        .where(Notification.escalation_id == escalation_id)
        .order_by(Notification.id)
    )
    return list(dict.fromkeys(name for (name,) in rows))


# --- contact methods --------------------------------------------------------------------


def contact_owner(session: Session, who: Principal, name: str, action: str) -> User:
    """The user whose contact methods `who` wants to read or change: their own, or anyone's
    for an admin."""
    user = user_by_name(session, name)
    if user.id != who.user_id and not who.is_admin:
        raise Forbidden(f"only admins may {action} another user's contact methods", field="user")
    return user


def keep_secrets(
    session: Session, user: User, methods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A method given without `secret` keeps the one it has (so editing what GET showed,
    where secrets are hidden, does not drop them); an empty string removes it."""
    current = {m.name: m.secret for m in contact_methods(session, user.id)}
    return [
        {
            **m,
            "secret": current.get(str(m.get("name")), "")
            if m.get("secret") is None
            else m["secret"],
        }
        for m in methods
    ]


@dataclass(frozen=True)
class Channel:
    user: str
    method: str
    kind: str
    address: str
    secret: str


def contact_channel(session: Session, user: User, method: str) -> Channel:
    """Returns the user's contact method named `method` as a Channel, its secret included.
    Raises NotFound (404, field `method`), listing the methods the user has. Checks no role."""
    row = session.scalar(
        select(ContactMethod).where(ContactMethod.user_id == user.id, ContactMethod.name == method)
    )
    if row is None:
        names = [m.name for m in contact_methods(session, user.id)]
        known = f"; {user.name} has {', '.join(names)}" if names else f"; {user.name} has none"
        raise NotFound(f"no contact method named {method!r}{known}", field="method")
    return Channel(user.name, row.name, row.kind, row.address, row.secret)


def send_test(clock: Clock, ch: Channel) -> dict[str, Any]:
    """Sends a test notification now (no transaction is open meanwhile). Its `outcome` is
    "delivered"; a failure raises channels.DeliveryFailed, whose `public` text is all the
    caller should be shown."""
    now = clock.now()
    key = f"test:{ch.user}:{ch.method}:{secrets.token_hex(6)}"
    base = links.base_url()
    msg = channels.Message(
        key=key,
        subject=f"warroom test notification for {ch.user} ({ch.method})",
        text=(
            f"This is a test of {ch.user}'s contact method {ch.method!r} ({ch.kind}), "
            f"sent at {iso(now)}.\nNothing needs doing: if you can read this, pages reach you "
            "this way." + (f"\n\n{base}" if base else "")
        ),
        data={
            "event": "test",
            "recipient": ch.user,
            "method": ch.method,
            "kind": ch.kind,
            "sent_at": iso(now),
        },
    )
    try:
        channels.send(ch.kind, ch.address, ch.secret, msg)
    except channels.DeliveryFailed:
        raise
    except Exception as exc:  # a channel library failing its own way is a failed send
        raise channels.DeliveryFailed(channels.failure_text(exc)) from exc
    return {
        "user": ch.user,
        "method": ch.method,
        "kind": ch.kind,
        "ok": True,
        "outcome": channels.DELIVERED,
        "idempotency_key": key,
        "sent_at": iso(now),
    }


# --- the one-click link -----------------------------------------------------------------


def link_target(session: Session, token: str) -> tuple[Notification, Escalation, str] | None:
    """The notification, escalation and action a genuine link names, else None. Reads only:
    an installation that never signed a link has no key, so no token is genuine."""
    row = session.get(InstanceKey, links.KEY_NAME)
    if row is None or len(token) > 200:
        return None
    found = links.verify(row.value.encode(), token)
    if found is None:
        return None
    nid, action = found
    n = session.get(Notification, nid)
    if n is None:
        return None
    esc = session.get(Escalation, n.escalation_id)
    if esc is None:
        return None
    return n, esc, action


def recipient(session: Session, n: Notification) -> Principal:
    """Who acts through a link: the notification's recipient (a responder for this page), or
    the team channel that received the fallback."""
    if n.user_id is not None:
        user = session.get(User, n.user_id)
        if user is not None:
            return Principal(role="responder", user_id=user.id, name=user.name)
    return Principal(role="responder", user_id=None, name="fallback channel")


def link_actor(session: Session, clock: Clock, n: Notification) -> Principal:
    """Who acts when a link is used now: the recipient with their current role, or the
    team channel (as a responder) for a fallback. Raises Forbidden (403) for a link older
    than LINK_LIFETIME or a recipient who has since been deactivated; a recipient since
    made a viewer is refused by the action's own role check."""
    if ensure_utc(n.created_at) + LINK_LIFETIME < clock.now():
        raise Forbidden(
            f"this link is older than {LINK_LIFETIME.days} days and no longer acts; "
            "log in to warroom to acknowledge or resolve"
        )
    if n.user_id is None:
        return Principal(role="responder", user_id=None, name="fallback channel")
    user = session.get(User, n.user_id)
    if user is None or not user.active:
        raise Forbidden("the person this link was sent to is deactivated; nothing was changed")
    return Principal(role=user.role, user_id=user.id, name=user.name)


def link_view(session: Session, n: Notification, esc: Escalation, action: str) -> dict[str, Any]:
    """What the link page shows: what was paged, for whom, and where it stands now."""
    who = recipient(session, n)
    out: dict[str, Any] = {
        "action": action,
        "verb": "Acknowledge" if action == "ack" else "Resolve",
        "escalation_id": esc.id,
        "policy": esc.policy_name,
        "title": esc.title,
        "severity": None,
        "status": None,
        "incident": None,
        "incident_number": None,
        "alert_id": esc.alert_id,
        "for": who.name,
        "reason": n.reason,
        "kind": n.kind,
        "state": esc.state,
        "acknowledged_by": esc.acknowledged_by or None,
        "acknowledged_at": iso(esc.acknowledged_at) if esc.acknowledged_at else None,
        "resolved_at": iso(esc.resolved_at) if esc.resolved_at else None,
        "started_at": iso(esc.started_at),
    }
    if esc.incident_id is not None:
        inc = session.get(Incident, esc.incident_id)
        if inc is not None:
            out.update(
                title=inc.title,
                severity=inc.severity,
                status=inc.status,
                incident=short_id(inc.id),
                incident_number=inc.id,
            )
    elif esc.alert_id is not None:
        alert = session.get(Alert, esc.alert_id)
        if alert is not None:
            out.update(title=alert.summary, severity=alert.source_severity, status=alert.status)
    return out


# --- pages as the API shows them ---------------------------------------------------------


def get_escalation(session: Session, escalation_id: int) -> Escalation:
    """Returns the page (escalation) with this id; raises NotFound (404, field `escalation_id`).
    Checks no visibility (see get_visible)."""
    if not 0 < escalation_id < 2**31:
        raise NotFound(f"page {escalation_id} not found", field="escalation_id")
    esc = session.get(Escalation, escalation_id)
    if esc is None:
        raise NotFound(f"page {escalation_id} not found", field="escalation_id")
    return esc


def notification_dict(n: Notification, users: dict[int, str]) -> dict[str, Any]:
    """Returns the API form of a notification, without address or secret, its error and
    log texts with URLs redacted (also those recorded before redaction at send time).
    Levels and passes count from 1."""
    return {
        "id": n.id,
        "user": users.get(n.user_id) if n.user_id else None,
        "kind": n.kind,
        "reason": n.reason,
        "level": n.level + 1,
        "pass": n.pass_no + 1,
        "state": n.state,
        "idempotency_key": n.key,
        "due_at": iso(n.due_at),
        "attempts": n.attempts,
        "last_error": channels.redact_text(n.last_error or ""),
        "sent_at": iso(n.sent_at) if n.sent_at else None,
        "log": [
            {**e, "detail": channels.redact_text(str(e.get("detail") or ""))} for e in n.log or []
        ],
    }


def escalation_dict(
    session: Session, esc: Escalation, with_notifications: bool = False
) -> dict[str, Any]:
    """Returns the API form of a page (escalation); levels and passes count from 1.
    With `with_notifications`, its notifications too, in due order."""

    plan = rules.Plan.from_json(esc.plan)
    out: dict[str, Any] = {
        "id": esc.id,
        "policy": esc.policy_name,
        "incident": short_id(esc.incident_id) if esc.incident_id else None,
        "alert_id": esc.alert_id,
        "title": esc.title,
        "state": esc.state,
        "level": esc.level + 1,
        "levels": len(plan.levels),
        "pass": esc.pass_no + 1,
        "passes": plan.repeat + 1,
        "next_step_at": iso(esc.next_step_at) if esc.next_step_at else None,
        "started_at": iso(esc.started_at),
        "acknowledged_at": iso(esc.acknowledged_at) if esc.acknowledged_at else None,
        "acknowledged_by": esc.acknowledged_by or None,
        "exhausted_at": iso(esc.exhausted_at) if esc.exhausted_at else None,
        "resolved_at": iso(esc.resolved_at) if esc.resolved_at else None,
    }
    if with_notifications:
        users = dict(session.execute(select(User.id, User.name)).all())
        out["notifications"] = [
            notification_dict(n, users)
            for n in session.scalars(
                select(Notification)
                .where(Notification.escalation_id == esc.id)
                .order_by(Notification.due_at, Notification.id)
            )
        ]
    return out


def list_escalations(
    session: Session,
    *,
    state: str | None = None,
    incident_id: int | None = None,
    user_id: int | None = None,
    limit: int = 100,
) -> list[Escalation]:
    """Returns up to `limit` escalations, newest first, by state, incident and notified user.
    Raises ValidationFailed (422, field `state`) for a state that is neither `active` nor one of
    STATES. Checks no visibility (see list_for); reads only."""
    q = select(Escalation)
    if state == "active":
        q = q.where(Escalation.state.in_(rules.ACTIVE))
    elif state:
        if state not in rules.STATES:
            raise ValidationFailed(
                f"state must be active or one of {', '.join(rules.STATES)}", field="state"
            )
        q = q.where(Escalation.state == state)
    if incident_id is not None:
        q = q.where(Escalation.incident_id == incident_id)
    if user_id is not None:
        q = q.where(
            Escalation.id.in_(
                select(Notification.escalation_id).where(Notification.user_id == user_id)
            )
        )
    return list(session.scalars(q.order_by(Escalation.id.desc()).limit(limit)))
