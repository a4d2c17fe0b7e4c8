"""Opening the store the way every entry point does: migrate, then first-run defaults."""

from __future__ import annotations

from warroom.core.clock import Clock, SystemClock
from warroom.db.migrate import upgrade
from warroom.db.session import Database
from warroom.org.service import Bootstrap, ensure_defaults


def open_store(url: str, clock: Clock | None = None) -> tuple[Database, Bootstrap]:
    db = Database(url)
    upgrade(db.engine)
    with db.session() as s:
        boot = ensure_defaults(s, clock or SystemClock())
    return db, boot
