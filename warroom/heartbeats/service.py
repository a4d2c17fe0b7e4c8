"""Heartbeat monitors: create, pause, resume, delete, ping, and the deadline timer.

Invariants:
- A ping URL secret is shown once, at creation; only its SHA-256 is stored. A wrong
  secret is indistinguishable from a monitor that does not exist.
- Each unpaused monitor has at most one pending engine job of kind `JOB`, due at its
  deadline. A ping moves that job's due time in place (one UPDATE); only when the job
  is already running or done is a new one enqueued. No code polls every monitor.
- The job recomputes the deadline when it fires (pings, pauses, maintenance windows
  may have moved it): early, it schedules itself again; due, the monitor goes down.
- Going down opens an outage and ingests one trigger through the alerts domain for the
  monitor's internal integration, dedup key `heartbeat:<name>`; the next ping (or a
  pause, or deleting the monitor) ends the outage and ingests the resolve. Routing,
  silences, maintenance, escalation and incidents apply to that alert unchanged.
- Creating, pausing, resuming and deleting need the admin role, as integrations do.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.alerts import ingestion
from warroom.alerts import integrations as alert_integrations
from warroom.alerts.models import Alert, Integration, Silence
from warroom.alerts.parsers import NormalizedEvent
from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed, require_choice
from warroom.core.principal import Principal, require_role
from warroom.core.security import hash_token
from warroom.engine.models import Job
from warroom.engine.queue import enqueue
from warroom.heartbeats import rules
from warroom.heartbeats.models import MAX_PINGS, Heartbeat, HeartbeatOutage
from warroom.org.models import Service

JOB = "heartbeat_deadline"
SEVERITIES = ("critical", "error", "warning", "info")
TOKEN_PREFIX = "hb_"


def new_token() -> str:
    """A ping URL secret: `hb_` and 32 random URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def ping_path(token: str) -> str:
    """The path of a monitor's ping URL, below the public base URL."""
    return f"/ping/{token}"


def _integration_name(name: str) -> str:
    return f"heartbeat:{name}"


def _dedup_key(name: str) -> str:
    return f"heartbeat:{name}"


def _check_fields(
    name: str, interval: timedelta, grace: timedelta, severity: str, description: str
) -> str:
    name = name.strip()
    if not name or len(name) > 100 or "/" in name:
        raise ValidationFailed("name must be 1-100 characters without '/'", field="name")
    for field, value, low in (("interval", interval, rules.MIN_INTERVAL), ("grace", grace, None)):
        if (low is not None and value < low) or value < timedelta(0) or value > rules.MAX_INTERVAL:
            bound = "1s" if low is not None else "0s"
            raise ValidationFailed(f"{field} must be between {bound} and 366d", field=field)
        if value.microseconds:
            raise ValidationFailed(f"{field} must be a whole number of seconds", field=field)
    require_choice(severity, SEVERITIES, "severity")
    if len(description) > 500:
        raise ValidationFailed("description must be at most 500 characters", field="description")
    return name


def _service(session: Session, name: str) -> Service:
    svc = session.scalar(select(Service).where(Service.name == name))
    if svc is None:
        raise ValidationFailed(f"unknown service {name!r}", field="service")
    return svc


def create(
    session: Session,
    clock: Clock,
    who: Principal,
    *,
    name: str,
    service: str,
    interval: timedelta,
    grace: timedelta,
    severity: str = "critical",
    description: str = "",
) -> tuple[Heartbeat, str]:
    """Creates a monitor and returns it with its ping URL secret, the only time it is shown.
    Its first deadline is `interval + grace` from now. Needs the admin role (Forbidden, 403);
    raises ValidationFailed (422) naming `name`, `service`, `interval`, `grace`, `severity` or
    `description`, and Conflict (409, field `name`) for a name in use. Runs in the caller's
    transaction; publishes nothing."""
    require_role(who, "admin")
    return create_monitor(
        session,
        clock,
        name=name,
        service=service,
        interval=interval,
        grace=grace,
        severity=severity,
        description=description,
    )


