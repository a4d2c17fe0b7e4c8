"""How paging reacts to incidents and alerts (registered by `warroom.wiring`).

All reactions run inside the publisher's transaction: an incident that commits as
resolved has no escalation still running, and a declared incident commits with its
first page step queued.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.alerts import events as alert_events
from warroom.alerts.models import Alert
from warroom.core.clock import Clock
from warroom.incidents import events as incident_events
from warroom.incidents.models import Incident
from warroom.paging import service


def _start(session: Session, clock: Clock, incident_id: int) -> None:
    inc = session.get(Incident, incident_id)
    if inc is not None:
        service.start_for_incident(session, clock, inc.id, inc.title)


def on_declared(session: Session, clock: Clock, event: incident_events.IncidentDeclared) -> None:
    """Page each of the incident's services' escalation policies (once each)."""
    _start(session, clock, event.incident_id)


def on_reopened(session: Session, clock: Clock, event: incident_events.IncidentReopened) -> None:
    """A reopened incident pages again, as when it was declared."""
    _start(session, clock, event.incident_id)


def on_acknowledged(
    session: Session, clock: Clock, event: incident_events.IncidentAcknowledged
) -> None:
    """Reaction to IncidentAcknowledged: acknowledges the incident's active escalations.
    Their pending notifications are cancelled; idempotent; in the publisher's transaction."""
    service.stop_for_incident(session, clock, event.incident_id, "acknowledge", event.by)


def on_resolved(session: Session, clock: Clock, event: incident_events.IncidentResolved) -> None:
    """Reaction to IncidentResolved: resolves every active escalation of the incident.
    Their pending notifications are cancelled; idempotent; in the publisher's transaction."""
    service.stop_for_incident(session, clock, event.incident_id, "resolve", event.by)


def on_closed(session: Session, clock: Clock, event: incident_events.IncidentClosed) -> None:
    """Reaction to IncidentClosed: resolves any escalation of the incident still active.
    Idempotent; in the publisher's transaction."""
    service.stop_for_incident(session, clock, event.incident_id, "resolve", event.by)


def on_alert_opened(session: Session, clock: Clock, event: alert_events.AlertOpened) -> None:
    """An alert that opens no incident but whose rule pages: page its service's policy."""
    if not event.pages or event.incident_id is not None:
        return
    alert = session.get(Alert, event.alert_id)
    if alert is not None:
        service.start_for_alert(session, clock, alert.id, alert.service_id, alert.summary)


def on_alert_acknowledged(
    session: Session, clock: Clock, event: alert_events.AlertAcknowledged
) -> None:
    """Reaction to AlertAcknowledged: acknowledges the active escalations of the alert itself.
    An incident's pages are left alone; idempotent; in the publisher's transaction."""
    service.stop_for_alert(session, clock, event.alert_id, "acknowledge", event.by)


def on_alert_resolved(session: Session, clock: Clock, event: alert_events.AlertResolved) -> None:
    """Reaction to AlertResolved: resolves the active escalations of the alert itself.
    An incident's pages are left alone; idempotent; in the publisher's transaction."""
    service.stop_for_alert(session, clock, event.alert_id, "resolve", event.by)
