"""How update cadence reacts to the incident lifecycle (registered by `warroom.wiring`):
declaring an incident, changing the severity of an open one and reopening one start
the cadence checks of the (new) severity. Runs in the publisher's transaction; the
checks themselves are engine jobs that stop once the incident is no longer active."""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.comms.service import schedule_cadence
from warroom.core.clock import Clock
from warroom.incidents import events, rules
from warroom.incidents.models import Incident


def _schedule(session: Session, clock: Clock, incident_id: int) -> None:
    inc = session.get(Incident, incident_id)
    if inc is not None and inc.status in rules.ACTIVE_STATUSES:
        schedule_cadence(session, clock, inc)


def on_declared(session: Session, clock: Clock, event: events.IncidentDeclared) -> None:
    """Reaction to IncidentDeclared: schedules the update-cadence checks of the incident's severity.
    Only while the incident is active; idempotent (job keys); in the publisher's transaction."""
    _schedule(session, clock, event.incident_id)


def on_severity_changed(
    session: Session, clock: Clock, event: events.IncidentSeverityChanged
) -> None:
    """Reaction to IncidentSeverityChanged: schedules the new severity's cadence checks.
    Only while the incident is active (the old severity's checks stop by themselves); idempotent;
    in the publisher's transaction."""
    _schedule(session, clock, event.incident_id)


def on_reopened(session: Session, clock: Clock, event: events.IncidentReopened) -> None:
    """Reaction to IncidentReopened: schedules the cadence checks of the reopened incident again.
    Only while it is active; idempotent (job keys); in the publisher's transaction."""
    _schedule(session, clock, event.incident_id)
