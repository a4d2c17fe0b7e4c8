"""How analytics reacts to the incident lifecycle (registered by `warroom.wiring`).

Invariant: every incident event rewrites that incident's fact rows (`facts.refresh`) in
the publisher's transaction, registered after every other reaction, so the facts commit
with the change that made them and the summary never reads a stale duration.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.analytics import facts
from warroom.core.clock import Clock
from warroom.incidents import events as ie
from warroom.seam import Event

# Every incident event: each may change a milestone, the severity, visibility, services
# or the repeat mark.
INCIDENT_EVENTS: tuple[type[Event], ...] = (
    ie.IncidentDeclared,
    ie.IncidentAcknowledged,
    ie.IncidentStatusChanged,
    ie.IncidentResolved,
    ie.IncidentClosed,
    ie.IncidentReopened,
    ie.IncidentSeverityChanged,
    ie.IncidentRoleChanged,
    ie.IncidentVisibilityChanged,
    ie.IncidentMilestoneChanged,
    ie.IncidentRepeatChanged,
    ie.IncidentServicesChanged,
)


def on_incident_changed(session: Session, clock: Clock, event: Event) -> None:
    """Reaction to any incident event: rewrites the incident's facts."""
    incident_id = getattr(event, "incident_id", None)
    if isinstance(incident_id, int):
        facts.refresh(session, incident_id)
