"""Alerts as responders see them: looking alerts up and listing them, acknowledging,
resolving and marking them non-actionable, and the noise report by rule. Every action
checks the responder role here, so the web page and the API cannot disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warroom.alerts.ingestion import acknowledge_alert, alert_event, resolve_alert
from warroom.alerts.integrations import service_id
from warroom.alerts.models import Alert, AlertRule, Integration
from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed, require_choice
from warroom.core.pagination import decode_cursor, encode_cursor
from warroom.core.principal import Principal, require_responder
from warroom.incidents.models import Incident
from warroom.incidents.queries import get_incident, visible_clause
from warroom.incidents.rules import short_id
from warroom.org.models import Service

NOISE_REASONS = ("false_positive", "noise", "duplicate", "not_actionable")


def get_alert(session: Session, alert_id: int) -> Alert:
    """Returns the alert with this id; raises NotFound (404, field `alert_id`) for a missing one.
    Checks neither role nor visibility: an alert of a private incident is returned to anyone."""
    if not 0 < alert_id < 2**31:
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    return alert


def acknowledge(session: Session, clock: Clock, who: Principal, alert: Alert) -> None:
    """Acknowledges a triggered alert and publishes AlertAcknowledged (its pages stop); idempotent.
    Needs the responder role (Forbidden, 403). An acknowledged alert is left as it is; a resolved
    one raises Conflict (409, field `status`). Runs in the caller's transaction."""
    require_responder(who)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert.id} is resolved", field="status")
    if alert.status == "triggered":
        acknowledge_alert(session, clock, alert, who.name)


def resolve(session: Session, clock: Clock, who: Principal, alert: Alert) -> None:
    """Resolves an open alert and publishes AlertResolved; a resolved alert is left as it is.
    Needs the responder role (Forbidden, 403). Its pages stop, and an incident that alerts opened
    may resolve with it, in the caller's transaction."""
    require_responder(who)
    if alert.status != "resolved":
        resolve_alert(session, clock, alert, by=who.name)


def mark_noise(
    session: Session, clock: Clock, who: Principal, alert: Alert, reason: str, note: str = ""
) -> None:
    """Marks the alert non-actionable (reason and note) and notes it in its incident's timeline.
    Needs the responder role (Forbidden, 403); raises ValidationFailed (422, field `reason`) for a
    reason outside NOISE_REASONS. Marking again overwrites the reason and adds another line, in any
    alert status. Publishes nothing; runs in the caller's transaction."""
    require_responder(who)
    require_choice(reason, NOISE_REASONS, "reason")
    alert.noise = reason
    alert.noise_note = note.strip()
    alert_event(
        session, clock, alert, f"{who.name} marked alert non-actionable ({reason}): {alert.summary}"
    )


def alert_dict(alert: Alert, names: dict[str, dict[int, str]]) -> dict[str, Any]:
    """Returns the API form of an alert, its service, integration and rule named through `names`."""
    return {
        "id": alert.id,
        "dedup_key": alert.dedup_key,
        "status": alert.status,
        "summary": alert.summary,
        "source": alert.source,
        "source_severity": alert.source_severity,
        "severity": alert.severity,
        "service": names["services"].get(alert.service_id) if alert.service_id else None,
        "integration": names["integrations"].get(alert.integration_id),
        "rule": names["rules"].get(alert.rule_id) if alert.rule_id else None,
        "incident": short_id(alert.incident_id) if alert.incident_id else None,
        "labels": dict(alert.labels or {}),
        "annotations": dict(alert.annotations or {}),
        "links": list(alert.links or []),
        "details": dict(alert.details or {}),
        "starts_at": iso(alert.starts_at),
        "first_seen": iso(alert.first_seen),
        "last_seen": iso(alert.last_seen),
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_at": iso(alert.resolved_at),
        "occurrences": alert.occurrences,
        "suppressed_by": alert.suppressed_by,
        "flapping": alert.flapping,
        "noise": alert.noise,
        "noise_note": alert.noise_note,
    }


def id_names(session: Session, model: Any) -> dict[int, str]:
    """Returns {id: name} for every row of `model` (a table with `id` and `name` columns)."""
    return {row_id: name for row_id, name in session.execute(select(model.id, model.name))}


def names(session: Session) -> dict[str, dict[int, str]]:
    """Returns the id-to-name maps of services, integrations and alert rules, for `alert_dict`."""
    return {
        "services": id_names(session, Service),
        "integrations": id_names(session, Integration),
        "rules": id_names(session, AlertRule),
    }


ALERT_STATUSES = ("triggered", "acknowledged", "resolved")


def list_alerts(
    session: Session,
    who: Principal,
    *,
    status: str | None = None,
    service: str | None = None,
    incident: str | None = None,
    noise: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """Returns a page of alerts as API dicts, newest first, and the next page's cursor (or None).
    Leaves out alerts of private incidents the caller may not see. Raises ValidationFailed (422)
    for an unknown `status` (field `status`), an unknown `service` (field `service`) or a bad
    `cursor` (field `cursor`), and get_incident's errors (field `incident_id`) for a malformed,
    missing or invisible `incident`. Checks no role; reads only."""
    if status is not None and status not in ALERT_STATUSES + ("open",):
        raise ValidationFailed(
            f"status must be one of {', '.join(ALERT_STATUSES)}, open",
            field="status",
            allowed=[*ALERT_STATUSES, "open"],
        )
    q = select(Alert)
    if status == "open":
        q = q.where(Alert.status != "resolved")
    elif status:
        q = q.where(Alert.status == status)
    if service:
        q = q.where(Alert.service_id == service_id(session, service))
    if incident:
        inc = get_incident(session, who, incident)
        q = q.where(Alert.incident_id == inc.id)
    if noise is not None:
        q = q.where(Alert.noise.is_not(None) if noise else Alert.noise.is_(None))
    # Alerts of private incidents are as private as the incident.
    q = q.where(
        or_(
            Alert.incident_id.is_(None),
            Alert.incident_id.in_(select(Incident.id).where(visible_clause(who))),
        )
    )
    after = decode_cursor(cursor)
    if after is not None:
        q = q.where(Alert.id < after)
    rows = list(session.scalars(q.order_by(Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    n = names(session)
    return [alert_dict(a, n) for a in rows], encode_cursor(rows[-1].id) if more and rows else None


def noise_by_rule(session: Session) -> list[dict[str, Any]]:
    """Per routing rule: alerts, and how many responders marked non-actionable."""
    rows = session.execute(
        select(
            Alert.rule_id,
            func.count(),
            func.count(Alert.noise),
        ).group_by(Alert.rule_id)
    )
    n = names(session)
    out = []
    for rule_id, total, noisy in rows:
        out.append(
            {
                "rule": n["rules"].get(rule_id) if rule_id else None,
                "alerts": int(total),
                "non_actionable": int(noisy),
                "share": round(noisy / total, 3) if total else 0.0,
            }
        )
    return sorted(out, key=lambda r: (-r["non_actionable"], r["rule"] or ""))
