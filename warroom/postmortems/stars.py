"""Stars on timeline events: a responder marks, in the room, the moments the postmortem's
timeline should open with.

Invariants:
- Starring and unstarring are responder actions, checked here (the API and the room's
  form call the same function); viewers read stars but never set them.
- A star belongs to an event of the incident it names: an event of another incident is
  a 404 naming `event`, so a caller never learns about an incident through its events.
- The timeline stays append-only: a star is a row of its own (`timeline_stars`), one per
  event, and setting it twice leaves one. The drafted postmortem timeline
  (`draft.facts`) lists starred events first; a draft already written is text people
  own and is not redrawn.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.core.errors import NotFound
from warroom.core.principal import Principal, require_responder
from warroom.incidents.models import Incident, TimelineEvent
from warroom.postmortems.models import TimelineStar


def starred_ids(session: Session, incident_id: int) -> set[int]:
    """The ids of the incident's starred timeline events. Reads only."""
    return set(
        session.scalars(
            select(TimelineStar.event_id).where(TimelineStar.incident_id == incident_id)
        )
    )


def list_stars(session: Session, incident_id: int) -> list[dict[str, Any]]:
    """The incident's stars, oldest event first (event id, who starred it and when)."""
    rows = session.scalars(
        select(TimelineStar)
        .where(TimelineStar.incident_id == incident_id)
        .order_by(TimelineStar.event_id)
    )
    return [{"event": r.event_id, "by": r.by, "at": iso(r.at)} for r in rows]


def set_star(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    event_id: int,
    starred: bool,
) -> dict[str, Any]:
    """Stars (or unstars) one event of `inc` for `principal` (a responder: Forbidden, 403,
    otherwise); NotFound (404, field `event`) when the incident has no such event. The
    caller found `inc` through `incidents.queries.get_incident`, so it may see it.
    Returns `{"event", "starred"}`."""
    require_responder(principal)
    ev = session.get(TimelineEvent, event_id)
    if ev is None or ev.incident_id != inc.id:
        raise NotFound(f"no timeline event {event_id} in this incident", field="event")
    row = session.get(TimelineStar, event_id)
    if starred and row is None:
        session.add(
            TimelineStar(event_id=event_id, incident_id=inc.id, by=principal.name, at=clock.now())
        )
    elif not starred and row is not None:
        session.delete(row)
    session.flush()
    return {"event": event_id, "starred": starred}
