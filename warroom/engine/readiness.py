"""Readiness (`GET /readyz`): may this process be sent traffic now?

Three checks, each named in the answer, answered from two small indexed reads:
- store: the store answers a query;
- migrations: the store is at this warroom's newest schema revision (a store behind is
  being migrated, or was never migrated by this version; one ahead is a newer warroom's);
- engine: the oldest pending job that is due has waited no longer than the threshold
  (`WARROOM_READY_MAX_LAG_SECONDS`), i.e. some engine is taking the work.

Invariants: it reads only (never writes, never migrates), needs no credentials and
says nothing about the store's contents beyond a job's due time and the revisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select

from warroom.core.clock import Clock, ensure_utc
from warroom.db.migrate import head_revisions, store_revisions
from warroom.db.session import Database
from warroom.engine.models import Job


@lru_cache(maxsize=1)
def _heads() -> tuple[str, ...]:
    return tuple(head_revisions())


@dataclass
class Readiness:
    store: str = "ok"
    migrations: str = "current"
    lag_seconds: float | None = 0.0
    oldest_due_job: str | None = None
    failing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.failing

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ready" if self.ready else "not ready",
            "store": self.store,
            "migrations": self.migrations,
            "engine": {"lag_seconds": self.lag_seconds, "oldest_due_job": self.oldest_due_job},
        }
        if self.failing:
            body["failing"] = self.failing
        return body


def check(db: Database, clock: Clock, max_lag_seconds: float) -> Readiness:
    """Runs the three checks; the result's `failing` names those that failed."""
    result = Readiness()
    now = clock.now()
    try:
        with db.read() as s:
            conn = s.connection()
            revisions = store_revisions(conn)
            oldest = s.scalar(
                select(func.min(Job.due_at)).where(Job.state == "pending", Job.due_at <= now)
            )
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        result.store = f"unreachable: {reason[0] if reason else type(exc).__name__}"[:300]
        result.migrations = "unknown"
        result.lag_seconds = None
        result.failing = ["store"]
        return result
    heads = list(_heads())
    if revisions != heads:
        shown = ", ".join(revisions) or "none"
        result.migrations = f"store at {shown}, this warroom at {', '.join(heads)}"
        result.failing.append("migrations")
    if oldest is not None:
        due = ensure_utc(oldest)
        result.oldest_due_job = due.isoformat().replace("+00:00", "Z")
        result.lag_seconds = round(max((now - due).total_seconds(), 0.0), 3)
        if result.lag_seconds > max_lag_seconds:
            result.failing.append("engine")
    return result
