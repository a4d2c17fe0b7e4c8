"""warroom's own health for Prometheus: `GET /metrics` in the text exposition format.

Invariants:
- Every series name starts with `warroom_`.
- What happens in a server process (HTTP requests, alert intake) is counted with
  prometheus-client's counters; with `PROMETHEUS_MULTIPROC_DIR` set (as `warroom serve
  --workers N` does) each process writes its own files there and a scrape answered by any
  worker adds up all of them.
- What is in the store (engine queue, deliveries, open incidents, unacknowledged pages) is
  read from the store at scrape time, so every replica and worker reports the same figures
  and nothing is lost when a process dies.
- Labels have bounded values: routes are route templates (`/api/v1/incidents/{ref}`), or
  `unmatched`; an integration is its kind, never its key (the key is a secret).
- Drills are left out of the open-incident figures.
- `/metrics` needs a viewer token, like the rest of the API's reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.core.clock import Clock
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.incidents.models import Incident
from warroom.incidents.rules import ACTIVE_STATUSES
from warroom.paging.models import Escalation, Notification

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Counted in this process; in multiprocess mode they live in PROMETHEUS_MULTIPROC_DIR.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "warroom_http_requests",
    "HTTP requests answered, by route template, method and status code",
    ["route", "method", "status"],
    registry=PROCESS_REGISTRY,
)
HTTP_SECONDS = Histogram(
    "warroom_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS_REGISTRY,
)
ALERT_INTAKE = Counter(
    "warroom_alert_intake_requests",
    "Alert intake requests, by integration kind and outcome",
    ["integration", "outcome"],
    registry=PROCESS_REGISTRY,
)
INTAKE_OUTCOMES = {
    202: "accepted",
    200: "accepted",
    400: "invalid",
    401: "unauthorized",
    403: "unauthorized",
    404: "unknown_integration",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}


def intake_labels(route: tuple[str, ...], status: int) -> tuple[str, str]:
    """Returns (integration, outcome) for an intake route (alerts.intake.intake_route) and
    the status it answered: the integration's kind, never its key."""
    if route[0] == "/v2/enqueue":
        integration = "pagerduty"
    elif route[0] == "/v2/change/enqueue":
        integration = "pagerduty_change"
    else:
        integration = (
            route[1] if route[1] in ("alertmanager", "grafana", "webhook", "pagerduty") else "other"
        )
    outcome = INTAKE_OUTCOMES.get(status, "error" if status >= 500 else "rejected")
    return integration, outcome


def count_intake(route: tuple[str, ...], status: int) -> None:
    """Counts one answered intake request."""
    ALERT_INTAKE.labels(*intake_labels(route, status)).inc()


async def instrument_intake(
    route: tuple[str, ...], serve: Any, scope: Scope, receive: Receive, send: Send
) -> None:
    """Runs `serve(scope, receive, send)` for an intake request and counts its outcome."""
    status = 500

    async def sending(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    try:
        await serve(scope, receive, sending)
    finally:
        count_intake(route, status)


class MetricsMiddleware:
    """Outermost ASGI middleware: counts every HTTP response by route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or (
                "/static" if scope.get("path", "").startswith("/static/") else "unmatched"
            )
            HTTP_REQUESTS.labels(route, scope.get("method", ""), str(status)).inc()
            HTTP_SECONDS.labels(route).observe(time.perf_counter() - started)


class StoreCollector(Collector):
    """Figures read from the store at scrape time (see the module docstring)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """Yields the engine queue, deliveries, open incidents and unacknowledged pages."""
        now: datetime = self.clock.now()
        with self.db.session() as s:
            pending = GaugeMetricFamily(
                "warroom_engine_jobs_pending", "Engine jobs waiting, by kind", labels=["kind"]
            )
            for kind, n in s.execute(
                select(Job.kind, func.count()).where(Job.state == "pending").group_by(Job.kind)
            ):
                pending.add_metric([kind], int(n))
            yield pending
            due, oldest = s.execute(
                select(func.count(), func.min(Job.due_at)).where(
                    Job.state == "pending", Job.due_at <= now
                )
            ).one()
            yield GaugeMetricFamily(
                "warroom_engine_queue_depth", "Engine jobs due now and not yet run", value=due
            )
            age = 0.0 if oldest is None else max(0.0, (now - _utc(oldest)).total_seconds())
            yield GaugeMetricFamily(
                "warroom_engine_oldest_due_job_age_seconds",
                "How long the oldest due engine job has waited past its due time (the lag)",
                value=age,
            )
            deliveries = CounterMetricFamily(
                "warroom_deliveries",
                "Page notifications, by channel and state (pending, sent, failed, ...)",
                labels=["channel", "outcome"],
            )
            for kind, state, n in s.execute(
                select(Notification.kind, Notification.state, func.count()).group_by(
                    Notification.kind, Notification.state
                )
            ):
                deliveries.add_metric([kind, state], int(n))
            yield deliveries
            open_incidents = GaugeMetricFamily(
                "warroom_open_incidents",
                "Incidents investigating, identified or monitoring, by severity (drills left out)",
                labels=["severity"],
            )
            for sev, n in s.execute(
                select(Incident.severity, func.count())
                .where(Incident.status.in_(ACTIVE_STATUSES), Incident.drill.is_(False))
                .group_by(Incident.severity)
            ):
                open_incidents.add_metric([sev], int(n))
            yield open_incidents
            unacked = GaugeMetricFamily(
                "warroom_unacknowledged_pages",
                "Escalations nobody has acknowledged: still paging (triggered) or out of "
                "levels (exhausted)",
                labels=["state"],
            )
            counts = dict.fromkeys(("triggered", "exhausted"), 0)
            for state, n in s.execute(
                select(Escalation.state, func.count())
                .where(Escalation.state.in_(tuple(counts)))
                .group_by(Escalation.state)
            ):
                counts[state] = int(n)
            for state, n in counts.items():
                unacked.add_metric([state], n)
            yield unacked


def _utc(value: datetime) -> datetime:
    from warroom.core.clock import ensure_utc

    return ensure_utc(value)


def exposition(db: Database, clock: Clock) -> bytes:
    """Returns the text exposition of this process's (or, in multiprocess mode, all
    processes') counters and the store's figures. Reads only."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(PROCESS_REGISTRY))
    registry.register(StoreCollector(db, clock))
    return bytes(generate_latest(registry))


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def prepare_multiprocess_dir() -> str:
    """Makes PROMETHEUS_MULTIPROC_DIR ready for a server with several worker processes:
    a fresh temporary directory when unset, otherwise the given one emptied of the files a
    previous run left (their counts would be added to this run's). Sets the variable, which
    the workers inherit, and returns the directory."""
    import tempfile
    from pathlib import Path

    path = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="warroom-metrics-")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    return str(folder)
