"""How postmortems react to the incident lifecycle (registered in `warroom.wiring`).

Invariants:
- Resolving an incident is a durable reaction (`seam.later`): the requirement decision
  and the draft run as an engine job after the resolve commits, so drafting never slows
  or fails a resolve. Running it twice (a retry, or resolving again after a reopen)
  leaves the one postmortem the incident has.
- Declaring an incident looks for repeats as a durable job too: the note that it repeats
  past incidents with open action items never slows a declaration.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.incidents.events import IncidentDeclared, IncidentResolved
from warroom.postmortems import service, similar

RESOLVED = "postmortems.on_resolved"


def on_resolved(session: Session, clock: Clock, event: IncidentResolved) -> None:
    """A required postmortem is created with its owner and due time; a recommended one
    is offered in the room."""
    service.on_resolved(session, clock, event.incident_id, event.by)


DECLARED = "postmortems.on_declared"


def on_declared(session: Session, clock: Clock, event: IncidentDeclared) -> None:
    """A new incident that repeats past ones with open action items says so in its room."""
    similar.note_repeat(session, clock, event.incident_id)
