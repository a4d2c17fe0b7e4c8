"""The engine handler that delivers one notification.

It runs in three short steps so that no database transaction (on SQLite: the write lock)
is held while a receiver is slow: read what to send, send it, record the outcome. A crash
between sending and recording re-runs the job once its lease expires; the repeat carries
the same idempotency key. A failed attempt is retried with exponential backoff and jitter
up to MAX_ATTEMPTS times; the first failure also falls through to the person's next
contact method. Every attempt and its outcome is written to the incident timeline and
the notification's log with every URL redacted (channels.redact_text: what viewers see
never holds a webhook's token), and the address is checked against the outbound address
policy at each send (channels.send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.core.clock import Clock, iso
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.engine.worker import backoff
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.rules import short_id
from warroom.notify import channels
from warroom.org.models import Service, User
from warroom.paging import contacts, links, rules
from warroom.paging import service as paging
from warroom.paging.models import ContactMethod, Escalation, Notification

log = logging.getLogger("warroom.notify")


def _people(session: Session, n: Notification) -> str:
    if n.user_id is None:
        return "the fallback channel"
    name = session.scalar(select(User.name).where(User.id == n.user_id))
    return name or "a former user"


def _paged_alert(session: Session, esc: Escalation) -> Alert | None:
    """The alert a page is about: its own, or for an incident the alert that opened it
    (so its links, runbook and dashboard reach the person paged)."""
    if esc.alert_id is not None:
        return session.get(Alert, esc.alert_id)
    if esc.incident_id is None:
        return None
    return session.scalar(
        select(Alert).where(Alert.incident_id == esc.incident_id).order_by(Alert.id).limit(1)
    )


def compose(session: Session, n: Notification, esc: Escalation) -> channels.Message:
    """The message for a notification, built only from recorded facts; the same
    notification always gives the same message."""
    key = links.signing_key(session)
    ack_url = links.url(key, n.id, "ack")
    resolve_url = links.url(key, n.id, "resolve")
    recipient = _people(session, n)
    base = links.base_url()
    incident: dict[str, Any] | None = None
    alert: dict[str, Any] | None = None
    lines: list[str] = []
    if esc.incident_id is not None:
        inc = session.get(Incident, esc.incident_id)
        if inc is not None:
            services = list(
                session.scalars(
                    select(Service.name)
                    .join(IncidentService, IncidentService.service_id == Service.id)
                    .where(IncidentService.incident_id == inc.id)
                    .order_by(Service.name)
                )
            )
            ref = short_id(inc.id)
            incident = {
                "id": ref,
                "title": inc.title,
                "severity": inc.severity,
                "status": inc.status,
                "services": services,
                "url": f"{base}/incidents/{ref}",
                "declared_at": iso(inc.declared_at),
            }
            subject = f"[{inc.severity}] {ref} {inc.title}"
            lines += [
                f"{ref} ({inc.severity}, {inc.status}): {inc.title}",
                f"Services: {', '.join(services) or 'none recorded'}",
                f"Declared: {iso(inc.declared_at)}",
                f"Incident room: {incident['url']}",
            ]
    row = _paged_alert(session, esc)
    if row is not None:
        alert = {
            "id": row.id,
            "summary": row.summary,
            "dedup_key": row.dedup_key,
            "status": row.status,
            "severity": row.source_severity,
            "first_seen": iso(row.first_seen),
            "links": list(row.links or []),
            "annotations": dict(row.annotations or {}),
        }
        if incident is None:
            subject = f"[alert] {row.summary}"
        lines += [f"Alert: {row.summary}", f"First seen: {iso(row.first_seen)}"]
        for link in row.links or []:
            label = str(link.get("text") or "link").capitalize()
            lines.append(f"{label}: {link.get('href')}")
    if incident is None and alert is None:
        subject = esc.title
        lines.append(esc.title)
    fallback = n.reason.startswith("fallback")
    if fallback:
        subject = f"Unacknowledged: {subject}"
        lines.insert(0, f"Nobody acknowledged this page after every level of {esc.policy_name}.")
    lines += [
        "",
        f"Why you: {n.reason}",
        f"Acknowledge: {ack_url}",
        f"Resolve: {resolve_url}",
    ]
    data = {
        "event": "fallback" if fallback else "page",
        "recipient": recipient,
        "reason": n.reason,
        "escalation": {
            "id": esc.id,
            "policy": esc.policy_name,
            "level": n.level + 1,
            "pass": n.pass_no + 1,
            "started_at": iso(esc.started_at),
        },
        "incident": incident,
        "alert": alert,
        "links": {"acknowledge": ack_url, "resolve": resolve_url},
    }
    return channels.Message(key=n.key, subject=subject[:200], text="\n".join(lines), data=data)


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler (runs outside a transaction) for one delivery attempt; returns how
    to record the outcome in the engine's closing transaction."""
    nid, attempt = int(payload["notification_id"]), int(payload.get("attempt", 1))
    with db.read() as s:
        n = s.get(Notification, nid)
        if n is None or n.state != "pending":
            return None
        esc = s.get(Escalation, n.escalation_id)
        stopped = esc is None or (
            esc.state in ("acknowledged", "resolved") and not n.reason.startswith("fallback")
        )
        msg = None if stopped or esc is None else compose(s, n, esc)
        kind, address, secret = n.kind, n.address, n.secret
    if msg is None:

        def skip(s: Session) -> None:
            row = s.get(Notification, nid)
            if row is not None and row.state == "pending":
                row.state = "skipped"
                row.last_error = "the page was acknowledged or resolved before it was sent"

        return skip
    try:
        detail, ok = channels.send(kind, address, secret, msg), True
    except channels.DeliveryFailed as exc:
        detail, ok = str(exc), False
    except Exception as exc:  # a channel library failing in its own way is a failed attempt
        detail, ok = channels.failure_text(exc), False
        log.warning("notification %s: %s", nid, detail)
    detail = channels.redact_text(detail)[:500]
    return lambda s: record_attempt(s, clock, nid, attempt, ok, detail)


