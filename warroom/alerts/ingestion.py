"""Alert ingestion: dedup against open alerts, routing by rule, silences and
maintenance, flapping, grouping into incidents; and the alert lifecycle (acknowledge,
resolve) whoever drives it.

Invariants:
- Events of one batch apply in arrival order, in the caller's transaction.
- At most one open (triggered or acknowledged) alert per (integration, dedup key).
- A new alert that opens an incident either joins the open incident an alert of the
  same service (and group) joined within the rule's window, or declares one.
- Every new, acknowledged and resolved alert is published through the seam
  (`alerts.events`): paging and the incident lifecycle react there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from warroom import seam
from warroom.alerts import events
from warroom.alerts.matching import SEVERITY_FOR_SOURCE, is_flapping, matches
from warroom.alerts.models import Alert, AlertRule, Integration, Silence
from warroom.alerts.parsers import NormalizedEvent
from warroom.core.clock import Clock, ensure_utc
from warroom.core.principal import Principal
from warroom.incidents import rules as incident_rules
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.incidents.timeline import record
from warroom.org.models import Service

# A JSON parameter whose None is SQL NULL (not JSON null), so coalesce keeps the column.
_JSON_OR_NULL = JSON(none_as_null=True)
DEFAULT_FLAP_COUNT = 3
DEFAULT_FLAP_WINDOW = 30  # minutes
MAX_FLAP_WINDOW = timedelta(days=7)  # the longest a routing rule may set (config schema)


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
    loading objects; new alerts are inserted in one flush and their incident work
    (grouping, declaring, one timeline line per incident, events) is done once for the
    batch (`_settle_new`); only acknowledgements and resolutions load full rows."""
    now = clock.now()
    keys = list(dict.fromkeys(e.dedup_key for e in events))
    # Every earlier alert of the batch's keys, in one query: which are open (dedup), when
    # they fired (flapping) and which incident each joined (a re-fire rejoins it).
    history = list(
        session.execute(
            select(
                Alert.id, Alert.dedup_key, Alert.status, Alert.first_seen, Alert.incident_id
            ).where(
                Alert.integration_id == integration.id,
                Alert.dedup_key.in_(keys),
                # Only what the three uses need, so a key that fired for months does not
                # bring its whole history into every batch.
                or_(
                    Alert.status != "resolved",
                    Alert.first_seen >= now - MAX_FLAP_WINDOW,
                    Alert.incident_id.in_(
                        select(Incident.id).where(
                            Incident.status.in_(incident_rules.ACTIVE_STATUSES)
                        )
                    ),
                ),
            )
        )
    )
    open_ids: dict[str, int] = {
        row.dedup_key: row.id for row in history if row.status != "resolved"
    }
    loaded: dict[str, Alert] = {}
    bumps: dict[int, dict[str, Any]] = {}
    ctx: _Context | None = None
    # New alerts wait here for their incident work, done once for all of them.
    pending: list[_New] = []
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
            alert.annotations = bump.get("annotations") or alert.annotations
            alert.links = bump.get("links") or alert.links
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
                alert.annotations = ev.annotations or alert.annotations
                alert.links = ev.links or alert.links
                results.append((key, alert, "updated"))
            elif key in open_ids:
                bump = bumps.setdefault(open_ids[key], {"n": 0})
                bump.update(n=bump["n"] + 1, summary=ev.summary, severity=ev.severity)
                if ev.annotations:
                    bump["annotations"] = ev.annotations
                if ev.links:
                    bump["links"] = ev.links
                results.append((key, open_ids[key], "updated"))
            else:
                if ctx is None:
                    ctx = _context(session, now)
                    ctx.fires = _recent_fires(ctx, history, now)
                created = _new_alert(session, clock, ctx, integration, ev, pending)
                loaded[key] = created
                results.append((key, created, "created"))
            continue
        found = full(key)
        if found is None:
            results.append((key, None, "ignored"))
            continue
        # What happened before this acknowledgement or resolution is settled first.
        _settle_new(session, clock, integration, pending, history)
        if ev.action == "acknowledge":
            if found.status == "triggered":
                if found.id is None:
                    session.flush()
                acknowledge_alert(session, clock, found, f"integration:{integration.name}")
            found.last_seen = now
            results.append((key, found, "acknowledged"))
        else:
            if found.id is None:
                session.flush()
            resolve_alert(session, clock, found, by=f"integration:{integration.name}")
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
                annotations=func.coalesce(
                    bindparam("b_annotations", type_=_JSON_OR_NULL), table.c.annotations
                ),
                links=func.coalesce(bindparam("b_links", type_=_JSON_OR_NULL), table.c.links),
            ),
            [
                {
                    "b_id": i,
                    "b_n": b["n"],
                    "b_summary": b["summary"] or None,
                    "b_severity": b["severity"],
                    "b_annotations": b.get("annotations"),
                    "b_links": b.get("links"),
                }
                for i, b in bumps.items()
            ],
        )
    _settle_new(session, clock, integration, pending, history)
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


