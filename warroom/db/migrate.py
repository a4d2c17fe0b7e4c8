"""Apply Alembic migrations programmatically (used by `warroom serve` and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

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


def upgrade(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
