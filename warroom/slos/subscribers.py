"""How SLOs react to incidents: a change that moves an SLO's spend (declared, a status
or milestone change, reopened) brings the next evaluation forward to now, so a burn
alert and the room's line do not wait for the minute to turn.

Runs in the publisher's transaction (`seam.on`) and only enqueues: the evaluation itself
is the engine job (warroom.slos.evaluator). Nothing is enqueued for an incident that is
not customer-facing, is a drill, or has no service with an SLO.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.incidents import events
from warroom.incidents.models import Incident, IncidentService
from warroom.slos import evaluator
from warroom.slos.models import Slo

Changed = (
    events.IncidentDeclared
    | events.IncidentStatusChanged
    | events.IncidentMilestoneChanged
    | events.IncidentReopened
)


def on_incident_changed(session: Session, clock: Clock, event: Changed) -> None:
    """Enqueues an evaluation due now when an SLO covers the customer-facing incident."""
    inc = session.get(Incident, event.incident_id)
    if inc is None or not inc.customer_facing or inc.drill:
        return
    covered = session.scalar(
        select(Slo.id)
        .join(IncidentService, IncidentService.service_id == Slo.service_id)
        .where(IncidentService.incident_id == inc.id)
        .limit(1)
    )
    if covered is not None:
        evaluator.evaluate_soon(session, clock)