def _recent_fires(ctx: _Context, history: list[Any], now: datetime) -> dict[str, list[datetime]]:
    """When each key fired lately, for the flapping check (from the batch's history)."""
    window = max([r.flap_window_minutes for r in ctx.rules] + [DEFAULT_FLAP_WINDOW])
    since = now - timedelta(minutes=window)
    fires: dict[str, list[datetime]] = {}
    for row in history:
        seen = ensure_utc(row.first_seen)
        if seen >= since:
            fires.setdefault(row.dedup_key, []).append(seen)
    return fires


def _inc_ref(alert: Alert) -> str | None:
    return incident_rules.short_id(alert.incident_id) if alert.incident_id else None


def _new_alert(
    session: Session,
    clock: Clock,
    ctx: _Context,
    integration: Integration,
    ev: NormalizedEvent,
    pending: list[_New],
) -> Alert:
    """A new alert row (added to the session, not yet flushed), routed, checked against
    silences and flapping; queued in `pending` when it opens, joins or pages."""
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
            pending.append(_New(alert, pages=True))
        return alert
    started = ev.timestamp if ev.timestamp and ev.timestamp <= now else None
    pending.append(
        _New(
            alert,
            pages=False,
            group=ev.group,
            window=timedelta(minutes=rule.group_window_minutes if rule else 60),
            service=service,
            severity=severity,
            started=started,
        )
    )
    return alert


@dataclass
class _New:
    """A new alert of the batch and what its incident work needs."""

    alert: Alert
    pages: bool
    group: str | None = None
    window: timedelta = timedelta(minutes=60)
    service: str | None = None
    severity: str = "SEV-3"
    started: datetime | None = None


def _settle_new(
    session: Session,
    clock: Clock,
    integration: Integration,
    pending: list[_New],
    history: list[Any],
) -> None:
    """The incident work of the batch's new alerts, in arrival order, with one flush for
    their rows: each joins the active incident its key was in, else the one an alert of
    the same service (and group) joined within the window, else declares one (and the
    following alerts of its group join it). Each incident gets one timeline line for the
    alerts that joined it in the batch; every alert is published."""
    if not pending:
        return
    batch = list(pending)
    pending.clear()
    session.flush()  # every new alert gets its id in one statement
    now = clock.now()
    who = Principal(role="responder", user_id=None, name=f"integration:{integration.name}")
    wanted = [n for n in batch if not n.pages]
    rejoin = _rejoin_incidents(session, history, wanted)
    groups: dict[tuple[Any, ...], Incident] = {}
    joined: dict[int, tuple[Incident, list[Alert]]] = {}
    attached: set[int] = set()
    for n in wanted:
        alert = n.alert
        gkey = (alert.service_id or ("integration", alert.integration_id), n.group, n.window)
        target = rejoin.get(alert.dedup_key) or groups.get(gkey)
        if target is None:
            target = _group_incident(session, alert, n.group, now - n.window)
        if target is None:
            target = incidents.declare(
                session,
                clock,
                who,
                title=(alert.summary or "Alert")[:200],
                severity=n.severity,
                services=[n.service] if n.service else [],
                impact_summary="",
                detection_source="automated_alert",
                started_at=n.started,
                detected_at=alert.first_seen,
            )
            alert.incident_id = target.id
            alert_event(session, clock, alert, f"Alert fired: {alert.summary}")
        else:
            alert.incident_id = target.id
            joined.setdefault(target.id, (target, []))[1].append(alert)
            attached.add(alert.id)
        groups[gkey] = target
    for target, alerts in joined.values():
        _joined_line(session, clock, target, alerts)
    for n in batch:
        _opened(session, clock, n.alert, pages=n.pages)
        if n.alert.id in attached and n.alert.incident_id is not None:
            seam.publish(
                session,
                clock,
                events.AlertAttached(at=now, alert_id=n.alert.id, incident_id=n.alert.incident_id),
            )


def _joined_line(session: Session, clock: Clock, inc: Incident, alerts: list[Alert]) -> None:
    """One timeline line for the alerts that joined an incident in one batch."""
    again = inc.status == "monitoring"
    if len(alerts) == 1:
        (alert,) = alerts
        what = (
            "Alert fired again while the incident is monitoring"
            if again
            else ("Alert grouped into this incident")
        )
        alert_event(session, clock, alert, f"{what}: {alert.summary}")
        return
    shown = "; ".join(a.summary for a in alerts[:3])
    more = f" and {len(alerts) - 3} more" if len(alerts) > 3 else ""
    what = (
        "alerts fired again while the incident is monitoring"
        if again
        else ("alerts grouped into this incident")
    )
    record(
        session,
        clock,
        inc,
        kind="alert",
        text=f"{len(alerts)} {what}: {shown}{more}",
        actor=None,
        data={
            "alert_ids": [a.id for a in alerts[:100]],
            "dedup_keys": [a.dedup_key for a in alerts[:100]],
            "count": len(alerts),
            "status": "triggered",
            "links": list(alerts[0].links or []),
        },
    )


