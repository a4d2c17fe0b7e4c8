"""Delivering posted internal updates to the chat channels of the teams that own the
incident's services (each team's `channel_url`: an Apprise URL or an https webhook).

One job per update and team, keyed `update:<event>:<team>:<attempt>`; the message's
idempotency key is `update:<event>:<team>` on every attempt. The outcome of every
attempt is written to the incident timeline with every URL redacted (the channel URL
holds the chat's credentials); a failed attempt is retried with exponential backoff and
jitter. The channel URL goes through the outbound address policy at each send
(channels.send), although an admin set it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.engine.worker import backoff
from warroom.incidents import rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident, IncidentService, TimelineEvent
from warroom.notify import channels
from warroom.org.models import Service, Team
from warroom.paging.rules import MAX_ATTEMPTS

JOB = "comms_deliver"


def channel_kind(url: str) -> str:
    return "webhook" if url.startswith(("http://", "https://")) else "apprise"


def team_channels(session: Session, incident_id: int) -> list[Team]:
    """Teams owning the incident's services that have a channel to post to."""
    return list(
        session.scalars(
            select(Team)
            .join(Service, Service.owner_team_id == Team.id)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(IncidentService.incident_id == incident_id, Team.channel_url != "")
            .distinct()
            .order_by(Team.name)
        )
    )


def queue_update(session: Session, clock: Clock, event: TimelineEvent, teams: list[Team]) -> None:
    for team in teams:
        enqueue(
            session,
            kind=JOB,
            key=f"update:{event.id}:{team.id}:1",
            due_at=clock.now(),
            payload={"event_id": event.id, "team_id": team.id, "attempt": 1},
            now=clock.now(),
            max_attempts=20,
        )


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler (outside a transaction): posts one update to one team channel."""
    event_id, team_id = int(payload["event_id"]), int(payload["team_id"])
    attempt = int(payload.get("attempt", 1))
    with db.read() as s:
        ev = s.get(TimelineEvent, event_id)
        team = s.get(Team, team_id)
        if ev is None or team is None or not team.channel_url:
            return None
        inc = s.get(Incident, ev.incident_id)
        if inc is None or inc.private:
            # Made private after the update was queued: its channel must not read it.
            return None
        ref, incident_id = rules.short_id(inc.id), inc.id
        url, label = team.channel_url, team.channel or team.name
        key = f"update:{event_id}:{team_id}"
        msg = channels.Message(
            key=key,
            subject=f"[{inc.severity}] {ref} {inc.title}: update",
            text=ev.text,
            data={
                "event": "update",
                "incident": {"id": ref, "title": inc.title, "severity": inc.severity},
                "audience": (ev.data or {}).get("audience"),
                "text": ev.text,
                "posted_by": ev.actor,
                "posted_at": iso(ev.at),
            },
        )
    try:
        detail, ok = channels.send(channel_kind(url), url, "", msg), True
    except channels.DeliveryFailed as exc:
        detail, ok = str(exc), False
    except Exception as exc:  # a channel library failing in its own way
        detail, ok = channels.failure_text(exc), False
    detail = channels.redact_text(detail)

    def record(s: Session) -> None:
        inc = s.get(Incident, incident_id)
        if inc is None:
            return
        now = clock.now()
        if ok:
            text = f"Update delivered to {label}: {detail}"
        elif attempt < MAX_ATTEMPTS:
            retry = now + backoff(attempt)
            enqueue(
                s,
                kind=JOB,
                key=f"update:{event_id}:{team_id}:{attempt + 1}",
                due_at=retry,
                payload={"event_id": event_id, "team_id": team_id, "attempt": attempt + 1},
                now=now,
                max_attempts=20,
            )
            text = (
                f"Delivering the update to {label} failed (attempt {attempt}): {detail[:300]}; "
                f"retrying at {iso(retry)}"
            )
        else:
            text = f"Delivering the update to {label} failed (attempt {attempt}): {detail[:300]}; gave up"
        incident_timeline.record(
            s,
            clock,
            inc,
            kind="delivery",
            text=text,
            actor=None,
            data={
                "update_event": event_id,
                "channel": label,
                "attempt": attempt,
                "ok": ok,
                "idempotency_key": key,
            },
        )

    return record
