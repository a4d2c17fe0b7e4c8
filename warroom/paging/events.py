"""What paging publishes through the seam (`warroom.seam`).

A responder acting on a page (the API, the web page, a one-click link in the page
itself) acknowledges or resolves what was paged: the incident or the alert. Paging
publishes that intent; the incident and alert domains carry it out, and their own
events then stop every escalation for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class PageAcknowledged(Event):
    escalation_id: int
    incident_id: int | None
    alert_id: int | None
    by: str
    by_user_id: int | None


@dataclass(frozen=True, kw_only=True)
class PageResolved(Event):
    escalation_id: int
    incident_id: int | None
    alert_id: int | None
    by: str
    by_user_id: int | None
