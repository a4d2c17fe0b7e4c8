"""Enqueue work in the caller's transaction, so a side effect exists iff its cause does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
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
) -> Job | None:
    """Adds a job unless one with the same idempotency key exists (then returns None)."""
    if session.scalar(select(Job.id).where(Job.key == key)) is not None:
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
    return job
