"""What on-call scheduling publishes through the seam (`warroom.seam`)."""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class ScheduleChanged(Event):
    """A schedule's layers, members or overrides changed, so who is on call when (and
    the next handoff) may have moved."""

    schedule_id: int
