"""The composition root: who reacts to what, and which engine job runs which handler.

This is the one module that knows every domain. Domains publish events about their
own changes (`<domain>/events.py`) and expose reactions (`<domain>/subscribers.py`);
this module connects them, so reading it answers "what happens when an incident is
resolved?" without following calls through the domains. `wire()` runs once per
process, from every entry point (the app factory, the CLI, the store opener, tests);
publishing before it is an error.

A new domain plugs in here: register its subscribers with `seam.on` (in the
publisher's transaction) or `seam.later` (a durable engine job), and its job handlers
in `HANDLERS` / `DB_HANDLERS`.
"""

from __future__ import annotations

import threading

from warroom import seam
from warroom.alerts import events as alert_events
from warroom.alerts import subscribers as alert_subscribers
from warroom.analytics import schedule as report_schedule
from warroom.analytics import subscribers as analytics_subscribers
from warroom.comms import deliver as comms_deliver
from warroom.comms import events as comms_events
from warroom.comms import service as comms_service
from warroom.comms import subscribers as comms_subscribers
from warroom.engine.worker import DB_HANDLERS, HANDLERS
from warroom.heartbeats import service as heartbeat_service
from warroom.heartbeats import subscribers as heartbeat_subscribers
from warroom.incidents import events as incident_events
from warroom.incidents import subscribers as incident_subscribers
from warroom.incidents import targets
from warroom.oncall import events as oncall_events
from warroom.oncall import feeds as oncall_feeds
from warroom.paging import deliver as paging_deliver
from warroom.paging import events as paging_events
from warroom.paging import service as paging_service
from warroom.paging import subscribers as paging_subscribers
from warroom.postmortems import calendar as postmortem_calendar
from warroom.postmortems import reminders as postmortem_reminders
from warroom.postmortems import subscribers as postmortem_subscribers
from warroom.postmortems import tracker as action_item_tracker
from warroom.shifts import handoff_service
from warroom.shifts import subscribers as shift_subscribers
from warroom.slos import evaluator as slo_evaluator
from warroom.slos import subscribers as slo_subscribers
from warroom.statuspage import deliver as statuspage_deliver
from warroom.statuspage import events as statuspage_events
from warroom.statuspage import maintenance as statuspage_maintenance
from warroom.statuspage import subscribers as statuspage_subscribers
from warroom.statuspage import subscriptions as statuspage_subscriptions

_lock = threading.Lock()
_done = False


