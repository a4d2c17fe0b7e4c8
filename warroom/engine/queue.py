"""Enqueue work in the caller's transaction, so a side effect exists iff its cause does."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from warroom.engine.models import Job


def enqueue(
    session: Session,
    *,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    now: datetime,
    max_attempts: int = 8,
    fresh: bool = False,
) -> Job | None:
    """Adds a job unless one with the same idempotency key exists (then returns None).
    `fresh` skips that look-up for a key that cannot exist yet (the unique index still
    guards it)."""
    if not fresh and session.scalar(select(Job.id).where(Job.key == key)) is not None:
        return None
    job = Job(
        kind=kind,
        key=key,
        payload=payload or {},
        state="pending",
        due_at=due_at,
        attempts=0,
        max_attempts=max_attempts,
        last_error="",
        created_at=now,
    )
    session.add(job)
    session.info["warroom_wake"] = True
    return job


_WAITERS: weakref.WeakSet[threading.Event] = weakref.WeakSet()
_WAITERS_LOCK = threading.Lock()


def wake_event() -> threading.Event:
    """A new event that is set whenever a transaction that enqueued work commits in this
    process, so an engine thread waiting for its next job wakes at once."""
    ev = threading.Event()
    with _WAITERS_LOCK:
        _WAITERS.add(ev)
    return ev


def forget_wake_event(ev: threading.Event) -> None:
    with _WAITERS_LOCK:
        _WAITERS.discard(ev)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("warroom_wake", False):
        with _WAITERS_LOCK:
            waiters = list(_WAITERS)
        for ev in waiters:
            ev.set()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("warroom_wake", None)
