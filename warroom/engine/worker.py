"""The engine: claims due jobs, runs their handler, retries failures with backoff.

A job is claimed by moving it to `running` with a lease (`locked_until`); a worker
that dies (kill -9) leaves the lease to expire and another worker takes the job
over. Handlers must be idempotent: a job can run again after a crash.

A clean stop (`Worker.stop`, `stop_engine`: SIGTERM, Ctrl-C, the end of `warroom serve`)
lets the job being run finish, runs no further job of the claimed batch, and hands every
job it still holds back: state pending, lease and owner cleared, the unused attempt
returned, so another worker takes it at once instead of after the lease.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.queue import forget_wake_event, wake_event

log = logging.getLogger("warroom.engine")

Handler = Callable[[Session, Clock, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}  # filled by warroom.engine.handlers
# Handlers that talk to the outside world manage their own short transactions, so no
# transaction (on SQLite: the write lock) is held while a receiver is slow.
# They may return a function that records their outcome in the transaction that marks
# the job done.
DbHandler = Callable[[Database, Clock, dict[str, Any]], Callable[[Session], None] | None]
DB_HANDLERS: dict[str, DbHandler] = {}
# A claimed job whose worker died is taken over this long after the claim. Jobs are
# short (a notification send times out after 10 s), so a crash delays work briefly.
LEASE = timedelta(seconds=30)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to 2**attempts seconds, capped at 15 min."""
    ceiling = min(2.0**attempts, 900.0)
    r = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=ceiling * r)


