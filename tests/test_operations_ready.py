"""`/readyz` on both stores: 200 while the store answers, migrations are current and the
oldest due job waits no longer than WARROOM_READY_MAX_LAG_SECONDS; 503 naming the
failing check otherwise. No token; `/healthz` stays process-alive only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from warroom.app import create_app
from warroom.core.clock import ManualClock
from warroom.db.migrate import head_revisions
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.settings import SettingsError


def _due_job(db: Database, clock: ManualClock, key: str = "ready-test") -> None:
    with db.session() as s:
        enqueue(s, kind="noop", key=key, due_at=clock.now(), now=clock.now())


def test_ready_when_store_migrations_and_engine_are_fine(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "store": "ok",
        "migrations": "current",
        "engine": {"lag_seconds": 0.0, "oldest_due_job": None},
    }
    assert r.headers["cache-control"] == "no-store"


def test_engine_lag_over_the_threshold_is_not_ready(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    _due_job(db, clock)
    due = clock.now()
    clock.advance(seconds=60)  # exactly the default threshold: still ready
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["engine"] == {
        "lag_seconds": 60.0,
        "oldest_due_job": due.isoformat().replace("+00:00", "Z"),
    }
    clock.advance(seconds=1)
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready" and body["failing"] == ["engine"]
    assert body["engine"]["lag_seconds"] == 61.0
    assert body["store"] == "ok" and body["migrations"] == "current"


def test_the_threshold_is_a_setting(
    db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARROOM_READY_MAX_LAG_SECONDS", "5")
    _due_job(db, clock)
    clock.advance(seconds=6)
    with TestClient(create_app(db, clock)) as c:
        assert c.get("/readyz").json()["failing"] == ["engine"]
    for bad in ("soon", "0", "-3", "inf"):
        monkeypatch.setenv("WARROOM_READY_MAX_LAG_SECONDS", bad)
        with pytest.raises(SettingsError) as err:
            create_app(db, clock)
        assert "WARROOM_READY_MAX_LAG_SECONDS" in str(err.value) and repr(bad) in str(err.value)


def test_migrations_behind_are_not_ready(client: TestClient, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0017'"))
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["failing"] == ["migrations"]
        assert body["migrations"] == f"store at 0017, this warroom at {head_revisions()[0]}"
    finally:
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": head_revisions()[0]}
            )


def test_an_unreachable_store_is_not_ready_but_the_process_is_alive(
    db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'missing' / 'warroom.db'}"
        if db.dialect == "sqlite"
        else "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
    )
    gone = Database(url)
    try:
        with TestClient(create_app(gone, clock)) as c:
            r = c.get("/readyz")
            assert r.status_code == 503
            body = r.json()
            assert body["failing"] == ["store"] and body["store"].startswith("unreachable: ")
            assert body["migrations"] == "unknown"
            assert c.get("/healthz").status_code == 200
    finally:
        gone.dispose()


def test_readyz_needs_no_token_and_reads_only(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    _due_job(db, clock)
    clock.advance(minutes=5)
    with db.engine.connect() as conn:
        before = conn.execute(text("SELECT state, attempts FROM jobs")).all()
    assert client.get("/readyz").status_code == 503
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT state, attempts FROM jobs")).all() == before


def test_serve_refuses_a_bad_threshold_before_opening_the_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from warroom.cli.main import main

    store = tmp_path / "warroom.db"
    r = CliRunner().invoke(
        main,
        ["serve", "--port", "1"],
        env={"WARROOM_DATABASE_URL": f"sqlite:///{store}", "WARROOM_READY_MAX_LAG_SECONDS": "soon"},
    )
    assert r.exit_code == 1, r.output
    assert "WARROOM_READY_MAX_LAG_SECONDS must be a positive number" in r.output
    assert not store.exists()
