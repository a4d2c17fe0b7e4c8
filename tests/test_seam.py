"""The seam (warroom.seam, warroom.wiring): reactions in the publisher's transaction are
part of the change, durable reactions are jobs of that transaction, and the flow that
docs/architecture.md walks through (an alert resolves at its source) ends the incident,
its pages and its reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from tests.test_paging_core import paging_config, run_for
from warroom import seam
from warroom.config import service as config
from warroom.core.clock import Clock, ManualClock
from warroom.core.errors import ValidationFailed
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.worker import Worker
from warroom.incidents import events as incident_events
from warroom.incidents.models import Incident
from warroom.paging.models import Escalation, Notification


@dataclass(frozen=True, kw_only=True)
class Probed(seam.Event):
    thing_id: int
    note: str | None


SEEN: list[Probed] = []


def remember(session: Session, clock: Clock, event: Probed) -> None:
    SEEN.append(event)


seam.later(Probed, "test_probe", remember)


def _jobs(db: Database) -> list[tuple[str, str]]:
    with db.read() as s:
        return [(j.key, j.state) for j in s.scalars(select(Job).where(Job.kind == seam.JOB))]


def test_a_durable_reaction_is_a_job_of_the_publishing_transaction(
    db: Database, clock: ManualClock
) -> None:
    SEEN.clear()
    event = Probed(at=clock.now(), thing_id=7, note=None)
    with pytest.raises(RuntimeError), db.session() as s:
        seam.publish(s, clock, event)
        raise RuntimeError("the change fails after publishing")
    assert _jobs(db) == []  # rolled back with the change: nothing to deliver

    with db.session() as s:
        seam.publish(s, clock, event)
    with db.session() as s:
        seam.publish(s, clock, event)  # the same occurrence again: the key makes it one job
    ((key, state),) = _jobs(db)
    assert key.startswith("seam:test_probe:Probed:") and state == "pending"
    assert SEEN == []  # nothing ran inside the transaction

    Worker(db, clock).run_due()
    assert [event] == SEEN  # the engine ran it, with the event rebuilt from the job
    assert SEEN[0].at == clock.now() and SEEN[0].note is None
    assert _jobs(db) == [(key, "done")]


def test_publishing_before_wiring_is_an_error(
    db: Database, clock: ManualClock, monkeypatch: Any
) -> None:
    monkeypatch.setattr(seam, "_wired", False)
    with pytest.raises(RuntimeError, match="wire"), db.session() as s:
        seam.publish(s, clock, Probed(at=clock.now(), thing_id=1, note="x"))


def test_a_failing_reaction_leaves_no_half_written_incident(
    db: Database, clock: ManualClock, alice: Api, monkeypatch: Any
) -> None:
    def refuse(session: Session, clock: Clock, event: incident_events.IncidentDeclared) -> None:
        raise ValidationFailed("paging refused this incident", field="services")

    reactions = [*seam._NOW[incident_events.IncidentDeclared], refuse]
    monkeypatch.setitem(seam._NOW, incident_events.IncidentDeclared, reactions)
    r = alice.post("/api/v1/incidents", json={"title": "Checkout down", "severity": "SEV-1"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "services"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0  # no timers, no pages


def test_an_alert_resolved_at_its_source_ends_the_incident_its_pages_and_reminders(
    db: Database,
    clock: ManualClock,
    people: dict[str, str],
    hooks: dict[str, WebhookReceiver],
    alice: Api,
    client: Any,
) -> None:
    cfg = paging_config(hooks)
    cfg["integrations"] = [{"name": "pd", "kind": "pagerduty", "service": "checkout"}]
    with db.session() as s:
        changes = config.apply(s, clock, cfg)
    key = next(c.key for c in changes if c.kind == "integrations")
    worker = Worker(db, clock)
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "checkout-5xx",
        "payload": {"summary": "checkout 5xx > 5%", "source": "lb-1", "severity": "critical"},
    }
    assert client.post("/v2/enqueue", json=event).status_code == 202
    worker.run_due()
    (inc,) = alice.get("/api/v1/incidents").json()["items"]
    assert len(hooks["alice"].received) == 1  # the on-call person was paged

    clock.advance(minutes=2)
    r = client.post("/v2/enqueue", json={**event, "event_action": "resolve"})
    assert r.status_code == 202
    shown = alice.get(f"/api/v1/incidents/{inc['id']}").json()
    assert shown["status"] == "resolved"
    assert shown["resolution_summary"] == "All alerts resolved"
    texts = [e["text"] for e in shown["timeline"]]
    assert any(t.startswith("Alert resolved") for t in texts)
    assert any(t.startswith("Paging ended") for t in texts)
    with db.read() as s:
        (esc,) = s.scalars(select(Escalation))
        assert esc.state == "resolved"
        pending = s.scalars(select(Notification).where(Notification.state == "pending"))
        assert list(pending) == []  # alice's delayed second method was cancelled

    # An hour later: nobody else was paged and no update or response reminder appeared.
    run_for(worker, clock, 60, step=5)
    assert len(hooks["alice"].received) == 1 and hooks["bob"].received == []
    later = alice.get(f"/api/v1/incidents/{inc['id']}").json()["timeline"]
    assert [e for e in later if e["kind"] == "warning"] == []
    # The one entry added is the postmortem's (a SEV-1 requires one), made by the engine.
    added = [e["text"] for e in later[len(shown["timeline"]) :]]
    assert len(added) == 1 and added[0].startswith("Postmortem required"), added
    with db.read() as s:
        due = s.scalars(
            select(Job).where(Job.state == "pending", Job.due_at <= clock.now() + timedelta(days=1))
        )
        # The one left is the required postmortem's first reminder (a day before it is due).
        kinds = [j.kind for j in due if j.kind != "oncall_handoff"]
        assert kinds == ["postmortem_reminder"], kinds
