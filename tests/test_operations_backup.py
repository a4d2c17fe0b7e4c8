"""`warroom backup` / `warroom restore` on both stores: a copy taken while a thread keeps
declaring incidents and logging timeline events holds everything committed before the
backup began, and every incident in it is whole (nothing half-written); the refusals
name what is wrong."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, Api
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.core.principal import SYSTEM
from warroom.db import backup as store_backup
from warroom.db.migrate import head_revisions
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.incidents import service as incidents

DEADLINE = 60.0  # seconds a test waits for the writer thread before failing


@pytest.fixture
def fresh_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty store of the same kind as `store_url`, for the restore."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"warroom_restore_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _contents(url: str) -> dict[str, Any]:
    """What a store holds, by id: incidents with their timeline event ids, alerts and
    postmortems."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            events: dict[int, set[int]] = {}
            for inc_id, ev_id in conn.execute(text("SELECT incident_id, id FROM timeline_events")):
                events.setdefault(int(inc_id), set()).add(int(ev_id))
            incidents_ = {int(i) for i in conn.execute(text("SELECT id FROM incidents")).scalars()}
            alerts = {
                (int(i), str(k))
                for i, k in conn.execute(text("SELECT id, dedup_key FROM alerts")).all()
            }
            postmortems = {
                (int(i), int(inc))
                for i, inc in conn.execute(text("SELECT id, incident_id FROM postmortems")).all()
            }
        return {"incidents": incidents_, "events": events, "alerts": alerts, "pm": postmortems}
    finally:
        db.dispose()


class Writer(threading.Thread):
    """Declares incidents and logs two notes on each, one transaction per incident,
    through the service layer, until stopped."""

    def __init__(self, db: Database, clock: ManualClock) -> None:
        super().__init__(daemon=True)
        self.db, self.clock = db, clock
        self.committed = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self._cond = threading.Condition()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                with self.db.session() as s:
                    inc = incidents.declare(
                        s, self.clock, SYSTEM, title=f"load {self.committed}", severity="SEV-3"
                    )
                    for n in range(2):
                        incidents.log_event(s, self.clock, SYSTEM, inc, kind="note", text=f"n{n}")
                with self._cond:
                    self.committed += 1
                    self._cond.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, count: int) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.committed >= count or self.error, DEADLINE)
        assert self.error is None, self.error
        assert ok, f"the writer committed {self.committed} of {count} in {DEADLINE} s"


def _seed(admin: Api, db: Database, clock: ManualClock) -> None:
    """An alert (with the incident it opened) and a postmortem, before the load."""
    r = admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "payments"}],
                "services": [{"name": "checkout", "owner": "payments"}],
            }
        },
    )
    assert r.status_code == 200, r.text
    r = admin.post(
        "/api/v1/integrations", json={"name": "pd", "kind": "pagerduty", "service": "checkout"}
    )
    assert r.status_code == 201, r.text
    body = {
        "routing_key": r.json()["key"],
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {"summary": "Checkout 5xx", "source": "prom", "severity": "critical"},
    }
    assert admin.client.post("/v2/enqueue", json=body).status_code == 202
    clock.advance(minutes=45)
    r = admin.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back."})
    assert r.status_code == 200, r.text
    Worker(db, clock).run_due()
    r = admin.post("/api/v1/postmortems", json={"incident": "INC-1"})
    assert r.status_code in (200, 201), r.text


