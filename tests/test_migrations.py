"""Migrations build exactly the schema the models describe, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from warroom.db.migrate import upgrade
from warroom.db.session import Database
from warroom.tables import Base


def test_models_match_migrations(db: Database) -> None:
    upgrade(db.engine)  # idempotent on an up-to-date store
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
