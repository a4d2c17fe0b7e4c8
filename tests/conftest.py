"""Shared fixtures. Every store-backed test runs on SQLite and on PostgreSQL.

WARROOM_TEST_STORES=sqlite (or postgresql) narrows the run to one store;
WARROOM_TEST_POSTGRES_URL points at the server (default: the local one, database test).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.receivers import WebhookReceiver
from warroom.app import create_app
from warroom.auth.service import create_token
from warroom.core.clock import ManualClock
from warroom.db.migrate import upgrade
from warroom.db.session import Database
from warroom.org.service import create_user, ensure_defaults
from warroom.tables import Base
from warroom.wiring import wire

PG_URL = os.environ.get(
    "WARROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
wire()  # subscribers and job handlers, as every entry point registers them
# The suite's webhook receivers listen on 127.0.0.1, which the outbound address policy
# refuses unless an admin allow-lists it (docs/paging.md). Set for the whole run, so the
# engines and servers that tests start as processes inherit it; a test of the policy
# itself changes it with monkeypatch.
os.environ["WARROOM_OUTBOUND_ALLOW"] = "127.0.0.1"
STORES = [s for s in os.environ.get("WARROOM_TEST_STORES", "sqlite,postgresql").split(",") if s]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    # One database per test process, so parallel workers and runs never collide.
    name = f"warroom_test_{_worker()}_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc} (install postgresql)")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "warroom.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def db(store_url: str, clock: ManualClock) -> Iterator[Database]:
    database = Database(store_url)
    if database.dialect == "postgresql":
        _truncate_pg(database)
    with database.session() as s:
        ensure_defaults(s, clock)
    yield database
    database.dispose()


@dataclass
class Api:
    """A TestClient bound to one bearer token."""

    client: TestClient
    token: str

    def _h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._h(), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, headers=self._h(), json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(path, headers=self._h(), json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self._h(), **kw)


@pytest.fixture
def app(db: Database, clock: ManualClock) -> Any:
    return create_app(db, clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def make_token(db: Database, clock: ManualClock, role: str, user: str | None = None) -> str:
    with db.session() as s:
        from warroom.org.service import user_by_name

        u = user_by_name(s, user) if user else None
        return create_token(s, clock, role=role, user=u)


@pytest.fixture
def people(db: Database, clock: ManualClock) -> dict[str, str]:
    """alice and bob (responders), carol (viewer), dave and more responders; returns tokens."""
    with db.session() as s:
        create_user(s, clock, name="alice", email="alice@example.test", timezone="Europe/Berlin")
        create_user(s, clock, name="bob", email="bob@example.test")
        create_user(s, clock, name="carol", email="carol@example.test", role="viewer")
        for n in ("dave", "erin", "frank", "grace", "heidi", "ivan", "judy"):
            create_user(s, clock, name=n, email=f"{n}@example.test")
    return {
        "admin": make_token(db, clock, "admin", "admin"),
        "alice": make_token(db, clock, "responder", "alice"),
        "bob": make_token(db, clock, "responder", "bob"),
        "carol": make_token(db, clock, "viewer", "carol"),
    }


@pytest.fixture
def admin(client: TestClient, people: dict[str, str]) -> Api:
    return Api(client, people["admin"])


@pytest.fixture
def alice(client: TestClient, people: dict[str, str]) -> Api:
    return Api(client, people["alice"])


@pytest.fixture
def bob(client: TestClient, people: dict[str, str]) -> Api:
    return Api(client, people["bob"])


@pytest.fixture
def carol(client: TestClient, people: dict[str, str]) -> Api:
    return Api(client, people["carol"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: Any, lifespan: str = "off") -> LiveServer:
    """Serves `app` over real HTTP on 127.0.0.1 in a thread; returns once it listens.
    Stop it with `stop(server)`."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started or not thread.is_alive():
            break
        thread.join(timeout=0.01)  # waiting for the listener to open
    assert server.started, "the test server did not start"
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


def stop(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The app served over real HTTP on 127.0.0.1 (for the CLI and the browser)."""
    app.state.sse_poll_seconds = 0.2
    live = serve(app)
    yield live
    stop(live)


@pytest.fixture
def hooks() -> Iterator[dict[str, WebhookReceiver]]:
    """Local webhook receivers for pages: alice, alice2, bob and a team channel."""
    r = {name: WebhookReceiver().start() for name in ("alice", "alice2", "bob", "channel")}
    yield r
    for x in r.values():
        x.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With CI=true a skipped test is a failure: CI must prove everything."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"CI=true: {skipped} test(s) were skipped; failing the run")
