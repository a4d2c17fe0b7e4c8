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
    row = session.get(Schedule, event.schedule_id)
    if row is not None:
        schedule_next(session, clock, row)