def create_monitor(
    session: Session,
    clock: Clock,
    *,
    name: str,
    service: str,
    interval: timedelta,
    grace: timedelta,
    severity: str = "critical",
    description: str = "",
    paused: bool = False,
) -> tuple[Heartbeat, str]:
    """`create` without the role check, for config apply (whose route requires admin)."""
    name = _check_fields(name, interval, grace, severity, description)
    if session.scalar(select(Heartbeat.id).where(Heartbeat.name == name)) is not None:
        raise Conflict(f"a heartbeat monitor named {name!r} exists already", field="name")
    svc = _service(session, service)
    now = clock.now()
    integ = alert_integrations.internal_integration(session, clock, _integration_name(name), svc.id)
    token = new_token()
    hb = Heartbeat(
        name=name,
        service_id=svc.id,
        integration_id=integ.id,
        token_hash=hash_token(token),
        token_hint=token[:7],
        interval_seconds=int(interval.total_seconds()),
        grace_seconds=int(grace.total_seconds()),
        severity=severity,
        description=description,
        paused=paused,
        down=False,
        created_at=now,
        since=now,
        last_ping_source="",
        pings=[],
    )
    session.add(hb)
    session.flush()
    if not paused:
        _schedule(session, hb, now)
    return hb, token


def update_monitor(
    session: Session,
    clock: Clock,
    hb: Heartbeat,
    *,
    service: str,
    interval: timedelta,
    grace: timedelta,
    severity: str,
    description: str,
    paused: bool,
) -> None:
    """Changes a monitor's settings (config apply); its deadline follows at once. Raises
    ValidationFailed as `create` does. Checks no role."""
    _check_fields(hb.name, interval, grace, severity, description)
    svc = _service(session, service)
    if svc.id != hb.service_id:
        hb.service_id = svc.id
        alert_integrations.internal_integration(session, clock, _integration_name(hb.name), svc.id)
    hb.interval_seconds = int(interval.total_seconds())
    hb.grace_seconds = int(grace.total_seconds())
    hb.severity, hb.description = severity, description
    if paused != hb.paused:
        _set_paused(session, clock, hb, paused)
    elif not paused:
        _schedule(session, hb, clock.now())


def get(session: Session, name: str) -> Heartbeat:
    """Returns the monitor named `name`; raises NotFound (404, field `name`). Reads only."""
    hb = session.scalar(select(Heartbeat).where(Heartbeat.name == name))
    if hb is None:
        raise NotFound(f"no heartbeat monitor named {name!r}", field="name")
    return hb


def list_monitors(session: Session) -> list[Heartbeat]:
    """Every monitor, by name. Reads only; checks no role."""
    return list(session.scalars(select(Heartbeat).order_by(Heartbeat.name)))


def pause(session: Session, clock: Clock, who: Principal, name: str) -> Heartbeat:
    """Stops watching a monitor: no deadline, and a monitor that is down recovers (its alert
    resolves). Pings are still recorded. Idempotent. Needs the admin role (Forbidden, 403);
    NotFound (404, field `name`) for an unknown monitor."""
    require_role(who, "admin")
    hb = _locked(session, name)
    _set_paused(session, clock, hb, True)
    return hb


def resume(session: Session, clock: Clock, who: Principal, name: str) -> Heartbeat:
    """Watches a paused monitor again, with a full `interval + grace` from now. Idempotent.
    Needs the admin role (Forbidden, 403); NotFound (404, field `name`) for an unknown one."""
    require_role(who, "admin")
    hb = _locked(session, name)
    _set_paused(session, clock, hb, False)
    return hb


def delete(session: Session, clock: Clock, who: Principal, name: str) -> None:
    """Deletes a monitor; its open alert resolves and its timer is dropped. Its internal
    integration goes too unless alerts of the past still belong to it. Needs the admin role
    (Forbidden, 403); NotFound (404, field `name`) for an unknown monitor."""
    require_role(who, "admin")
    delete_monitor(session, clock, _locked(session, name))


