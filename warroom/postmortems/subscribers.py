"""How postmortems react to the incident lifecycle (registered in `warroom.wiring`).

Invariants:
- Resolving an incident is a durable reaction (`seam.later`): the requirement decision
  and the draft run as an engine job after the resolve commits, so drafting never slows
  or fails a resolve. Running it twice (a retry, or resolving again after a reopen)
  leaves the one postmortem the incident has.
- Declaring an incident looks for repeats as a durable job too: the note that it repeats
  past incidents with open action items never slows a declaration. An alert joining an
  open incident looks again (durably), but only when its fingerprint is one of an
  incident with open items, and names only incidents not named before.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.alerts.events import AlertAttached
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


ATTACHED = "postmortems.on_alert_attached"


def on_alert_attached(session: Session, clock: Clock, event: AlertAttached) -> None:
    """An alert that joined an open incident and shares a fingerprint with an incident
    whose action items are open: the room says so (once per past incident)."""
    if similar.alert_may_repeat(session, event.alert_id, event.incident_id):
        similar.note_repeat(session, clock, event.incident_id)