def record_attempt(
    session: Session, clock: Clock, nid: int, attempt: int, ok: bool, detail: str
) -> None:
    n = session.get(Notification, nid)
    if n is None or n.state != "pending":
        return
    esc = session.get(Escalation, n.escalation_id)
    assert esc is not None
    now = clock.now()
    n.attempts = max(n.attempts, attempt)
    n.log = [*(n.log or []), {"at": iso(now), "attempt": attempt, "ok": ok, "detail": detail}]
    who = _people(session, n)
    how = f"{who} by {n.kind}"
    if ok:
        n.state = "sent"
        n.sent_at = now
        n.last_error = ""
        paging.timeline(
            session,
            clock,
            esc,
            f"Notified {how} ({n.reason}): {detail}",
            notification_id=n.id,
            attempt=attempt,
            ok=True,
            idempotency_key=n.key,
        )
        return
    n.last_error = detail
    if attempt < rules.MAX_ATTEMPTS:
        retry_at = now + backoff(attempt)
        enqueue(
            session,
            kind=paging.NOTIFY_JOB,
            key=f"notify:{n.id}:{attempt + 1}",
            due_at=retry_at,
            payload={"notification_id": n.id, "attempt": attempt + 1},
            now=now,
            max_attempts=20,
        )
        outcome = f"retrying at {iso(retry_at)}"
    else:
        n.state = "failed"
        outcome = f"gave up after {attempt} attempts"
    text = (
        f"Notifying {how} failed (attempt {attempt} of {rules.MAX_ATTEMPTS}): {detail}; {outcome}"
    )
    if attempt == 1:
        nxt = _fall_through(session, clock, esc, n, now)
        if nxt is not None:
            text += f"; falling through to {nxt.kind} ({_method_name(session, nxt)})"
    paging.timeline(
        session,
        clock,
        esc,
        text,
        notification_id=n.id,
        attempt=attempt,
        ok=False,
        idempotency_key=n.key,
    )


def _method_name(session: Session, n: Notification) -> str:
    if n.method_id is None:
        return "account email"
    return session.scalar(select(ContactMethod.name).where(ContactMethod.id == n.method_id)) or "?"


def _fall_through(
    session: Session, clock: Clock, esc: Escalation, failed: Notification, now: datetime
) -> Notification | None:
    """Sends now by the person's next method that this step has not already used."""
    if failed.user_id is None:
        return None
    methods = contacts.contact_methods(session, failed.user_id)
    prefix = failed.key.split(":ft:")[0]
    used_ids = {
        m
        for m, due in session.execute(
            select(Notification.method_id, Notification.due_at).where(
                Notification.escalation_id == esc.id,
                Notification.user_id == failed.user_id,
                Notification.pass_no == failed.pass_no,
                Notification.level == failed.level,
            )
        )
        if m is not None and (due <= now or m == failed.method_id)
    }
    used = {m.name for m in methods if m.id in used_ids}
    rule_rows = contacts.notification_rules(session, failed.user_id)
    name = rules.fall_through(
        [rules.Rule(nm, r.after_minutes) for r, nm in rule_rows],
        [m.name for m in methods],
        used,
    )
    if name is None:
        return None
    m = next(x for x in methods if x.name == name)
    return paging.add_notification(
        session,
        now,
        esc,
        key=f"{prefix}:ft:{m.name}",
        kind=m.kind,
        address=m.address,
        secret=m.secret,
        user_id=failed.user_id,
        method_id=m.id,
        reason=f"{failed.reason}; fall-through after {failed.kind} failed",
        due_at=now,
        step=(failed.pass_no, failed.level),
    )
