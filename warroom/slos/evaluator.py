"""The SLO evaluator: an engine job every `EVALUATE_EVERY` that reads every SLO, asks
Prometheus for the ones it measures, and raises or resolves burn alerts.

Invariants:
- One chain: each run is a job keyed by its due minute (`slo_evaluate:<iso>`); the run
  enqueues the next before it finishes, so a crash loses no cycle and a retry adds no
  second chain. `ensure_job` starts the chain when SLOs exist and none is pending; a run
  that finds no SLO ends it. Finished runs older than the current one are deleted, so the
  chain leaves one row behind, not 1,440 a day.
- Prometheus is asked outside any transaction (a slow Prometheus holds no lock); its
  answers are written in one short transaction after. An unreachable Prometheus keeps
  the SLO's last status, records the error and changes no alert.
- A burn alert (rules.Status.alerting: page or ticket) goes into warroom's own intake
  through an internal integration of the SLO's service (`slo:<service>`, one batch per
  service and cycle, keyed `slo:<name>:burn`), so it routes,
  groups and pages like any other alert: a page burn is a critical alert (which opens an
  incident and pages the service's escalation policy), a ticket burn a warning. When the
  burn stops, the alert is resolved. Only a change of state ingests anything.
- An incident-sourced SLO burns only because of incidents people already declared: its
  burn alert is recorded as a warning (it opens no second incident for the same outage),
  and a page-level burn adds one line (per cycle and service, naming up to five SLOs) to
  the newest open customer-facing incidents of the service (at most 5) saying how fast
  the budget goes, so the room knows what the outage costs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from warroom.alerts import ingestion
from warroom.alerts.integrations import internal_integration
from warroom.alerts.parsers import NormalizedEvent
from warroom.core.clock import Clock, iso
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.queue import enqueue
from warroom.incidents import timeline
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.rules import ACTIVE_STATUSES
from warroom.org.models import Service
from warroom.slos import rules, service
from warroom.slos.models import Slo

JOB = "slo_evaluate"
EVALUATE_EVERY = timedelta(minutes=1)
SEVERITY = {"page": "critical", "ticket": "warning"}
MAX_NAMED = 5  # SLOs named in one room line
MAX_ROOMS = 5  # newest open incidents of the service told about a burn


def _key(due: datetime) -> str:
    return f"{JOB}:{iso(due.replace(second=0, microsecond=0))}"


def ensure_job(session: Session, clock: Clock) -> None:
    """Starts the evaluation chain unless a run is pending or running."""
    live = session.scalar(
        select(Job.id).where(Job.kind == JOB, Job.state.in_(("pending", "running"))).limit(1)
    )
    if live is not None:
        return
    now = clock.now()
    enqueue(session, kind=JOB, key=_key(now), due_at=now, now=now)


def evaluate_soon(session: Session, clock: Clock) -> None:
    """Brings an evaluation forward to now (keyed by the second: changes within one second
    share a run; the run's next one is keyed by its minute, so it joins the chain)."""
    now = clock.now().replace(microsecond=0)
    enqueue(session, kind=JOB, key=f"{JOB}:soon:{iso(now)}", due_at=now, now=now)


def integration_name(service_name: str) -> str:
    return f"slo:{service_name}"


def _measure(spec: rules.SloSpec, url: str, now: datetime) -> dict[str, Any]:
    """{"window_bad_ratio": r, "span_bad_ratios": {label: r}} from Prometheus."""
    from warroom.slos import prometheus

    got = prometheus.bad_ratios(spec, url, now, dict(rules.BURN_SPANS))
    return {"window_bad_ratio": got.window, "span_bad_ratios": dict(got.spans)}


def run(db: Database, clock: Clock, payload: dict[str, Any]) -> None:
    """One cycle: measure, then write statuses and alert changes, then the next run."""
    now = clock.now()
    with db.read() as s:
        prom = [
            (row.id, service.spec_of(row, svc), (row.spec.get("prometheus") or {}).get("url", ""))
            for row, svc in service.list_slos(s, source="prometheus")
        ]
    measured: dict[int, dict[str, Any] | str] = {}
    for slo_id, spec, url in prom:
        try:
            measured[slo_id] = _measure(spec, url, now)
        except Exception as exc:  # recorded on the SLO; the others go on
            measured[slo_id] = f"{type(exc).__name__}: {exc}"[:1000]
    with db.session() as s:
        apply_cycle(s, clock, measured)


def apply_cycle(session: Session, clock: Clock, measured: dict[int, dict[str, Any] | str]) -> None:
    """Writes Prometheus measurements, raises or resolves burn alerts, and enqueues the
    next run (none when no SLO is left)."""
    now = clock.now()
    for row in session.scalars(select(Slo).where(Slo.id.in_(list(measured)))):
        got = measured[row.id]
        if isinstance(got, str):
            row.last_error = got
        else:
            row.last, row.evaluated_at, row.last_error = got, now, ""
    session.flush()
    rows = service.list_slos(session)
    _alerts(session, clock, service.statuses(session, rows, now))
    current = session.scalar(
        select(Job.key).where(Job.kind == JOB, Job.state == "running").limit(1)
    )
    session.execute(
        delete(Job)
        .where(Job.kind == JOB, Job.state.in_(("done", "failed")), Job.due_at < now)
        .execution_options(synchronize_session=False)
    )
    if rows:
        due = now + EVALUATE_EVERY
        key = _key(due)
        if key != current:
            enqueue(
                session, kind=JOB, key=key, due_at=due.replace(second=0, microsecond=0), now=now
            )


def _burn_event(
    spec: rules.SloSpec, source: str, state: str, status: rules.Status, now: datetime
) -> NormalizedEvent:
    rates = ", ".join(f"{k} {r:.1f}x" for k, r in status.burn_rates.items())
    how = "fast" if state == "page" else "steadily"
    return NormalizedEvent(
        action="trigger",
        dedup_key=dedup_key(spec.name),
        summary=(
            f"{spec.name} is burning its error budget {how}: {status.consumed_percent:.1f}% "
            f"of {status.budget_minutes:.1f} minutes spent over {spec.window.text}"
        ),
        source="warroom slo",
        severity=SEVERITY[state] if source == "prometheus" else "warning",
        timestamp=now,
        labels={
            "alertname": "ErrorBudgetBurn",
            "slo": spec.name,
            "service": spec.service,
            "burn": state,
        },
        annotations={"description": f"burn rates: {rates}"},
        details={
            "objective": spec.objective,
            "budget_minutes": round(status.budget_minutes, 3),
            "consumed_minutes": round(status.consumed_minutes, 3),
            "burn_rates": {k: round(r, 3) for k, r in status.burn_rates.items()},
        },
    )


def dedup_key(slo: str) -> str:
    return f"slo:{slo}:burn"


def _alerts(session: Session, clock: Clock, views: list[service.SloView]) -> None:
    """Ingests the burn alerts whose state changed, one batch per service through the
    service's internal `slo:<service>` integration, and tells the rooms once per service."""
    changed: dict[int, list[tuple[service.SloView, str]]] = {}
    for v in views:
        if v.status is None:
            continue
        state = v.status.alerting() or ""
        if state != v.row.alert_state:
            changed.setdefault(v.row.service_id, []).append((v, state))
    for service_id, items in changed.items():
        integ = internal_integration(
            session, clock, integration_name(items[0][0].spec.service), service_id
        )
        batch: list[NormalizedEvent] = []
        for v, state in items:
            assert v.status is not None
            if v.row.alert_state:
                batch.append(
                    NormalizedEvent(
                        action="resolve", dedup_key=dedup_key(v.spec.name), source="warroom slo"
                    )
                )
            if state:
                batch.append(_burn_event(v.spec, v.row.source, state, v.status, clock.now()))
            v.row.alert_state = state
        ingestion.ingest(session, clock, integ, batch)
        paging = [
            (v.spec, v.status)
            for v, state in items
            if state == "page" and v.row.source == "incidents" and v.status is not None
        ]
        if paging:
            _tell_open_incidents(session, clock, service_id, paging)


def _tell_open_incidents(
    session: Session,
    clock: Clock,
    service_id: int,
    paging: list[tuple[rules.SloSpec, rules.Status]],
) -> None:
    """One line in each open customer-facing incident of the service: which SLOs burn."""
    parts = []
    for spec, status in paging[:MAX_NAMED]:
        rate = max(status.burn_rates.get("1h", 0.0), status.burn_rates.get("6h", 0.0))
        parts.append(
            f"{spec.name} is burning {rate:.0f}x as fast as it may "
            f"({status.consumed_percent:.0f}% of its {status.budget_minutes:.1f}-minute "
            f"budget over {spec.window.text} spent)"
        )
    more = len(paging) - MAX_NAMED
    text = "Error budget: " + "; ".join(parts) + (f"; and {more} more SLOs" if more > 0 else "")
    incidents = session.scalars(
        select(Incident)
        .join(IncidentService, IncidentService.incident_id == Incident.id)
        .where(
            IncidentService.service_id == service_id,
            Incident.status.in_(ACTIVE_STATUSES),
            Incident.customer_facing.is_(True),
            Incident.drill.is_(False),
        )
        .order_by(Incident.id.desc())
        .limit(MAX_ROOMS)
    )
    for inc in incidents:
        timeline.record(
            session,
            clock,
            inc,
            kind="note",
            text=text,
            actor=None,
            data={"slos": [spec.name for spec, _ in paging]},
        )


def forget(session: Session, clock: Clock, row: Slo) -> None:
    """Resolves the SLO's burn alert before it is deleted."""
    if row.alert_state:
        svc = session.get(Service, row.service_id)
        integ = internal_integration(
            session,
            clock,
            integration_name(svc.name if svc else str(row.service_id)),
            row.service_id,
        )
        ingestion.ingest(
            session,
            clock,
            integ,
            [
                NormalizedEvent(
                    action="resolve", dedup_key=dedup_key(row.name), source="warroom slo"
                )
            ],
        )
        row.alert_state = ""


def ensure_chain(db: Database, clock: Clock) -> None:
    """At start-up: starts the evaluation chain when there are SLOs (store opener)."""
    with db.session() as s:
        if s.scalar(select(Slo.id).limit(1)) is not None:
            ensure_job(s, clock)