def delete_monitor(session: Session, clock: Clock, hb: Heartbeat) -> None:
    """`delete` without the role check, for config apply."""
    if hb.down:
        _recover(session, clock, hb, "deleted")
    if hb.job_key:
        session.execute(sql_delete(Job).where(Job.key == hb.job_key, Job.state == "pending"))
    integ_id = hb.integration_id
    session.delete(hb)
    session.flush()
    if session.scalar(select(Alert.id).where(Alert.integration_id == integ_id).limit(1)) is None:
        session.execute(sql_delete(Integration).where(Integration.id == integ_id))


def _locked(session: Session, name: str) -> Heartbeat:
    hb = session.scalar(select(Heartbeat).where(Heartbeat.name == name).with_for_update())
    if hb is None:
        raise NotFound(f"no heartbeat monitor named {name!r}", field="name")
    return hb


def _set_paused(session: Session, clock: Clock, hb: Heartbeat, paused: bool) -> None:
    if paused == hb.paused:
        return
    now = clock.now()
    hb.paused = paused
    if paused:
        if hb.down:
            _recover(session, clock, hb, "paused")
        return
    hb.since = now
    _schedule(session, hb, now)


# --- pings -------------------------------------------------------------------------------


def ping(session: Session, clock: Clock, token: str, source: str) -> bool:
    """Records a ping for the monitor whose secret is `token`; returns False when none has it
    (the route answers 404). Unauthenticated but for the secret. Runs in the caller's
    transaction."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return False
    hb = session.scalar(
        select(Heartbeat).where(Heartbeat.token_hash == hash_token(token)).with_for_update()
    )
    if hb is None:
        return False
    record_ping(session, clock, hb, source)
    return True


def ping_by_name(session: Session, clock: Clock, name: str, source: str) -> bool:
    """Records a ping for the monitor named `name` (an integration's Watchdog alert);
    returns False when there is none."""
    hb = session.scalar(select(Heartbeat).where(Heartbeat.name == name).with_for_update())
    if hb is None:
        return False
    record_ping(session, clock, hb, source)
    return True


def record_ping(session: Session, clock: Clock, hb: Heartbeat, source: str) -> None:
    """A ping: last ping time, the kept pings, a new interval from now and the timer moved to
    its end; a monitor that was down recovers (its alert resolves). A paused monitor records
    the ping and keeps no timer."""
    now = clock.now()
    hb.last_ping_at = now
    hb.last_ping_source = source[:32]
    hb.pings = [*list(hb.pings or [])[-(MAX_PINGS - 1) :], iso(now) or ""]
    if hb.paused:
        return
    hb.since = now
    if hb.down:
        _recover(session, clock, hb, "ping")
    _schedule(session, hb, now, wake=False)


def _schedule(
    session: Session,
    hb: Heartbeat,
    now: datetime,
    due: datetime | None = None,
    *,
    wake: bool = True,
) -> None:
    """Moves the monitor's pending timer to `due` (its plain deadline by default: the job
    accounts for maintenance windows when it fires), or enqueues a new one. A ping only
    moves a timer later, so it does not wake the engine (`wake=False`): with thousands of
    pings a minute, waking it for each would make it look for due work as often."""
    if due is None:
        due = hb.since + timedelta(seconds=hb.interval_seconds + hb.grace_seconds)
    if hb.job_key:
        moved = session.execute(
            update(Job)
            .where(Job.key == hb.job_key, Job.state == "pending")
            .values(due_at=due)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0):
            if wake:
                session.info["warroom_wake"] = True
            return
    key = f"heartbeat:{hb.id}:{secrets.token_hex(8)}"
    enqueue(
        session,
        kind=JOB,
        key=key,
        due_at=due,
        payload={"heartbeat": hb.id},
        now=now,
        fresh=True,
    )
    hb.job_key = key


# --- the deadline ------------------------------------------------------------------------


def beat_of(hb: Heartbeat) -> rules.Beat:
    """The rules' view of a monitor."""
    return rules.Beat(
        since=hb.since,
        interval=timedelta(seconds=hb.interval_seconds),
        grace=timedelta(seconds=hb.grace_seconds),
        paused=hb.paused,
        pinged=hb.last_ping_at is not None,
    )


