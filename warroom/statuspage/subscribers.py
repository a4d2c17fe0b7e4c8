"""How the status page reacts to the incident lifecycle (registered by `warroom.wiring`).

An incident made private after it was published disappears from every public body, and
one made public again comes back: the page's version is bumped in the same transaction,
so every process's cache re-renders at its next check. Runs in the publisher's
transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.incidents.events import IncidentVisibilityChanged
from warroom.statuspage.models import PublicIncident
from warroom.statuspage.page import bump


def on_visibility_changed(session: Session, clock: Clock, event: IncidentVisibilityChanged) -> None:
    """Bumps the page's version when the incident is published (else changes nothing)."""
    published = session.scalar(
        select(PublicIncident.id).where(PublicIncident.incident_id == event.incident_id)
    )
    if published is not None:
        bump(session, clock)
