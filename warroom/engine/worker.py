"""The engine: claims due jobs, runs their handler, retries failures with backoff.

A job is claimed by moving it to `running` with a lease (`locked_until`); a worker
that dies (kill -9) leaves the lease to expire and another worker takes the job
over. Handlers must be idempotent: a job can run again after a crash.
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

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.db.session import Database
from warroom.engine.models import Job

log = logging.getLogger("warroom.engine")

Handler = Callable[[Session, Clock, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}  # filled by warroom.engine.handlers
LEASE = timedelta(minutes=2)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to 2**attempts seconds, capped at 15 min."""
    ceiling = min(2.0**attempts, 900.0)
    r = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=ceiling * r)


class Worker:
    def __init__(self, db: Database, clock: Clock, name: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._stop = threading.Event()

    def claim(self, limit: int = 20) -> list[int]:
        now = self.clock.now()
        with self.db.session() as s:
            q = (
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
            return [j.id for j in jobs]

    def run_job(self, job_id: int) -> None:
        now = self.clock.now()
        try:
            with self.db.session() as s:
                job = s.get(Job, job_id)
                if job is None or job.state != "running" or job.locked_by != self.name:
                    return
                fn = HANDLERS.get(job.kind)
                if fn is None:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                fn(s, self.clock, dict(job.payload or {}))
                job.state = "done"
                job.finished_at = now
                job.locked_until = None
        except Exception as exc:  # the job is retried; the worker keeps going
            log.warning("job %s failed: %s", job_id, exc)
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

    def run_due(self) -> int:
        """Runs every job due now; returns how many ran. Tests call this after moving time."""
        total = 0
        while True:
            ids = self.claim()
            if not ids:
                return total
            for job_id in ids:
                self.run_job(job_id)
            total += len(ids)

    def next_due(self) -> datetime | None:
        with self.db.session() as s:
            return s.scalar(
                select(Job.due_at).where(Job.state == "pending").order_by(Job.due_at).limit(1)
            )

    def run_forever(self, poll_seconds: float = 1.0) -> None:
        log.info("engine %s started", self.name)
        while not self._stop.is_set():
            try:
                ran = self.run_due()
            except Exception:
                log.exception("engine loop error")
                ran = 0
            if not ran:
                self._stop.wait(poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self, poll_seconds: float = 1.0) -> threading.Thread:
        t = threading.Thread(
            target=self.run_forever, args=(poll_seconds,), name="warroom-engine", daemon=True
        )
        t.start()
        return t
