"""What the status page publishes through the seam (`warroom.seam`): plain data."""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class PublicUpdatePosted(Event):
    """An update of a public incident linked to an internal incident was posted."""

    incident_id: int
    by: str