def test_a_backup_under_write_load_restores_everything_committed_before_it(
    admin: Api,
    db: Database,
    clock: ManualClock,
    store_url: str,
    fresh_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed(admin, db, clock)
    seeded = _contents(store_url)
    assert seeded["alerts"] and seeded["pm"]
    writer = Writer(db, clock)
    writer.start()
    writes_during: list[int] = []
    try:
        writer.wait_for(5)
        before = _contents(store_url)
        # SQLite copies one page per step here, and the first step waits until the writer
        # has committed twice more: those commits happen while the backup runs.
        monkeypatch.setattr(store_backup, "STEP_PAGES", 1)
        real = store_backup.backup

        def backup_under_load(*args: Any, **kw: Any) -> Any:
            shown = kw.pop("progress")

            def progress(done: int, total: int) -> None:
                if not writes_during:
                    writes_during.append(writer.committed)
                    writer.wait_for(writer.committed + 2)
                shown(done, total)

            return real(*args, progress=progress, **kw)

        monkeypatch.setattr(store_backup, "backup", backup_under_load)
        file = tmp_path / "warroom.backup"
        runner = CliRunner()
        r = runner.invoke(
            main, ["backup", str(file), "--json"], env={"WARROOM_DATABASE_URL": store_url}
        )
        assert r.exit_code == 0, r.output
        writer.wait_for(writer.committed + 2)
    finally:
        writer.stopping.set()
        writer.join(DEADLINE)
    assert writer.error is None, writer.error
    assert writes_during
    after = _contents(store_url)
    assert len(after["incidents"]) > len(before["incidents"])

    r = CliRunner().invoke(main, ["restore", str(file), "--to", fresh_url, "--json"])
    assert r.exit_code == 0, r.output
    restored = _contents(fresh_url)
    # Everything committed before the backup began ...
    assert before["incidents"] <= restored["incidents"]
    assert before["alerts"] == restored["alerts"] == seeded["alerts"]
    assert before["pm"] == restored["pm"] == seeded["pm"]
    for inc_id, ids in before["events"].items():
        assert ids == restored["events"][inc_id]
    # ... and each incident in the copy is whole: its declaration and both notes.
    for inc_id in restored["incidents"]:
        assert restored["events"][inc_id] == after["events"][inc_id], inc_id
    assert set(restored["events"]) == restored["incidents"]
    # The restored store opens like any other, at this warroom's schema.
    restored_db = Database(fresh_url)
    try:
        with restored_db.engine.connect() as conn:
            from warroom.db.migrate import is_current

            assert is_current(conn)
    finally:
        restored_db.dispose()


def test_backup_json_and_progress(db: Database, store_url: str, tmp_path: Path) -> None:
    file = tmp_path / "b.dump"
    r = CliRunner().invoke(
        main, ["backup", str(file), "--json"], env={"WARROOM_DATABASE_URL": store_url}
    )
    assert r.exit_code == 0, r.output
    import json

    body = json.loads(r.stdout)
    assert body["file"] == str(file) and body["bytes"] == file.stat().st_size > 0
    assert body["store"] == db.dialect and body["revision"]
    assert "backup" in r.stderr
    # A second backup to the same file is refused without --force.
    r = CliRunner().invoke(main, ["backup", str(file)], env={"WARROOM_DATABASE_URL": store_url})
    assert r.exit_code == 1 and "exists already; pass --force" in r.output
    r = CliRunner().invoke(
        main, ["backup", str(file), "--force"], env={"WARROOM_DATABASE_URL": store_url}
    )
    assert r.exit_code == 0, r.output


def test_restore_refuses_a_store_that_is_not_empty_unless_forced(
    admin: Api, store_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "b.dump"
    r = CliRunner().invoke(main, ["backup", str(file)], env={"WARROOM_DATABASE_URL": store_url})
    assert r.exit_code == 0, r.output
    r = admin.post("/api/v1/incidents", json={"title": "after the backup", "severity": "SEV-3"})
    assert r.status_code == 201, r.text
    r = CliRunner().invoke(main, ["restore", str(file), "--to", store_url])
    assert r.exit_code == 1 and "is not empty" in r.output and "--force" in r.output
    assert len(_contents(store_url)["incidents"]) == 1
    r = CliRunner().invoke(main, ["restore", str(file), "--to", store_url, "--force"])
    assert r.exit_code == 0, r.output
    assert _contents(store_url)["incidents"] == set()


def test_restore_refuses_a_file_of_the_other_kind_and_a_newer_copy(
    db: Database, store_url: str, fresh_url: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello")
    r = CliRunner().invoke(main, ["restore", str(junk), "--to", fresh_url])
    assert r.exit_code == 1 and str(junk) in r.output and "of its kind" in r.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    file = tmp_path / "b.dump"
    r = CliRunner().invoke(main, ["backup", str(file)], env={"WARROOM_DATABASE_URL": store_url})
    assert r.exit_code == 0, r.output
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE alembic_version SET version_num = :v"), {"v": head_revisions()[0]}
        )
    r = CliRunner().invoke(main, ["restore", str(file), "--to", fresh_url])
    assert r.exit_code == 1, r.output
    assert "9999_future" in r.output and "newer than this warroom" in r.output
    assert _is_empty(fresh_url)


def _is_empty(url: str) -> bool:
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        if not path.exists():
            return True
    d = Database(url)
    try:
        from sqlalchemy import inspect

        with d.engine.connect() as conn:
            return not inspect(conn).get_table_names()
    finally:
        d.dispose()


def test_postgresql_backup_without_pg_dump_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    url = make_url(PG_URL).render_as_string(hide_password=False)
    with pytest.raises(store_backup.BackupError) as err:
        store_backup.backup(url, tmp_path / "x.dump")
    assert "pg_dump is not installed" in str(err.value)
    assert "postgresql-client" in str(err.value)