def _subscribe() -> None:
    inc = incident_events
    # An incident is declared: its response-target timers, update cadence and pages start.
    seam.on(inc.IncidentDeclared, targets.on_declared)
    seam.on(inc.IncidentDeclared, comms_subscribers.on_declared)
    seam.on(inc.IncidentDeclared, paging_subscribers.on_declared)
    # ... and if it repeats past incidents whose action items are open, the room says so.
    seam.later(
        inc.IncidentDeclared, postmortem_subscribers.DECLARED, postmortem_subscribers.on_declared
    )
    # Acknowledged: its pages stop.
    seam.on(inc.IncidentAcknowledged, paging_subscribers.on_acknowledged)
    # Severity changed while open: the new severity's timers and cadence take over.
    seam.on(inc.IncidentSeverityChanged, targets.on_severity_changed)
    seam.on(inc.IncidentSeverityChanged, comms_subscribers.on_severity_changed)
    # Resolved or closed: every escalation for it ends (timers and cadence see the
    # status when they fall due and stop by themselves).
    seam.on(inc.IncidentResolved, paging_subscribers.on_resolved)
    seam.on(inc.IncidentClosed, paging_subscribers.on_closed)
    # ... and its open alerts are resolved with it: a later trigger opens a new incident.
    seam.on(inc.IncidentResolved, alert_subscribers.on_incident_resolved)
    seam.on(inc.IncidentClosed, alert_subscribers.on_incident_closed)
    # Resolved: a required postmortem is drafted (a durable job: drafting never slows the
    # resolve); a recommended one is offered in the room.
    seam.later(
        inc.IncidentResolved, postmortem_subscribers.RESOLVED, postmortem_subscribers.on_resolved
    )
    # Declared, a status or milestone change, reopened: an SLO covering it is evaluated
    # now rather than at the next minute (its burn alert and room line come at once).
    seam.on(inc.IncidentDeclared, slo_subscribers.on_incident_changed)
    seam.on(inc.IncidentStatusChanged, slo_subscribers.on_incident_changed)
    seam.on(inc.IncidentMilestoneChanged, slo_subscribers.on_incident_changed)
    seam.on(inc.IncidentReopened, slo_subscribers.on_incident_changed)
    # Reopened: as if declared again.
    seam.on(inc.IncidentReopened, targets.on_reopened)
    seam.on(inc.IncidentReopened, comms_subscribers.on_reopened)
    seam.on(inc.IncidentReopened, paging_subscribers.on_reopened)

    # Alerts: a paging rule pages for its alert; acknowledging or resolving an alert
    # stops its pages; the last alert of an alert-opened incident resolves it.
    seam.on(alert_events.AlertOpened, paging_subscribers.on_alert_opened)
    seam.on(alert_events.AlertAcknowledged, paging_subscribers.on_alert_acknowledged)
    seam.on(alert_events.AlertResolved, paging_subscribers.on_alert_resolved)
    seam.on(alert_events.AlertResolved, incident_subscribers.on_alert_resolved)
    # An alert joins an open incident with the fingerprint of one whose action items are
    # open: the room says it repeats that one.
    seam.later(
        alert_events.AlertAttached,
        postmortem_subscribers.ATTACHED,
        postmortem_subscribers.on_alert_attached,
    )

    # An integration's always-firing Watchdog alert arrived: its heartbeat monitor is pinged
    # (a missed beat raises an alert of its own through ingestion, from the engine job).
    seam.on(alert_events.HeartbeatAlertReceived, heartbeat_subscribers.on_heartbeat_alert)

    # A responder acts on a page: the incident or alert it was for is acknowledged or
    # resolved (which stops the pages, above).
    seam.on(paging_events.PageAcknowledged, incident_subscribers.on_page_acknowledged)
    seam.on(paging_events.PageAcknowledged, alert_subscribers.on_page_acknowledged)
    seam.on(paging_events.PageResolved, incident_subscribers.on_page_resolved)
    seam.on(paging_events.PageResolved, alert_subscribers.on_page_resolved)

    # An incident made private or public again: a published one leaves or rejoins the
    # public status page at once.
    seam.on(inc.IncidentVisibilityChanged, statuspage_subscribers.on_visibility_changed)

    # A schedule changed: its next handoff note is due at the new change of person.
    seam.on(oncall_events.ScheduleChanged, shift_subscribers.on_schedule_changed)

    # The first external update or status page post: customers were informed.
    seam.on(comms_events.ExternalUpdatePosted, incident_subscribers.on_customers_informed)
    seam.on(statuspage_events.PublicUpdatePosted, incident_subscribers.on_customers_informed)
    # Analytics: any incident change rewrites its facts, after every other reaction.
    for event_type in analytics_subscribers.INCIDENT_EVENTS:
        seam.on(event_type, analytics_subscribers.on_incident_changed)


def _handlers() -> None:
    HANDLERS[seam.JOB] = seam.run_durable
    HANDLERS[targets.JOB] = targets.check_response_target
    HANDLERS["comms_cadence"] = comms_service.check_cadence
    HANDLERS[paging_service.STEP_JOB] = paging_service.run_step
    HANDLERS[handoff_service.HANDOFF_JOB] = handoff_service.run_job
    HANDLERS[report_schedule.JOB] = report_schedule.run_job
    DB_HANDLERS[report_schedule.DELIVER_JOB] = report_schedule.deliver
    HANDLERS["statuspage_maintenance"] = statuspage_maintenance.run_maintenance_step
    HANDLERS["statuspage_fanout"] = statuspage_subscriptions.fan_out
    HANDLERS["statuspage_deliver"] = statuspage_deliver.deliver
    HANDLERS[heartbeat_service.JOB] = heartbeat_service.run_deadline
    # Deliveries talk to the outside world in short transactions of their own.
    DB_HANDLERS[paging_service.NOTIFY_JOB] = paging_deliver.deliver
    DB_HANDLERS[comms_deliver.JOB] = comms_deliver.deliver
    # Postmortem and action-item reminders: the chain, and each delivery.
    HANDLERS[postmortem_reminders.JOB] = postmortem_reminders.run
    DB_HANDLERS[postmortem_reminders.DELIVER_JOB] = postmortem_reminders.deliver
    DB_HANDLERS[action_item_tracker.JOB] = action_item_tracker.deliver
    # SLOs: every minute, Prometheus is asked and burn alerts are raised or resolved.
    DB_HANDLERS[slo_evaluator.JOB] = slo_evaluator.run


def _feeds() -> None:
    # A person's calendar feed (oncall, a lower layer) also lists the action items and
    # postmortems they own, by due date: a provider registered here (oncall.feeds).
    oncall_feeds.register(postmortem_calendar.feed_items)


def wire() -> None:
    """Registers every subscriber and engine handler (once per process)."""
    global _done
    with _lock:
        if _done:
            return
        _subscribe()
        _handlers()
        _feeds()
        seam.mark_wired()
        _done = True
