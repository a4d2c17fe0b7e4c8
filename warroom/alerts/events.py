"""What alert intake publishes through the seam (`warroom.seam`).

Published inside the intake transaction, after the alert row is written. A new alert
is published (`AlertOpened`) when it opens or joins an incident or pages on its own;
suppressed (silenced, in maintenance), flapping and quiet alerts change nothing anyone
reacts to and are inserted with the rest of their batch, unpublished. Acknowledging and
resolving are published for every alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.seam import Event


@dataclass(frozen=True, kw_only=True)
class AlertOpened(Event):
    """A new alert. `incident_id` is the incident it opened or joined, if any; `pages`
    says its rule asks to page for it on its own (no incident)."""

    alert_id: int
    incident_id: int | None
    pages: bool


@dataclass(frozen=True, kw_only=True)
class AlertAttached(Event):
    """An alert joined an incident that was already open (grouping)."""

    alert_id: int
    incident_id: int


@dataclass(frozen=True, kw_only=True)
class HeartbeatAlertReceived(Event):
    """A notification of an integration carried its declared always-firing alert (an
    Alertmanager `Watchdog`), still firing: it counts as a ping of the heartbeat monitor
    named `monitor`, and that alert was not ingested. Published at most once per
    integration and intake batch."""

    integration_id: int
    monitor: str


@dataclass(frozen=True, kw_only=True)
class AlertAcknowledged(Event):
    alert_id: int
    incident_id: int | None
    by: str


@dataclass(frozen=True, kw_only=True)
class AlertResolved(Event):
    alert_id: int
    incident_id: int | None
    by: str
