"""How heartbeats react to the alerts domain: an integration's Watchdog alert is a ping.

Invariant: the ping is recorded in the intake transaction that received the
notification, so a committed 202 means the monitor saw it; an integration that names a
monitor which does not exist pings nothing (the notification is still accepted).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.alerts.events import HeartbeatAlertReceived
from warroom.core.clock import Clock
from warroom.heartbeats import service


def on_heartbeat_alert(session: Session, clock: Clock, event: HeartbeatAlertReceived) -> None:
    """Counts the notification as a ping of the monitor the integration names."""
    service.ping_by_name(session, clock, event.monitor, "alertmanager")
