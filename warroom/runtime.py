"""Opening the store the way every entry point does: migrate, then first-run defaults.

Invariant: a store made by a newer warroom is refused (StoreTooNew from
`warroom.db.migrate.upgrade`) before anything is written to it: no migration down, no
defaults, no engine jobs.
"""

from __future__ import annotations

from warroom.analytics import schedule as report_schedule
from warroom.core.clock import Clock, SystemClock
from warroom.db.migrate import upgrade
from warroom.db.session import Database
from warroom.org.service import Bootstrap, ensure_defaults
from warroom.shifts.handoff_service import ensure_jobs
from warroom.slos.evaluator import ensure_chain
from warroom.wiring import wire


def open_store(url: str, clock: Clock | None = None) -> tuple[Database, Bootstrap]:
    """Opens, migrates and sets up the store at `url`. Raises StoreTooNew, having touched
    nothing, for a store migrated by a newer warroom."""
    wire()
    db = Database(url)
    try:
        upgrade(db.engine)
    except BaseException:
        db.dispose()
        raise
    clock = clock or SystemClock()
    with db.session() as s:
        boot = ensure_defaults(s, clock)
    # Each schedule's next handoff note is drafted by the engine; make sure it is due.
    ensure_jobs(db, clock)
    # ... and so is the SLO evaluator, when there are SLOs.
    ensure_chain(db, clock)
    # ... and so is each scheduled operational review's next delivery.
    report_schedule.ensure_jobs(db, clock)
    return db, boot
