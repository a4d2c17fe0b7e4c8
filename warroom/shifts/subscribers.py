"""How shifts react to on-call scheduling (registered by `warroom.wiring`): when a
schedule changes, the engine job that drafts its next handoff note is (re)scheduled at
the new change of person. Runs in the publisher's transaction; scheduling twice adds
nothing (the job key names the handoff's time)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.oncall.events import ScheduleChanged
from warroom.oncall.models import Schedule
from warroom.shifts.handoff_service import schedule_next


def on_schedule_changed(session: Session, clock: Clock, event: ScheduleChanged) -> None:
    """Reaction to ScheduleChanged: enqueues the job that drafts the schedule's next handoff.
    Idempotent (the key names the handoff); a job queued before the change stays and runs too.
    In the publisher's transaction."""
    row = session.get(Schedule, event.schedule_id)
    if row is not None:
        schedule_next(session, clock, row)