class Worker:
    """Claims and runs due jobs. `kinds` limits it to those job kinds, `skip_kinds`
    keeps it away from them (so deliveries can run in their own threads)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        name: str | None = None,
        *,
        kinds: tuple[str, ...] | None = None,
        skip_kinds: tuple[str, ...] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.kinds = kinds
        self.skip_kinds = skip_kinds
        self._stop = threading.Event()
        self._claimed: dict[int, tuple[str, dict[str, Any]]] = {}
        self._wake = wake_event()
        self._thread: threading.Thread | None = None

    def _filter(self, q: Any) -> Any:
        if self.kinds is not None:
            q = q.where(Job.kind.in_(self.kinds))
        if self.skip_kinds:
            q = q.where(Job.kind.not_in(self.skip_kinds))
        return q

    def claim(self, limit: int = 20) -> list[int]:
        now = self.clock.now()
        with self.db.session() as s:
            q = self._filter(
                select(Job)
                .where(
                    or_(
                        (Job.state == "pending") & (Job.due_at <= now),
                        (Job.state == "running") & (Job.locked_until < now),
                    )
                )
                .order_by(Job.due_at)
                .limit(limit)
            )
            if self.db.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            jobs = list(s.scalars(q))
            for job in jobs:
                job.state = "running"
                job.locked_by = self.name
                job.locked_until = now + LEASE
                job.attempts += 1
                self._claimed[job.id] = (job.kind, dict(job.payload or {}))
            return [j.id for j in jobs]

    def _mine(self, job: Job | None) -> bool:
        return job is not None and job.state == "running" and job.locked_by == self.name

    def _run_outside(self, job_id: int, fn: DbHandler, payload: dict[str, Any]) -> None:
        finish = fn(self.db, self.clock, payload)
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None or not self._mine(job):
                return
            if finish is not None:
                finish(s)
            job.state = "done"
            job.finished_at = self.clock.now()
            job.locked_until = None

    def _run_inside(self, job_ids: list[int]) -> None:
        """Runs state-changing jobs in one transaction, each in its own savepoint: one
        commit for the batch, and a failing job rolls back alone."""
        now = self.clock.now()
        failed: list[tuple[int, Exception]] = []
        with self.db.session() as s:
            jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))}
            for job_id in job_ids:
                if self._stop.is_set():
                    break  # stopping: the rest of the batch is handed back
                job = jobs.get(job_id)
                if job is None or not self._mine(job):
                    continue
                fn = HANDLERS.get(job.kind)
                try:
                    if fn is None:
                        raise LookupError(f"no handler for job kind {job.kind!r}")
                    with s.begin_nested():
                        fn(s, self.clock, dict(job.payload or {}))
                except Exception as exc:  # the job is retried; the others go on
                    failed.append((job_id, exc))
                    continue
                job.state = "done"
                job.finished_at = now
                job.locked_until = None
        for job_id, error in failed:
            self._failed(job_id, error)

    def _failed(self, job_id: int, exc: Exception) -> None:
        log.warning("job %s failed: %s", job_id, exc)
        now = self.clock.now()
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            job.locked_until = None
            if job.attempts >= job.max_attempts:
                job.state = "failed"
                job.finished_at = now
            else:
                job.state = "pending"
                job.due_at = now + backoff(job.attempts)

    def run_job(self, job_id: int) -> None:
        claimed = self._claimed.pop(job_id, None)
        outside = DB_HANDLERS.get(claimed[0]) if claimed else None
        if outside is None or claimed is None:
            self._run_inside([job_id])
            return
        try:
            self._run_outside(job_id, outside, claimed[1])
        except Exception as exc:  # the job is retried; the worker keeps going
            self._failed(job_id, exc)

    def run_due(self) -> int:
        """Runs every job due now; returns how many ran. Tests call this after moving time."""
        total = 0
        while True:
            ids = self.claim()
            if not ids:
                return total
            inside = [i for i in ids if self._claimed.get(i, ("", {}))[0] not in DB_HANDLERS]
            for i in inside:
                self._claimed.pop(i, None)
            if inside:
                self._run_inside(inside)
            for job_id in ids:
                if job_id not in inside and not self._stop.is_set():
                    self.run_job(job_id)
            if self._stop.is_set():
                self._claimed.clear()
                self.release()
                return total
            total += len(ids)

    def next_due(self) -> datetime | None:
        with self.db.read() as s:
            return s.scalar(
                self._filter(
                    select(Job.due_at).where(Job.state == "pending").order_by(Job.due_at).limit(1)
                )
            )

    def run_forever(self, poll_seconds: float = 1.0) -> None:
        """Runs due jobs until stopped. Between rounds it sleeps until the next job is
        due (at most `poll_seconds`, which bounds how late work from another process is
        seen); work enqueued in this process wakes it at once."""
        log.info("engine %s started", self.name)
        wake = self._wake
        while not self._stop.is_set():
            wake.clear()  # work enqueued from here on wakes the wait below
            try:
                ran = self.run_due()
                wait = poll_seconds
                if not ran:
                    due = self.next_due()
                    if due is not None:
                        ahead = (ensure_utc(due) - self.clock.now()).total_seconds()
                        wait = min(poll_seconds, max(ahead, 0.0))
            except Exception:
                log.exception("engine loop error")
                ran, wait = 0, poll_seconds
            if not ran and wait > 0:
                wake.wait(wait)
        forget_wake_event(wake)

    def release(self) -> int:
        """Hands back every job this worker holds (claimed, not finished): pending again,
        lease and owner cleared, the claim's attempt returned. Returns how many."""
        with self.db.session() as s:
            done = s.execute(
                update(Job)
                .where(Job.state == "running", Job.locked_by == self.name)
                .values(
                    state="pending",
                    locked_by=None,
                    locked_until=None,
                    attempts=Job.attempts - 1,
                )
                .execution_options(synchronize_session=False)
            )
            count = int(getattr(done, "rowcount", 0) or 0)
        if count:
            log.info("engine %s handed %d job(s) back", self.name, count)
        return count

    def stop(self, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Stops the loop. With `wait` (the default), waits up to `timeout` seconds for
        the job being run to finish, then hands back the jobs still held. A job still
        running after `timeout` keeps its lease (it may yet finish)."""
        self._stop.set()
        self._wake.set()
        if not wait:
            return
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.warning("engine %s: a job is still running; its lease stays", self.name)
                return
        self.release()

    def start_thread(self, poll_seconds: float = 1.0) -> threading.Thread:
        t = threading.Thread(
            target=self.run_forever, args=(poll_seconds,), name="warroom-engine", daemon=True
        )
        self._thread = t
        t.start()
        return t


DELIVERY_THREADS = 4


def start_engine(
    db: Database, clock: Clock, *, poll_seconds: float = 1.0, deliveries: int = DELIVERY_THREADS
) -> list[Worker]:
    """The engine as threads: one runs state changes (steps, timers, fan-out), and
    `deliveries` threads send notifications, so a slow receiver delays nothing else."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    outside = tuple(DB_HANDLERS)
    workers = [Worker(db, clock, name=f"{base}:main", skip_kinds=outside)]
    workers += [
        Worker(db, clock, name=f"{base}:deliver{i}", kinds=outside) for i in range(deliveries)
    ]
    for w in workers:
        w.start_thread(poll_seconds)
    return workers


def stop_engine(workers: list[Worker], timeout: float = 30.0) -> None:
    """Stops the engine's threads cleanly: all are told at once, then each finishes its
    job and hands back what it still holds (Worker.stop)."""
    for w in workers:
        w.stop(wait=False)
    for w in workers:
        w.stop(timeout=timeout)
