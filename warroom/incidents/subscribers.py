"""How the incident lifecycle reacts to paging and alerts (registered by
`warroom.wiring`). All reactions run inside the publisher's transaction.

- A page acknowledged or resolved by a responder acknowledges or resolves its incident
  (the responder's role was checked where they acted).
- An incident opened by alerts that nobody took over (no person declared it) resolves
  when its last alert resolves.
- The first external update (comms) or status page post for an incident sets its
  customers_informed milestone, if unset.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.alerts import events as alert_events
from warroom.alerts.models import Alert
from warroom.comms import events as comms_events
from warroom.core.clock import Clock
from warroom.core.principal import Principal
from warroom.incidents import rules, service
from warroom.incidents.models import Incident
from warroom.paging import events as paging_events
from warroom.statuspage import events as statuspage_events


def _actor(name: str, user_id: int | None) -> Principal:
    return Principal(role="responder", user_id=user_id, name=name)


def on_page_acknowledged(
    session: Session, clock: Clock, event: paging_events.PageAcknowledged
) -> None:
    """Reaction to PageAcknowledged: acknowledges the page's incident as the person who acted.
    Runs service.acknowledge in the publisher's transaction, with its events; a closed incident
    raises Conflict (409), which rolls the page action back. Pages for an alert alone are
    ignored."""
    inc = session.get(Incident, event.incident_id) if event.incident_id else None
    if inc is not None:
        service.acknowledge(session, clock, _actor(event.by, event.by_user_id), inc)


def on_page_resolved(session: Session, clock: Clock, event: paging_events.PageResolved) -> None:
    """Reaction to PageResolved: resolves the page's incident as the person who acted.
    Runs service.resolve in the publisher's transaction (IncidentResolved stops every page); a
    resolved incident is left as it is, a closed one raises Conflict (409), which rolls the page
    action back. Pages for an alert alone are ignored."""
    inc = session.get(Incident, event.incident_id) if event.incident_id else None
    if inc is not None:
        service.resolve(session, clock, _actor(event.by, event.by_user_id), inc, summary="")


def on_alert_resolved(session: Session, clock: Clock, event: alert_events.AlertResolved) -> None:
    """The last alert of an alert-opened incident nobody took over ends the incident."""
    inc = session.get(Incident, event.incident_id) if event.incident_id else None
    if inc is None or inc.status not in rules.ACTIVE_STATUSES:
        return
    if inc.created_by_id is not None or inc.detection_source != "automated_alert":
        return
    still_open = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.incident_id == inc.id,
            Alert.status != "resolved",
            Alert.id != event.alert_id,
        )
    )
    if still_open == 0:
        service.resolve(session, clock, _actor(event.by, None), inc, summary="All alerts resolved")


def on_customers_informed(
    session: Session,
    clock: Clock,
    event: comms_events.ExternalUpdatePosted | statuspage_events.PublicUpdatePosted,
) -> None:
    """Reaction to ExternalUpdatePosted and PublicUpdatePosted: the first one sets the
    incident's customers_informed milestone (service.note_customers_informed)."""
    service.note_customers_informed(session, clock, event.incident_id, event.at, event.by)
