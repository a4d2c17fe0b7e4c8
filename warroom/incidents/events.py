"""What the incident lifecycle publishes through the seam (`warroom.seam`).

Each event is published inside the transaction that made the change, after the change
and its timeline entry are written. Events carry ids and from/to values only; a
subscriber reads the rest from the store. `by` is the actor's name as the timeline
shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class IncidentDeclared(Event):
    incident_id: int
    severity: str
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentAcknowledged(Event):
    """Someone acknowledged the incident (also when it was acknowledged already: pages
    still running for it should stop)."""

    incident_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentStatusChanged(Event):
    """Every status transition; resolving, closing and reopening also publish their own
    event right after this one."""

    incident_id: int
    from_status: str
    to_status: str
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentResolved(Event):
    incident_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentClosed(Event):
    incident_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentReopened(Event):
    """A resolved incident went back to an active status."""

    incident_id: int
    to_status: str
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentSeverityChanged(Event):
    incident_id: int
    from_severity: str
    to_severity: str
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentRoleChanged(Event):
    """A role was assigned (`user` set) or released (`user` None)."""

    incident_id: int
    role: str
    user: str | None
    previous: str | None
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentVisibilityChanged(Event):
    """The incident was made private (visible to admins and participants only) or public."""

    incident_id: int
    from_private: bool
    to_private: bool
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentRepeatChanged(Event):
    """The incident was marked as a repeat of an earlier one (`repeat_of_id`) or cleared."""

    incident_id: int
    repeat_of_id: int | None
    previous_id: int | None
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentServicesChanged(Event):
    """The incident's affected services were replaced (an edit)."""

    incident_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentMilestoneChanged(Event):
    """A milestone (started, detected, acknowledged, ic_assigned, mitigated, resolved)
    was set, moved or unset; times are ISO 8601 UTC or None."""

    incident_id: int
    milestone: str
    from_time: str | None
    to_time: str | None
    by: str
