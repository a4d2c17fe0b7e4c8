"""Alert rules and transactions: integrations, ingestion (dedup, routing, silences,
flapping, grouping into incidents), responder actions, changes and recent changes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from warroom.alerts.matching import SEVERITY_FOR_SOURCE, is_flapping, matches
from warroom.alerts.models import Alert, AlertRule, ChangeEvent, Integration, Silence
from warroom.alerts.parsers import ChangePayload, NormalizedEvent
from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed, require_choice
from warroom.core.pagination import decode_cursor, encode_cursor
from warroom.core.principal import Principal
from warroom.paging import service as paging
from warroom.incidents import rules as incident_rules
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident, IncidentService
from warroom.org.models import Service, ServiceDependency

KINDS = ("pagerduty", "alertmanager", "grafana", "webhook")
NOISE_REASONS = ("false_positive", "noise", "duplicate", "not_actionable")
CHANGE_KINDS = ("deploy", "config", "feature_flag", "other")
RECENT_CHANGES = timedelta(hours=2)
DEFAULT_FLAP_COUNT = 3
DEFAULT_FLAP_WINDOW = 30  # minutes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """32 characters, the length PagerDuty clients expect of a routing key."""
    return secrets.token_hex(16)


# --- integrations -----------------------------------------------------------------------


def create_integration(
    session: Session,
    clock: Clock,
    *,
    name: str,
    kind: str,
    service: str | None = None,
    hmac_secret: str | None = None,
    mapping: dict[str, Any] | None = None,
    rate_per_minute: int | None = None,
) -> tuple[Integration, str]:
    require_choice(kind, KINDS, "kind")
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name must be 1-100 characters", field="name")
    if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Conflict(f"an integration named {name!r} exists already", field="name")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValidationFailed("rate_per_minute must be at least 1", field="rate_per_minute")
    svc_id = _service_id(session, service) if service else None
    key = new_key()
    row = Integration(
        name=name,
        kind=kind,
        service_id=svc_id,
        key_hash=hash_key(key),
        key_hint=key[:4],
        hmac_secret=hmac_secret or None,
        mapping=mapping or {},
        rate_per_minute=rate_per_minute,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row, key


def rotate_key(session: Session, clock: Clock, name: str) -> str:
    row = integration_by_name(session, name)
    key = new_key()
    row.key_hash, row.key_hint, row.rotated_at = hash_key(key), key[:4], clock.now()
    return key


def integration_by_name(session: Session, name: str) -> Integration:
    row = session.scalar(select(Integration).where(Integration.name == name))
    if row is None:
        raise NotFound(f"no integration named {name!r}", field="integration")
    return row


def integration_by_key(session: Session, key: str) -> Integration | None:
    return session.scalar(select(Integration).where(Integration.key_hash == hash_key(key)))


def verify_signature(secret: str | None, body: bytes, header: str | None) -> bool:
    """`X-Warroom-Signature: sha256=<hex HMAC of the raw body>`; no secret, no check."""
    if not secret:
        return True
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


def _service_id(session: Session, name: str) -> int:
    sid = session.scalar(select(Service.id).where(Service.name == name))
    if sid is None:
        raise ValidationFailed(f"unknown service {name!r}", field="service")
    return int(sid)


def integration_dict(session: Session, row: Integration) -> dict[str, Any]:
    svc = session.get(Service, row.service_id) if row.service_id else None
    return {
        "name": row.name,
        "kind": row.kind,
        "service": svc.name if svc else None,
        "key_hint": row.key_hint + "…",
        "signed": bool(row.hmac_secret),
        "rate_per_minute": row.rate_per_minute,
        "mapping": dict(row.mapping or {}),
        "created_at": iso(row.created_at),
        "rotated_at": iso(row.rotated_at),
    }


# --- ingestion --------------------------------------------------------------------------


@dataclass
class Outcome:
    dedup_key: str
    alert_id: int | None
    action: str  # created | updated | acknowledged | resolved | ignored
    incident: str | None = None


@dataclass
class _Context:
    rules: list[AlertRule]
    silences: list[Silence]
    service_names: dict[int, str]
    fires: dict[str, list[datetime]] = field(default_factory=dict)


def _context(session: Session, now: datetime) -> _Context:
    rules = list(session.scalars(select(AlertRule).order_by(AlertRule.position, AlertRule.id)))
    silences = list(
        session.scalars(select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now))
    )
    names = {sid: name for sid, name in session.execute(select(Service.id, Service.name))}
    return _Context(rules, silences, names)


def _rule_for(ctx: _Context, labels: dict[str, str]) -> AlertRule | None:
    for rule in ctx.rules:
        if matches(list(rule.matchers or []), labels):
            return rule
    return None


def _silenced_by(ctx: _Context, labels: dict[str, str], service: str | None) -> str | None:
    for s in ctx.silences:
        if s.kind == "maintenance":
            if service and service in (s.services or []):
                return f"maintenance #{s.id}"
        elif s.matchers and matches(list(s.matchers), labels):
            return f"silence #{s.id}"
    return None


def _match_labels(event: NormalizedEvent, integration: Integration) -> dict[str, str]:
    return {
        **event.labels,
        "integration": integration.name,
        "source": event.source,
        "severity": event.labels.get("severity", event.severity),
    }


def ingest(
    session: Session,
    clock: Clock,
    integration: Integration,
    events: list[NormalizedEvent],
    incident_refs: bool = True,
) -> list[Outcome]:
    """Applies events in order, in the caller's transaction. Built for storms: repeats
    of open alerts (the bulk of a storm) become one UPDATE statement per batch without
    loading objects; new alerts are inserted in one flush; only acknowledgements,
    resolutions and incident work load full rows."""
    now = clock.now()
    keys = list(dict.fromkeys(e.dedup_key for e in events))
    open_ids: dict[str, int] = {
        key: alert_id
        for alert_id, key in session.execute(
            select(Alert.id, Alert.dedup_key).where(
                Alert.integration_id == integration.id,
                Alert.dedup_key.in_(keys),
                Alert.status != "resolved",
            )
        )
    }
    loaded: dict[str, Alert] = {}
    bumps: dict[int, dict[str, Any]] = {}
    ctx: _Context | None = None
    results: list[tuple[str, Alert | int | None, str]] = []

    def full(key: str) -> Alert | None:
        """The open alert as an object, with any pending repeats applied to it."""
        if key in loaded:
            return loaded[key]
        alert_id = open_ids.get(key)
        if alert_id is None:
            return None
        alert = session.get(Alert, alert_id)
        assert alert is not None
        bump = bumps.pop(alert_id, None)
        if bump:
            alert.occurrences += bump["n"]
            alert.last_seen = now
            alert.summary = bump["summary"] or alert.summary
            alert.source_severity = bump["severity"]
        loaded[key] = alert
        return alert

    for ev in events:
        key = ev.dedup_key
        if ev.action == "trigger":
            if key in loaded:
                alert = loaded[key]
                alert.last_seen = now
                alert.occurrences += 1
                alert.summary = ev.summary or alert.summary
                alert.source_severity = ev.severity
                results.append((key, alert, "updated"))
            elif key in open_ids:
                bump = bumps.setdefault(open_ids[key], {"n": 0})
                bump.update(n=bump["n"] + 1, summary=ev.summary, severity=ev.severity)
                results.append((key, open_ids[key], "updated"))
            else:
                if ctx is None:
                    ctx = _context(session, now)
                    ctx.fires = _recent_fires(session, integration, ctx, keys, now)
                created = _new_alert(session, clock, ctx, integration, ev)
                loaded[key] = created
                results.append((key, created, "created"))
            continue
        found = full(key)
        if found is None:
            results.append((key, None, "ignored"))
            continue
        if ev.action == "acknowledge":
            if found.status == "triggered":
                if found.id is None:
                    session.flush()
                _acknowledge_alert(session, clock, found, f"integration:{integration.name}")
            found.last_seen = now
            results.append((key, found, "acknowledged"))
        else:
            if found.id is None:
                session.flush()
            _resolve_alert(session, clock, found, by=f"integration:{integration.name}")
            del loaded[key]
            open_ids.pop(key, None)
            results.append((key, found, "resolved"))
    if bumps:
        table = cast(Table, Alert.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                occurrences=table.c.occurrences + bindparam("b_n"),
                last_seen=now,
                summary=func.coalesce(bindparam("b_summary"), table.c.summary),
                source_severity=bindparam("b_severity"),
            ),
            [
                {
                    "b_id": i,
                    "b_n": b["n"],
                    "b_summary": b["summary"] or None,
                    "b_severity": b["severity"],
                }
                for i, b in bumps.items()
            ],
        )
    session.flush()
    # Repeats were not loaded; look their incidents up only when the caller answers with them.
    repeats = [r for _, r, _ in results if isinstance(r, int)] if incident_refs else []
    incident_of = _incidents_of(session, repeats)
    out = []
    for key, row, action in results:
        if isinstance(row, Alert):
            out.append(Outcome(key, row.id, action, _inc_ref(row)))
        elif isinstance(row, int):
            inc_id = incident_of.get(row)
            out.append(
                Outcome(key, row, action, incident_rules.short_id(inc_id) if inc_id else None)
            )
        else:
            out.append(Outcome(key, None, action))
    return out


def _incidents_of(session: Session, alert_ids: list[int]) -> dict[int, int | None]:
    if not alert_ids:
        return {}
    return {
        alert_id: inc_id
        for alert_id, inc_id in session.execute(
            select(Alert.id, Alert.incident_id).where(
                Alert.id.in_(set(alert_ids)), Alert.incident_id.is_not(None)
            )
        )
    }


def _recent_fires(
    session: Session, integration: Integration, ctx: _Context, keys: list[str], now: datetime
) -> dict[str, list[datetime]]:
    """When each key fired lately, for the flapping check (one query per batch)."""
    window = max([r.flap_window_minutes for r in ctx.rules] + [DEFAULT_FLAP_WINDOW])
    fires: dict[str, list[datetime]] = {}
    for key, seen in session.execute(
        select(Alert.dedup_key, Alert.first_seen).where(
            Alert.integration_id == integration.id,
            Alert.dedup_key.in_(keys),
            Alert.first_seen >= now - timedelta(minutes=window),
        )
    ):
        fires.setdefault(key, []).append(seen)
    return fires


def _inc_ref(alert: Alert) -> str | None:
    return incident_rules.short_id(alert.incident_id) if alert.incident_id else None


def _new_alert(
    session: Session,
    clock: Clock,
    ctx: _Context,
    integration: Integration,
    ev: NormalizedEvent,
) -> Alert:
    now = clock.now()
    labels = _match_labels(ev, integration)
    rule = _rule_for(ctx, labels)
    service_id = (rule.service_id if rule and rule.service_id else None) or integration.service_id
    service = ctx.service_names.get(service_id) if service_id else None
    severity = (rule.severity if rule and rule.severity else None) or SEVERITY_FOR_SOURCE.get(
        ev.severity, "SEV-3"
    )
    alert = Alert(
        integration_id=integration.id,
        service_id=service_id,
        rule_id=rule.id if rule else None,
        dedup_key=ev.dedup_key,
        status="triggered",
        summary=ev.summary or ev.dedup_key,
        source=ev.source,
        source_severity=ev.severity,
        severity=severity,
        labels=ev.labels,
        annotations=ev.annotations,
        links=ev.links,
        details={**ev.details, **({"group": ev.group} if ev.group else {})},
        starts_at=ev.timestamp,
        first_seen=now,
        last_seen=now,
        occurrences=1,
        suppressed_by=_silenced_by(ctx, labels, service),
        flapping=False,
        noise_note="",
    )
    flap_count = rule.flap_count if rule else DEFAULT_FLAP_COUNT
    since = now - timedelta(minutes=rule.flap_window_minutes if rule else DEFAULT_FLAP_WINDOW)
    fired = ctx.fires.setdefault(ev.dedup_key, [])
    alert.flapping = is_flapping(sum(1 for t in fired if t >= since) + 1, flap_count)
    fired.append(now)
    session.add(alert)
    open_incident = rule.open_incident if rule else ev.severity in ("critical", "error")
    if alert.suppressed_by or alert.flapping:
        return alert
    if not open_incident:
        if rule is not None and rule.page:
            session.flush()
            paging.start_for_alert(session, clock, alert.id, alert.service_id)
        return alert
    session.flush()  # the incident path needs the alert's id
    window = timedelta(minutes=rule.group_window_minutes if rule else 60)
    group = ev.group
    target = _group_incident(session, alert, group, now - window)
    if target is not None:
        alert.incident_id = target.id
        _alert_event(session, clock, alert, f"Alert grouped into this incident: {alert.summary}")
        return alert
    who = Principal(role="responder", user_id=None, name=f"integration:{integration.name}")
    started = ev.timestamp if ev.timestamp and ev.timestamp <= now else None
    inc = incidents.declare(
        session,
        clock,
        who,
        title=(alert.summary or "Alert")[:200],
        severity=severity,
        services=[service] if service else [],
        impact_summary="",
        detection_source="automated_alert",
        started_at=started,
        detected_at=now,
    )
    alert.incident_id = inc.id
    _alert_event(session, clock, alert, f"Alert fired: {alert.summary}")
    return alert


def _group_incident(
    session: Session, alert: Alert, group: str | None, since: datetime
) -> Incident | None:
    """The open incident that an alert for the same service (and group) joined lately."""
    q = (
        select(Incident)
        .join(Alert, Alert.incident_id == Incident.id)
        .where(
            Incident.status.in_(incident_rules.ACTIVE_STATUSES),
            Alert.first_seen >= since,
            Alert.id != alert.id,
        )
        .order_by(Alert.first_seen.desc())
        .limit(1)
    )
    if alert.service_id is not None:
        q = q.where(Alert.service_id == alert.service_id)
    else:
        q = q.where(Alert.integration_id == alert.integration_id)
    if group:
        q = q.where(Alert.details["group"].as_string() == group)
    return session.scalar(q)


def _alert_event(session: Session, clock: Clock, alert: Alert, text: str) -> None:
    if alert.incident_id is None:
        return
    inc = session.get(Incident, alert.incident_id)
    if inc is None:
        return
    incidents.record(
        session,
        clock,
        inc,
        kind="alert",
        text=text,
        actor=None,
        data={
            "alert_id": alert.id,
            "dedup_key": alert.dedup_key,
            "status": alert.status,
            "links": list(alert.links or []),
        },
    )


def _resolve_alert(session: Session, clock: Clock, alert: Alert, by: str) -> None:
    now = clock.now()
    alert.status = "resolved"
    alert.resolved_at = now
    alert.last_seen = now
    paging.stop_for_alert(session, clock, alert.id, "resolve", by)
    if alert.incident_id is None:
        return
    _alert_event(session, clock, alert, f"Alert resolved: {alert.summary}")
    inc = session.get(Incident, alert.incident_id)
    if inc is None or inc.status not in incident_rules.ACTIVE_STATUSES:
        return
    still_open = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_id == inc.id, Alert.status != "resolved", Alert.id != alert.id)
    )
    if still_open == 0 and inc.created_by_id is None and inc.detection_source == "automated_alert":
        # Opened by alerts and nobody took it over: it ends when its alerts do.
        who = Principal(role="responder", user_id=None, name=by)
        incidents.resolve(session, clock, who, inc, summary="All alerts resolved")


# --- responder actions ------------------------------------------------------------------


def get_alert(session: Session, alert_id: int) -> Alert:
    if not 0 < alert_id < 2**31:
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    return alert


def acknowledge(session: Session, clock: Clock, who: Principal, alert: Alert) -> None:
    incidents.require_responder(who)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert.id} is resolved", field="status")
    if alert.status == "triggered":
        _acknowledge_alert(session, clock, alert, who.name)


def _acknowledge_alert(session: Session, clock: Clock, alert: Alert, by: str) -> None:
    """Marks a triggered alert acknowledged and stops any page it started."""
    alert.status = "acknowledged"
    alert.acknowledged_at = clock.now()
    at_source = by.startswith("integration:")
    text = "Alert acknowledged at source" if at_source else f"{by} acknowledged alert"
    _alert_event(session, clock, alert, f"{text}: {alert.summary}")
    paging.stop_for_alert(session, clock, alert.id, "acknowledge", by)


def resolve(session: Session, clock: Clock, who: Principal, alert: Alert) -> None:
    incidents.require_responder(who)
    if alert.status != "resolved":
        _resolve_alert(session, clock, alert, by=who.name)


def mark_noise(
    session: Session, clock: Clock, who: Principal, alert: Alert, reason: str, note: str = ""
) -> None:
    incidents.require_responder(who)
    require_choice(reason, NOISE_REASONS, "reason")
    alert.noise = reason
    alert.noise_note = note.strip()
    _alert_event(
        session, clock, alert, f"{who.name} marked alert non-actionable ({reason}): {alert.summary}"
    )


def alert_dict(alert: Alert, names: dict[str, dict[int, str]]) -> dict[str, Any]:
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
        "incident": _inc_ref(alert),
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
    return {row_id: name for row_id, name in session.execute(select(model.id, model.name))}


def names(session: Session) -> dict[str, dict[int, str]]:
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
        q = q.where(Alert.service_id == _service_id(session, service))
    if incident:
        inc = incidents.get_incident(session, who, incident)
        q = q.where(Alert.incident_id == inc.id)
    if noise is not None:
        q = q.where(Alert.noise.is_not(None) if noise else Alert.noise.is_(None))
    # Alerts of private incidents are as private as the incident.
    q = q.where(
        or_(
            Alert.incident_id.is_(None),
            Alert.incident_id.in_(select(Incident.id).where(incidents.visible_clause(who))),
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


# --- silences and maintenance ---------------------------------------------------------


def add_silence(
    session: Session,
    clock: Clock,
    who: Principal,
    *,
    matchers: list[dict[str, Any]],
    services: list[str],
    starts_at: datetime | None,
    ends_at: datetime,
    comment: str,
    kind: str = "silence",
) -> Silence:
    incidents.require_responder(who)
    if kind not in ("silence", "maintenance"):
        raise ValidationFailed("kind must be silence or maintenance", field="kind")
    if kind == "silence" and not matchers:
        raise ValidationFailed("a silence needs at least one matcher", field="matchers")
    if kind == "maintenance" and not services:
        raise ValidationFailed("a maintenance window needs at least one service", field="services")
    for s in services:
        _service_id(session, s)
    if not comment.strip():
        raise ValidationFailed("comment must say why", field="comment")
    start = starts_at or clock.now()
    if ends_at <= start:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    row = Silence(
        kind=kind,
        matchers=matchers,
        services=services,
        starts_at=start,
        ends_at=ends_at,
        created_by=who.name,
        comment=comment.strip(),
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def expire_silence(session: Session, clock: Clock, who: Principal, silence_id: int) -> Silence:
    incidents.require_responder(who)
    row = session.get(Silence, silence_id) if 0 < silence_id < 2**31 else None
    if row is None:
        raise NotFound(f"silence {silence_id} not found", field="silence_id")
    if row.ends_at > clock.now():
        row.ends_at = clock.now()
    return row


def list_silences(session: Session, clock: Clock, active_only: bool = True) -> list[Silence]:
    q = select(Silence).order_by(Silence.id.desc())
    if active_only:
        q = q.where(Silence.ends_at > clock.now())
    return list(session.scalars(q))


def silence_dict(s: Silence, now: datetime) -> dict[str, Any]:
    state = "expired" if s.ends_at <= now else "active" if s.starts_at <= now else "pending"
    return {
        "id": s.id,
        "kind": s.kind,
        "matchers": list(s.matchers or []),
        "services": list(s.services or []),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "created_by": s.created_by,
        "comment": s.comment,
        "state": state,
    }


# --- change events ---------------------------------------------------------------------


def record_change(
    session: Session,
    clock: Clock,
    *,
    change: ChangePayload,
    recorded_by: str,
    service: str | None = None,
    service_id: int | None = None,
    integration_id: int | None = None,
) -> ChangeEvent:
    require_choice(change.kind, CHANGE_KINDS, "kind")
    if service:
        service_id = _service_id(session, service)
    at = change.timestamp or clock.now()
    if at > clock.now() + timedelta(minutes=5):
        raise ValidationFailed("the change's time is in the future", field="timestamp")
    row = ChangeEvent(
        service_id=service_id,
        integration_id=integration_id,
        kind=change.kind,
        summary=change.summary,
        source=change.source,
        at=at,
        recorded_by=recorded_by,
        links=change.links,
        details=change.details,
    )
    session.add(row)
    session.flush()
    return row


def change_dict(c: ChangeEvent, service_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind,
        "summary": c.summary,
        "source": c.source,
        "service": service_names.get(c.service_id) if c.service_id else None,
        "at": iso(c.at),
        "recorded_by": c.recorded_by,
        "links": list(c.links or []),
        "details": dict(c.details or {}),
    }


def list_changes(
    session: Session, *, service: str | None = None, since: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    q = select(ChangeEvent).order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc()).limit(limit)
    if service:
        q = q.where(ChangeEvent.service_id == _service_id(session, service))
    if since:
        q = q.where(ChangeEvent.at >= since)
    svc = id_names(session, Service)
    return [change_dict(c, svc) for c in session.scalars(q)]


def dependency_closure(session: Session, service_ids: set[int]) -> set[int]:
    """The services and everything they depend on, transitively."""
    edges: dict[int, list[int]] = {}
    for d in session.scalars(select(ServiceDependency)):
        edges.setdefault(d.service_id, []).append(d.depends_on_id)
    seen = set(service_ids)
    stack = list(service_ids)
    while stack:
        for dep in edges.get(stack.pop(), []):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def recent_changes(session: Session, inc: Incident) -> list[dict[str, Any]]:
    """Changes to the incident's services and their dependencies in the 2 hours before
    detection, newest first: the first question of triage."""
    ids = set(
        session.scalars(
            select(IncidentService.service_id).where(IncidentService.incident_id == inc.id)
        )
    )
    if not ids:
        return []
    detected = inc.detected_at or inc.declared_at
    scope = dependency_closure(session, ids)
    q = (
        select(ChangeEvent)
        .where(
            ChangeEvent.service_id.in_(scope),
            ChangeEvent.at >= detected - RECENT_CHANGES,
            ChangeEvent.at <= detected,
        )
        .order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
    )
    svc = id_names(session, Service)
    out = []
    for c in session.scalars(q):
        d = change_dict(c, svc)
        d["direct"] = c.service_id in ids
        d["before_detection_minutes"] = int((detected - c.at).total_seconds() // 60)
        out.append(d)
    return out
