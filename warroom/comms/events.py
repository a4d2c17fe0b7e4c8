"""What comms publishes through the seam (`warroom.seam`): plain data, ids and times."""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class ExternalUpdatePosted(Event):
    """An update for customers (audience `external`) was recorded for the incident."""

    incident_id: int
    by: str