def maintenance_windows(
    session: Session, since: datetime | None = None
) -> dict[int, list[rules.Window]]:
    """Maintenance windows by service id that end after `since` (all of them without it)."""
    q = select(Silence).where(Silence.kind == "maintenance")
    if since is not None:
        q = q.where(Silence.ends_at > since)
    ids = {name: sid for sid, name in session.execute(select(Service.id, Service.name))}
    out: dict[int, list[rules.Window]] = {}
    for s in session.scalars(q):
        for name in s.services or []:
            if name in ids:
                out.setdefault(ids[name], []).append((s.starts_at, s.ends_at))
    return out


def run_deadline(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler of `JOB`: the monitor goes down if its deadline has passed, else the
    timer is set again for the deadline (or the end of a maintenance window before it, so a
    window cut short is seen then). Idempotent: a down, paused or deleted monitor is left."""
    hb = session.scalar(
        select(Heartbeat).where(Heartbeat.id == int(payload["heartbeat"])).with_for_update()
    )
    if hb is None or hb.paused or hb.down:
        return
    now = clock.now()
    windows = maintenance_windows(session, hb.since).get(hb.service_id, [])
    due = rules.deadline(beat_of(hb), windows)
    assert due is not None
    if now < due:
        recheck = min([due] + [end for _, end in windows if now < end < due])
        _schedule(session, hb, now, recheck)
        return
    _go_down(session, clock, hb, due)


def _go_down(session: Session, clock: Clock, hb: Heartbeat, due: datetime) -> None:
    now = clock.now()
    hb.down = True
    session.add(HeartbeatOutage(heartbeat_id=hb.id, started_at=due, ended_by=""))
    quiet = rules.human_minutes(now - (hb.last_ping_at or hb.created_at))
    what = "no heartbeat" if hb.last_ping_at else "no heartbeat yet"
    svc = session.get(Service, hb.service_id)
    summary = (
        f"{what.capitalize()} from {hb.name} for {quiet} (expected every "
        f"{rules.format_duration(timedelta(seconds=hb.interval_seconds))}, grace "
        f"{rules.format_duration(timedelta(seconds=hb.grace_seconds))})"
    )
    event = NormalizedEvent(
        action="trigger",
        dedup_key=_dedup_key(hb.name),
        summary=summary,
        source="warroom heartbeat",
        severity=hb.severity,
        timestamp=due,
        labels={
            "alertname": "HeartbeatMissing",
            "heartbeat": hb.name,
            "service": svc.name if svc else "",
        },
        annotations={"description": hb.description} if hb.description else {},
        details={
            "last_ping_at": iso(hb.last_ping_at),
            "deadline": iso(due),
            "interval_seconds": hb.interval_seconds,
            "grace_seconds": hb.grace_seconds,
        },
    )
    ingestion.ingest(session, clock, _integration(session, hb), [event])


def _recover(session: Session, clock: Clock, hb: Heartbeat, by: str) -> None:
    now = clock.now()
    hb.down = False
    session.execute(
        update(HeartbeatOutage)
        .where(HeartbeatOutage.heartbeat_id == hb.id, HeartbeatOutage.ended_at.is_(None))
        .values(ended_at=now, ended_by=by)
        .execution_options(synchronize_session=False)
    )
    event = NormalizedEvent(action="resolve", dedup_key=_dedup_key(hb.name), source="heartbeat")
    ingestion.ingest(session, clock, _integration(session, hb), [event])


def _integration(session: Session, hb: Heartbeat) -> Integration:
    integ = session.get(Integration, hb.integration_id)
    assert integ is not None  # RESTRICT: it outlives the monitor
    return integ


# --- reads -------------------------------------------------------------------------------


def state_of(hb: Heartbeat, now: datetime, windows: Iterable[rules.Window]) -> str:
    """The monitor's state now: paused, down (an outage is open), or the rules' state."""
    if hb.paused:
        return "paused"
    if hb.down:
        return "down"
    return rules.state(beat_of(hb), now, list(windows))


def heartbeat_dict(
    session: Session,
    hb: Heartbeat,
    now: datetime,
    windows: dict[int, list[rules.Window]] | None = None,
    service_names: dict[int, str] | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """The API form of a monitor: settings, state, last ping, next expected ping, deadline,
    the kept ping times and the intervals between them; with `history`, its last 20
    outages. The secret is shown only as its first characters."""
    if windows is None:
        windows = maintenance_windows(session, hb.since)
    wins = windows.get(hb.service_id, [])
    beat = beat_of(hb)
    due = None if hb.paused or hb.down else rules.deadline(beat, wins)
    expected = None if due is None else due - beat.grace
    if service_names is None:
        svc = session.get(Service, hb.service_id)
        service = svc.name if svc else None
    else:
        service = service_names.get(hb.service_id)
    pings = list(hb.pings or [])
    parsed = [datetime.fromisoformat(p.replace("Z", "+00:00")) for p in pings]
    out: dict[str, Any] = {
        "name": hb.name,
        "service": service,
        "interval": rules.format_duration(beat.interval),
        "interval_seconds": hb.interval_seconds,
        "grace": rules.format_duration(beat.grace),
        "grace_seconds": hb.grace_seconds,
        "severity": hb.severity,
        "description": hb.description,
        "paused": hb.paused,
        "state": state_of(hb, now, wins),
        "created_at": iso(hb.created_at),
        "last_ping_at": iso(hb.last_ping_at),
        "last_ping_source": hb.last_ping_source or None,
        "next_expected_at": iso(expected),
        "deadline_at": iso(due),
        "late_by_seconds": int((now - expected).total_seconds())
        if expected is not None and now > expected
        else 0,
        "url_hint": ping_path(hb.token_hint + "…"),
        "pings": pings,
        "intervals_seconds": [int(d.total_seconds()) for d in rules.intervals(parsed)],
    }
    if history:
        rows = session.scalars(
            select(HeartbeatOutage)
            .where(HeartbeatOutage.heartbeat_id == hb.id)
            .order_by(HeartbeatOutage.started_at.desc())
            .limit(20)
        )
        out["outages"] = [
            {
                "started_at": iso(o.started_at),
                "ended_at": iso(o.ended_at),
                "ended_by": o.ended_by or None,
            }
            for o in rows
        ]
    return out


def list_dicts(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every monitor in its API form, by name, reading windows and service names once."""
    monitors = list_monitors(session)
    if not monitors:
        return []
    windows = maintenance_windows(session, min(hb.since for hb in monitors))
    names = {sid: name for sid, name in session.execute(select(Service.id, Service.name))}
    return [heartbeat_dict(session, hb, now, windows, names) for hb in monitors]


def down_between(
    session: Session, start: datetime, end: datetime, service_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """Outages overlapping `[start, end)` (of the monitors of `service_ids`, when given), oldest
    first, as {name, started_at, ended_at}; an outage still open has ended_at None. For the
    on-call handoff. Reads only; checks no role."""
    q = (
        select(Heartbeat.name, HeartbeatOutage.started_at, HeartbeatOutage.ended_at)
        .join(Heartbeat, Heartbeat.id == HeartbeatOutage.heartbeat_id)
        .where(
            HeartbeatOutage.started_at < end,
            (HeartbeatOutage.ended_at.is_(None)) | (HeartbeatOutage.ended_at > start),
        )
        .order_by(HeartbeatOutage.started_at)
    )
    if service_ids is not None:
        q = q.where(Heartbeat.service_id.in_(list(service_ids) or [-1]))
    return [
        {"name": name, "started_at": iso(s), "ended_at": iso(e)}
        for name, s, e in session.execute(q)
    ]
