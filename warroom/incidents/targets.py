"""Response-target timers: warn in the timeline when a severity's targets are missed.

A severity sets minutes to acknowledgement and to an Incident Commander; a timer per
target is an engine job due that long after declaration. Timers are scheduled when an
incident is declared, changes severity while open, or is reopened, once per incident,
severity and target (their keys say so: a severity the incident had before keeps its
finished timers); a timer whose incident changed severity or stopped being active does
nothing. A missed target warns once per round and reminds while it stays missed,
`REMINDER_ROUNDS` times.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.engine.queue import enqueue
from warroom.incidents import events, rules
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.timeline import active_roles, record
from warroom.org.service import severity_by_name
from warroom.severity.levels import timer_targets

JOB = "response_target"
REMINDER_ROUNDS = 6


def schedule(session: Session, clock: Clock, incident: Incident) -> None:
    """Enqueues the first check of each response target the incident's severity sets (ack, IC).
    Each is due that many minutes after declaration (now if that has passed). The jobs are keyed
    by incident, severity and target, so scheduling again adds nothing: not after a reopen, nor
    on a return to an earlier severity. Raises ValidationFailed (422, field `severity`) for an
    unknown severity; runs in the caller's transaction."""
    sev = severity_by_name(session, incident.severity)
    for target, minutes in timer_targets(sev.targets or {}).items():
        due = incident.declared_at + timedelta(minutes=minutes)
        enqueue(
            session,
            kind=JOB,
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


def on_declared(session: Session, clock: Clock, event: events.IncidentDeclared) -> None:
    """Reaction to IncidentDeclared: starts the incident's response-target timers (see schedule)."""
    inc = session.get(Incident, event.incident_id)
    if inc is not None:
        schedule(session, clock, inc)


def on_severity_changed(
    session: Session, clock: Clock, event: events.IncidentSeverityChanged
) -> None:
    """Reaction to IncidentSeverityChanged: starts the new severity's timers of an active incident.
    The old severity's timers stop by themselves; see schedule for when nothing is added."""
    inc = session.get(Incident, event.incident_id)
    if inc is not None and inc.status in rules.ACTIVE_STATUSES:
        schedule(session, clock, inc)


def on_reopened(session: Session, clock: Clock, event: events.IncidentReopened) -> None:
    """Reaction to IncidentReopened: schedules the timers again (see schedule: often a no-op)."""
    inc = session.get(Incident, event.incident_id)
    if inc is not None:
        schedule(session, clock, inc)


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
        met = any(ra.role == "commander" for ra, _ in active_roles(session, inc.id))
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
            kind=JOB,
            key=f"target:{inc.id}:{inc.severity}:{target}:{rnd + 1}",
            due_at=clock.now() + timedelta(minutes=minutes),
            payload={**payload, "round": rnd + 1},
            now=clock.now(),
        )
