"""A clean stop hands leased engine jobs back, on both stores: after `Worker.stop` (and
`stop_engine`, which `warroom serve` and `warroom engine` call on SIGTERM), every job the
worker still held is pending again with no lease, and another worker takes it at the same
instant; the clock never moves, so no job waits for its lease to expire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ManualClock
from warroom.db.session import Database
from warroom.engine import worker as engine_worker
from warroom.engine.models import Job
from warroom.engine.queue import enqueue
from warroom.engine.worker import Worker, stop_engine

DEADLINE = 60.0
KIND = "test_ops_shutdown"


class Gate:
    """A handler whose first call blocks until released; records every payload run."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.ran: list[int] = []

    def __call__(self, _s: Session, _c: Clock, payload: dict[str, Any]) -> None:
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(DEADLINE), "the test never released the handler"
        self.ran.append(int(payload["n"]))


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate()
    monkeypatch.setitem(engine_worker.HANDLERS, KIND, g)
    yield g
    g.release.set()


def _enqueue(db: Database, clock: ManualClock, count: int) -> None:
    with db.session() as s:
        for n in range(count):
            enqueue(
                s,
                kind=KIND,
                key=f"{KIND}:{n}",
                due_at=clock.now(),
                payload={"n": n},
                now=clock.now(),
            )


def _jobs(db: Database) -> list[tuple[str, str | None, Any, int]]:
    with db.read() as s:
        rows = s.execute(
            select(Job.state, Job.locked_by, Job.locked_until, Job.attempts)
            .where(Job.kind == KIND)
            .order_by(Job.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_stop_hands_claimed_jobs_back_for_another_worker_at_once(
    db: Database, clock: ManualClock, gate: Gate
) -> None:
    _enqueue(db, clock, 3)
    a = Worker(db, clock, name="a")
    assert len(a.claim()) == 3
    assert {r[:2] for r in _jobs(db)} == {("running", "a")}
    b = Worker(db, clock, name="b")
    assert b.claim() == []  # leased to a
    a.stop()
    assert _jobs(db) == [("pending", None, None, 0)] * 3
    gate.release.set()
    assert b.run_due() == 3  # the same instant: no lease to wait out
    assert sorted(gate.ran) == [0, 1, 2]
    assert {r[0] for r in _jobs(db)} == {"done"}


def test_a_running_engine_stopped_finishes_its_job_and_hands_back_the_rest(
    db: Database, clock: ManualClock, gate: Gate
) -> None:
    _enqueue(db, clock, 4)
    a = Worker(db, clock, name="a")
    a.start_thread(poll_seconds=0.05)
    assert gate.started.wait(DEADLINE), "the engine never ran the first job"
    stop_engine_thread = threading.Thread(target=stop_engine, args=([a],))
    a.stop(wait=False)  # SIGTERM arrives while a job runs
    stop_engine_thread.start()
    gate.release.set()  # the running job finishes ...
    stop_engine_thread.join(DEADLINE)
    assert not stop_engine_thread.is_alive()
    assert len(gate.ran) == 1  # ... and no other job of the batch was started
    rows = _jobs(db)
    assert sorted(r[0] for r in rows) == ["done", "pending", "pending", "pending"]
    assert [r for r in rows if r[0] == "pending"] == [("pending", None, None, 0)] * 3
    b = Worker(db, clock, name="b")
    assert b.run_due() == 3  # the clock has not moved: nothing waited for a lease
    assert sorted(gate.ran) == [0, 1, 2, 3]


def test_a_dead_worker_still_leaves_its_lease_to_expire(
    db: Database, clock: ManualClock, gate: Gate
) -> None:
    """Without a clean stop (kill -9) the lease is what hands the job over."""
    _enqueue(db, clock, 1)
    gate.release.set()
    assert len(Worker(db, clock, name="a").claim()) == 1
    b = Worker(db, clock, name="b")
    assert b.run_due() == 0
    clock.advance(seconds=engine_worker.LEASE.total_seconds() + 1)
    assert b.run_due() == 1
