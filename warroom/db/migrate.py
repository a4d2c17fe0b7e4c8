"""Apply Alembic migrations programmatically (used by `warroom serve` and tests).

Invariant: a store is only ever migrated up, and never by a warroom older than the store:
`upgrade` reads the store's revision first and raises StoreTooNew, before it changes
anything, when the store names a revision this code does not know (made by a newer
warroom). Nothing here migrates down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"


# The store's own full-text index of incidents (migration 0016): an FTS5 table and its
# shadow tables on SQLite, a tsvector table on PostgreSQL. Made with raw SQL, not a model.
SEARCH_TABLE = "incident_search"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object hook: leaves the full-text index out of model comparison."""
    if type_ == "table" and name is not None:
        return not (name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_"))
    if type_ == "index" and reflected and compare_to is None:
        table = getattr(getattr(obj, "table", None), "name", "")
        return table != SEARCH_TABLE
    return True


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class StoreTooNew(RuntimeError):
    """The store was migrated by a newer warroom: its revision is unknown to this code."""

    def __init__(self, store_revisions: list[str], newest: list[str]) -> None:
        self.store_revisions = store_revisions
        self.newest = newest
        super().__init__(
            f"the store is at schema revision {', '.join(store_revisions)}, newer than this "
            f"warroom knows (its newest is {', '.join(newest)}): run the warroom version that "
            "migrated it, or a later one; this one will not touch it"
        )


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revisions() -> list[str]:
    """The newest schema revision(s) this warroom knows."""
    return sorted(_script().get_heads())


def store_revisions(conn: Connection) -> list[str]:
    """The revision(s) recorded in the store's alembic_version; [] for a store without
    warroom's schema."""
    if not inspect(conn).has_table("alembic_version"):
        return []
    return sorted(
        str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    )


def unknown_revisions(revisions: list[str]) -> list[str]:
    """The revisions among `revisions` that this code has no migration for."""
    script = _script()
    unknown = []
    for rev in revisions:
        try:
            found = script.get_revision(rev)
        except CommandError:
            found = None
        if found is None:
            unknown.append(rev)
    return unknown


def check_not_newer(conn: Connection) -> list[str]:
    """Returns the store's revisions; raises StoreTooNew when any is unknown to this code."""
    revisions = store_revisions(conn)
    if unknown_revisions(revisions):
        raise StoreTooNew(revisions, head_revisions())
    return revisions


def is_current(conn: Connection) -> bool:
    """True when the store is at this warroom's newest revision(s)."""
    return store_revisions(conn) == head_revisions()


def upgrade(engine: Engine, target: str = "heads") -> None:
    """Migrates the store up to `target` (default: the newest). Raises StoreTooNew, having
    changed nothing, for a store made by a newer warroom."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        check_not_newer(conn)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
