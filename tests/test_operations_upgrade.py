"""Upgrades on both stores: a store of the previous release's schema (0015), with data,
migrates to the newest and keeps every row; a store newer than the code is refused
untouched by `serve`, `engine` and `runtime.open_store`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from warroom.cli.main import main
from warroom.db.migrate import (
    StoreTooNew,
    head_revisions,
    include_object,
    is_current,
    upgrade,
)
from warroom.db.session import Database
from warroom.runtime import open_store
from warroom.tables import Base

FUTURE = "0099_from_the_future"


def _snapshot(db: Database) -> tuple[list[str], int, int, int]:
    with db.engine.connect() as conn:
        return (
            list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()),
            int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one()),
            int(conn.execute(text("SELECT count(*) FROM users")).scalar_one()),
            int(conn.execute(text("SELECT count(*) FROM api_tokens")).scalar_one()),
        )


@pytest.fixture
def future_store(db: Database) -> Iterator[Database]:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    yield db
    # The PostgreSQL test database is shared by the tests of this process.
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE alembic_version SET version_num = :v"), {"v": head_revisions()[0]}
        )


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["engine"]])
def test_serve_and_engine_refuse_a_store_newer_than_the_code(
    future_store: Database, store_url: str, command: list[str]
) -> None:
    before = _snapshot(future_store)
    r = CliRunner().invoke(main, command, env={"WARROOM_DATABASE_URL": store_url})
    assert r.exit_code == 1, r.output
    assert f"schema revision {FUTURE}" in r.output
    assert f"its newest is {head_revisions()[0]}" in r.output
    assert "Serving on" not in r.output and "engine " not in r.output.split("Error")[0]
    assert _snapshot(future_store) == before  # nothing migrated, made or enqueued


def test_open_store_refuses_a_store_newer_than_the_code(
    future_store: Database, store_url: str
) -> None:
    before = _snapshot(future_store)
    with pytest.raises(StoreTooNew) as err:
        open_store(store_url)
    assert err.value.store_revisions == [FUTURE]
    assert err.value.newest == head_revisions()
    assert _snapshot(future_store) == before


PREVIOUS = "0015"  # the schema of the previous release (no tags: the last one before 0016)


@pytest.fixture
def empty_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A store of the same kind as `store_url` with nothing in it."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'previous.db'}"
        return
    name = f"warroom_upgrade_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_PREVIOUS_ROWS = [
    "INSERT INTO severities (id, name, rank, label, description, targets) VALUES"
    " (1, 'SEV-1', 1, 'Critical', '', '{}'), (2, 'SEV-2', 2, 'Major', '', '{}')",
    "INSERT INTO users (id, name, full_name, email, timezone, role, active, created_at) VALUES"
    " (1, 'alice', 'Alice', 'alice@example.test', 'UTC', 'responder', true,"
    " '2026-01-05 08:00:00')",
    "INSERT INTO teams (id, name, description, channel) VALUES (1, 'payments', '', '')",
    "INSERT INTO services (id, name, description, owner_team_id, tier, runbooks) VALUES"
    " (1, 'checkout', '', 1, 1, '[]'), (2, 'search', '', 1, 2, '[]')",
    "INSERT INTO incidents (id, title, severity, status, impact_summary, resolution_summary,"
    " detection_source, customer_facing, private, drill, channel, bridge_url, created_by_id,"
    " started_at, detected_at, acknowledged_at, declared_at, ic_assigned_at, mitigated_at,"
    " resolved_at, closed_at, updated_at) VALUES"
    " (1, 'Checkout returns 500', 'SEV-1', 'resolved', 'Orders fail', 'Rolled back 42',"
    " 'automated_alert', true, false, false, '', '', 1, '2026-01-10 08:50:00',"
    " '2026-01-10 08:55:00', '2026-01-10 09:05:00', '2026-01-10 09:00:00',"
    " '2026-01-10 09:02:00', '2026-01-10 09:30:00', '2026-01-10 10:00:00', NULL,"
    " '2026-01-10 10:00:00'),"
    " (2, 'Search is slow', 'SEV-2', 'investigating', '', '', 'internal_report', false,"
    " true, false, '', '', 1, NULL, NULL, NULL, '2026-02-03 12:00:00', NULL, NULL, NULL,"
    " NULL, '2026-02-03 12:00:00')",
    "INSERT INTO incident_services (id, incident_id, service_id) VALUES (1, 1, 1), (2, 1, 2),"
    " (3, 2, 2)",
    "INSERT INTO timeline_events (id, incident_id, at, kind, actor_id, actor, role, text, data,"
    " corrects_id) VALUES"
    " (1, 1, '2026-01-10 09:00:00', 'declared', 1, 'alice', NULL, 'Declared SEV-1', '{}', NULL),"
    " (2, 1, '2026-01-10 09:10:00', 'note', 1, 'alice', 'commander', 'Rolling back', '{}', NULL),"
    " (3, 1, '2026-01-10 09:12:00', 'note', 1, 'alice', NULL, 'Rolling back release 42',"
    " '{}', 2),"
    " (4, 2, '2026-02-03 12:00:00', 'declared', 1, 'alice', NULL, 'Declared SEV-2', '{}', NULL)",
    "INSERT INTO integrations (id, name, kind, service_id, key_hash, key_hint, hmac_secret,"
    " mapping, rate_per_minute, created_at) VALUES (1, 'pd', 'pagerduty', 1, 'h', 'k', '', '{}',"
    " 0, '2026-01-01 09:00:00')",
    "INSERT INTO alerts (id, integration_id, service_id, incident_id, dedup_key, status, summary,"
    " source, source_severity, severity, labels, annotations, links, details, first_seen,"
    " last_seen, resolved_at, occurrences, flapping, noise_note) VALUES"
    " (1, 1, 1, 1, 'k1', 'resolved', 'Checkout 5xx above 5%', 'prom', 'critical', 'SEV-1',"
    " '{\"env\": \"prod\"}', '{}', '[]', '{}', '2026-01-10 08:55:00',"
    " '2026-01-10 09:20:00', '2026-01-10 10:00:00', 7, false, ''),"
    " (2, 1, 2, 2, 'k2', 'triggered', 'Search p99 above 2s', 'prom', 'warning', 'SEV-2', '{}',"
    " '{}', '[]', '{}', '2026-02-03 11:58:00', '2026-02-03 12:00:00', NULL, 1, false, '')",
    "INSERT INTO postmortems (id, incident_id, status, requirement, reasons, owner_id, due_at,"
    " revision, content, overrides, created_at, updated_at) VALUES (1, 1, 'draft', 'required',"
    " '[\"SEV-1 policy: required\"]', 1, '2026-01-12 10:00:00', 3,"
    ' \'{"root_cause": "a connection pool exhausted by retries",'
    ' "whys": [{"why": "Why?", "because": "the timeout was unbounded"}]}\','
    " '{}', '2026-01-10 10:05:00', '2026-01-11 09:00:00')",
]


def test_a_store_of_the_previous_release_upgrades_with_its_data(empty_url: str) -> None:
    """The schema at 0015 with representative rows, migrated to the newest: every row
    is there as it was, the new columns are empty, and the new derived tables (search
    index, analytics facts and monthly rollup) are filled from the old rows."""
    db = Database(empty_url)
    try:
        upgrade(db.engine, PREVIOUS)
        with db.engine.begin() as conn:
            for sql in _PREVIOUS_ROWS:
                conn.execute(text(sql))
        upgrade(db.engine)
        with db.engine.connect() as conn:
            assert is_current(conn)
            q = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
            assert q(
                "SELECT id, title, status, severity, private, repeat_of_id, mitigation_started_at,"
                " customers_informed_at, affected_percent FROM incidents ORDER BY id"
            ) == [
                (1, "Checkout returns 500", "resolved", "SEV-1", False, None, None, None, None),
                (2, "Search is slow", "investigating", "SEV-2", True, None, None, None, None),
            ]
            assert q("SELECT id, incident_id, corrects_id FROM timeline_events ORDER BY id") == [
                (1, 1, None),
                (2, 1, None),
                (3, 1, 2),
                (4, 2, None),
            ]
            rows = q("SELECT id, incident_id, status, occurrences, labels FROM alerts ORDER BY id")
            assert [r[:4] for r in rows] == [(1, 1, "resolved", 7), (2, 2, "triggered", 1)]
            labels = rows[0][4]
            assert (json.loads(labels) if isinstance(labels, str) else labels) == {"env": "prod"}
            assert q("SELECT id, incident_id, status, revision FROM postmortems") == [
                (1, 1, "draft", 3)
            ]
            assert q("SELECT id, lead_id FROM teams") == [(1, None)]
            # 0017: one fact per incident, one per affected service, and the monthly rollup.
            facts = q("SELECT incident_id, severity, private, mttr FROM incident_facts ORDER BY 1")
            assert [f[:3] for f in facts] == [(1, "SEV-1", False), (2, "SEV-2", True)]
            assert facts[0][3] is not None and facts[0][3] > 0 and facts[1][3] is None
            assert q(
                "SELECT incident_id, service_id, multi FROM incident_fact_services ORDER BY 1, 2"
            ) == [(1, 1, True), (1, 2, True), (2, 2, False)]
            assert q("SELECT month, severity, count FROM incident_fact_months ORDER BY 1") == [
                ("2026-01", "SEV-1", 1),
                ("2026-02", "SEV-2", 1),
            ]
            # 0016: the full-text index holds the old incidents and the postmortem's cause.
            if db.dialect == "sqlite":
                found = q(
                    "SELECT rowid FROM incident_search WHERE incident_search MATCH 'unbounded'"
                )
            else:
                found = q(
                    "SELECT incident_id FROM incident_search"
                    " WHERE cause @@ plainto_tsquery('english', 'unbounded timeout')"
                )
            assert found == [(1,)]
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": False, "include_object": include_object}
            )
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()
    # The upgraded store opens like any other: defaults made, the old rows read back.
    opened, _ = open_store(empty_url)
    try:
        from warroom.incidents.models import Incident

        with opened.read() as s:
            assert s.get(Incident, 1) is not None and s.get(Incident, 2) is not None
    finally:
        opened.dispose()
