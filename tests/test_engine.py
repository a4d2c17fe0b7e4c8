"""The durable work table and the response-target timers. Time is moved, never slept."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.conftest import Api
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.queue import enqueue
from warroom.engine.worker import HANDLERS, Worker, backoff


def warnings(api: Api, ref: str = "1") -> list[str]:
    """The response-target warnings in an incident's timeline."""
    tl = api.get(f"/api/v1/incidents/{ref}").json()["timeline"]
    return [
        e["text"]
        for e in tl
        if e["kind"] == "warning" and e["data"].get("warning") == "response_target"
    ]


def test_sev1_without_ic_warns_at_ten_minutes_then_reminds(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    alice.post("/api/v1/incidents", json={"title": "DB down", "severity": "SEV-1"})
    alice.post("/api/v1/incidents/1/ack")
    worker = Worker(db, clock)
    clock.advance(minutes=9, seconds=59)
    worker.run_due()
    assert warnings(alice) == []
    clock.advance(seconds=1)
    worker.run_due()
    assert warnings(alice) == [
        "Response target missed: no Incident Commander 10 min after declaration "
        "(SEV-1 target: 10 min)"
    ]
    # Running again at the same instant does nothing more (idempotent).
    worker.run_due()
    assert len(warnings(alice)) == 1
    clock.advance(minutes=10)
    worker.run_due()
    assert warnings(alice)[-1].startswith("Reminder: still no Incident Commander 20 min")
    # Once an IC is assigned the reminders stop.
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    clock.advance(minutes=30)
    worker.run_due()
    assert len(warnings(alice)) == 2


def test_ack_target_and_no_warning_when_met(alice: Api, db: Database, clock: ManualClock) -> None:
    alice.post("/api/v1/incidents", json={"title": "Slow search", "severity": "SEV-2"})
    alice.post("/api/v1/incidents", json={"title": "Payments", "severity": "SEV-2"})
    alice.post("/api/v1/incidents/2/roles", json={"role": "commander", "user": "bob"})
    worker = Worker(db, clock)
    clock.advance(minutes=15)
    worker.run_due()
    assert warnings(alice, "1") == [
        "Response target missed: not acknowledged 15 min after declaration (SEV-2 target: 15 min)"
    ]
    assert warnings(alice, "2") == []


def test_sev4_has_no_timers_and_resolved_incidents_are_quiet(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    alice.post("/api/v1/incidents", json={"title": "Wiki slow", "severity": "SEV-4"})
    alice.post("/api/v1/incidents", json={"title": "Blip", "severity": "SEV-1"})
    alice.post("/api/v1/incidents/2/resolve", json={})
    clock.advance(hours=2)
    Worker(db, clock).run_due()
    assert warnings(alice, "1") == [] and warnings(alice, "2") == []


def test_escalation_starts_the_new_severity_timers(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    alice.post("/api/v1/incidents", json={"title": "Errors", "severity": "SEV-3"})
    alice.post("/api/v1/incidents/1/ack")
    clock.advance(minutes=4)
    alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-1"})
    worker = Worker(db, clock)
    clock.advance(minutes=6)  # 10 minutes after declaration
    worker.run_due()
    assert warnings(alice) == [
        "Response target missed: no Incident Commander 10 min after declaration "
        "(SEV-1 target: 10 min)"
    ]


def test_failing_job_is_retried_with_backoff_then_marked_failed(
    db: Database, clock: ManualClock
) -> None:
    calls: list[dict[str, Any]] = []

    def flaky(session: Any, clk: Any, payload: dict[str, Any]) -> None:
        calls.append(payload)
        if len(calls) < 3:
            raise RuntimeError("receiver down")

    HANDLERS["test_flaky"] = flaky
    with db.session() as s:
        enqueue(
            s,
            kind="test_flaky",
            key="flaky-1",
            due_at=clock.now(),
            payload={"n": 1},
            now=clock.now(),
        )
    worker = Worker(db, clock)
    assert worker.run_due() == 1
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.key == "flaky-1"))
        assert job is not None
        assert job.state == "pending" and job.attempts == 1 and "receiver down" in job.last_error
        assert job.due_at > clock.now()
    assert worker.run_due() == 0  # not due yet: backoff holds it
    for _ in range(2):
        clock.advance(minutes=16)
        worker.run_due()
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.key == "flaky-1"))
        assert job is not None and job.state == "done" and job.attempts == 3
    assert len(calls) == 3

    def broken(session: Any, clk: Any, payload: dict[str, Any]) -> None:
        raise RuntimeError("always")

    HANDLERS["test_broken"] = broken
    with db.session() as s:
        enqueue(
            s, kind="test_broken", key="b-1", due_at=clock.now(), now=clock.now(), max_attempts=2
        )
    worker.run_due()
    clock.advance(minutes=16)
    worker.run_due()
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.key == "b-1"))
        assert job is not None and job.state == "failed" and job.attempts == 2


def test_enqueue_is_idempotent_per_key(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        assert enqueue(s, kind="k", key="same", due_at=clock.now(), now=clock.now()) is not None
    with db.session() as s:
        assert enqueue(s, kind="k", key="same", due_at=clock.now(), now=clock.now()) is None


def test_crashed_worker_lease_expires_and_another_takes_over(
    db: Database, clock: ManualClock
) -> None:
    ran: list[str] = []
    HANDLERS["test_once"] = lambda s, c, p: ran.append(p["v"])
    with db.session() as s:
        enqueue(
            s, kind="test_once", key="once", due_at=clock.now(), payload={"v": "x"}, now=clock.now()
        )
    dead = Worker(db, clock, name="dead")
    assert dead.claim() != []  # claims, then "dies" without running
    other = Worker(db, clock, name="other")
    assert other.run_due() == 0  # the lease still holds
    clock.advance(minutes=3)
    assert other.run_due() == 1
    assert ran == ["x"]
    # the dead worker coming back cannot finish a job it no longer holds
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.key == "once"))
        assert job is not None and job.state == "done" and job.locked_by == "other"


def test_two_workers_never_run_the_same_job(db: Database, clock: ManualClock) -> None:
    ran: list[int] = []
    HANDLERS["test_count"] = lambda s, c, p: ran.append(p["i"])
    with db.session() as s:
        for i in range(40):
            enqueue(
                s,
                kind="test_count",
                key=f"c-{i}",
                due_at=clock.now(),
                payload={"i": i},
                now=clock.now(),
            )
    a, b = Worker(db, clock, name="a"), Worker(db, clock, name="b")
    claimed_a = a.claim(limit=25)
    claimed_b = b.claim(limit=25)
    assert not set(claimed_a) & set(claimed_b)
    assert len(claimed_a) + len(claimed_b) == 40
    for j in claimed_a:
        a.run_job(j)
    for j in claimed_b:
        b.run_job(j)
    assert sorted(ran) == list(range(40))


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    values = [backoff(n, rng) for n in range(1, 15)]
    assert values[0] <= timedelta(seconds=2)
    assert values[5] > values[0]
    assert all(v <= timedelta(minutes=15) for v in values)
