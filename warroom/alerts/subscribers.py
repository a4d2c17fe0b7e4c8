"""How alerts react to paging and to the incident lifecycle (registered by
`warroom.wiring`). Runs in the publisher's transaction.

- A page for an alert that a responder acknowledges or resolves acknowledges or
  resolves the alert (the responder's role was checked where they acted).
- An incident resolved (by hand, or because its last alert resolved) or closed resolves
  its open alerts with it, so no later trigger of theirs is absorbed by an incident that
  is over: it opens a new one, and pages.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.alerts import ingestion, service
from warroom.alerts.models import Alert
from warroom.core.clock import Clock
from warroom.core.principal import Principal
from warroom.incidents import events as incident_events
from warroom.paging import events as paging_events


def _alert(session: Session, alert_id: int | None) -> Alert | None:
    return session.get(Alert, alert_id) if alert_id else None


def on_page_acknowledged(
    session: Session, clock: Clock, event: paging_events.PageAcknowledged
) -> None:
    """Reaction to PageAcknowledged: acknowledges the alert of a page that was for an alert alone.
    Pages for an incident are left to the incident. Acts as a responder named after the person who
    acted; a resolved alert raises Conflict (409), which rolls the page action back. Runs in the
    publisher's transaction."""
    alert = _alert(session, event.alert_id)
    if alert is not None and event.incident_id is None:
        who = Principal(role="responder", user_id=event.by_user_id, name=event.by)
        service.acknowledge(session, clock, who, alert)


def on_page_resolved(session: Session, clock: Clock, event: paging_events.PageResolved) -> None:
    """Reaction to PageResolved: resolves the alert of a page that was for an alert alone.
    Pages for an incident are left to the incident; an alert resolved already is left as it is
    (otherwise AlertResolved is published). Runs in the publisher's transaction."""
    alert = _alert(session, event.alert_id)
    if alert is not None and event.incident_id is None:
        who = Principal(role="responder", user_id=event.by_user_id, name=event.by)
        service.resolve(session, clock, who, alert)


def on_incident_resolved(
    session: Session, clock: Clock, event: incident_events.IncidentResolved
) -> None:
    """Resolves the incident's open alerts with it (one timeline line for all)."""
    ingestion.resolve_with_incident(session, clock, event.incident_id, event.by)


def on_incident_closed(
    session: Session, clock: Clock, event: incident_events.IncidentClosed
) -> None:
    """Resolves any alert still open when the incident closes."""
    ingestion.resolve_with_incident(session, clock, event.incident_id, event.by)
