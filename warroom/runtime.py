"""Opening the store the way every entry point does: migrate, then first-run defaults."""

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
    wire()
    db = Database(url)
    upgrade(db.engine)
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