def _opened(session: Session, clock: Clock, alert: Alert, *, pages: bool) -> None:
    seam.publish(
        session,
        clock,
        events.AlertOpened(
            at=clock.now(), alert_id=alert.id, incident_id=alert.incident_id, pages=pages
        ),
    )


def _rejoin_incidents(session: Session, history: list[Any], new: list[_New]) -> dict[str, Incident]:
    """Per dedup key, the still-active incident that the latest earlier alert of the key
    joined, however long ago (from the batch's history; one query for the incidents, none
    when no key had one): a re-fire belongs where its key was being handled. An ended
    incident never takes it (resolving an incident resolves its alerts, and this skips it
    anyway)."""
    keys = {n.alert.dedup_key for n in new}
    latest: dict[str, tuple[int, int]] = {}
    for row in history:
        if row.dedup_key not in keys or row.incident_id is None:
            continue
        if row.dedup_key not in latest or row.id > latest[row.dedup_key][0]:
            latest[row.dedup_key] = (row.id, row.incident_id)
    if not latest:
        return {}
    active = {
        inc.id: inc
        for inc in session.scalars(
            select(Incident).where(
                Incident.id.in_({inc_id for _, inc_id in latest.values()}),
                Incident.status.in_(incident_rules.ACTIVE_STATUSES),
            )
        )
    }
    return {key: active[inc_id] for key, (_, inc_id) in latest.items() if inc_id in active}


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


def alert_event(session: Session, clock: Clock, alert: Alert, text: str) -> None:
    """Appends an `alert` line about `alert` to its incident's timeline; no-op without an incident.
    Changes no state and publishes nothing; runs in the caller's transaction."""
    if alert.incident_id is None:
        return
    inc = session.get(Incident, alert.incident_id)
    if inc is None:
        return
    record(
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


def resolve_alert(session: Session, clock: Clock, alert: Alert, by: str) -> None:
    """Marks an alert resolved, notes it in its incident's timeline and publishes
    `AlertResolved` (its pages stop; an alert-opened incident may resolve with it)."""
    now = clock.now()
    alert.status = "resolved"
    alert.resolved_at = now
    alert.last_seen = now
    alert_event(session, clock, alert, f"Alert resolved: {alert.summary}")
    seam.publish(
        session,
        clock,
        events.AlertResolved(at=now, alert_id=alert.id, incident_id=alert.incident_id, by=by),
    )


def acknowledge_alert(session: Session, clock: Clock, alert: Alert, by: str) -> None:
    """Marks a triggered alert acknowledged and publishes `AlertAcknowledged` (any page it
    started stops)."""
    alert.status = "acknowledged"
    alert.acknowledged_at = clock.now()
    at_source = by.startswith("integration:")
    text = "Alert acknowledged at source" if at_source else f"{by} acknowledged alert"
    alert_event(session, clock, alert, f"{text}: {alert.summary}")
    seam.publish(
        session,
        clock,
        events.AlertAcknowledged(
            at=clock.now(), alert_id=alert.id, incident_id=alert.incident_id, by=by
        ),
    )


def resolve_with_incident(session: Session, clock: Clock, incident_id: int, by: str) -> int:
    """Resolves every open alert of the incident in one statement and notes them in one
    timeline line; returns how many. The incident's own event stands for them: no
    `AlertResolved` is published, since their incident is already resolved and alerts
    attached to an incident never page on their own. A later trigger of the same key is
    a new alert, so it opens (or joins) an incident that is still active."""
    rows = list(
        session.execute(
            select(Alert.id, Alert.summary)
            .where(Alert.incident_id == incident_id, Alert.status != "resolved")
            .order_by(Alert.id)
        )
    )
    if not rows:
        return 0
    now = clock.now()
    session.execute(
        update(Alert)
        .where(Alert.id.in_([alert_id for alert_id, _ in rows]), Alert.status != "resolved")
        .values(status="resolved", resolved_at=now, last_seen=now)
        .execution_options(synchronize_session="fetch")
    )
    inc = session.get(Incident, incident_id)
    if inc is not None:
        shown = "; ".join(summary for _, summary in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        record(
            session,
            clock,
            inc,
            kind="alert",
            text=(
                f"{len(rows)} open alert(s) resolved with the incident by {by}: {shown}{more}. "
                "Their sources are not told (none of them accepts it); if an alert still "
                "fires there, its next notification opens a new incident."
            ),
            actor=None,
            data={"resolved_alerts": [alert_id for alert_id, _ in rows[:100]], "count": len(rows)},
        )
    return len(rows)
