"""Paging under faults, with real `warroom engine` processes and a real webhook receiver:

- kill -9 the engine in the middle of an escalation storm: after a restart every
  notification arrives, and any repeat carries the same idempotency key;
- two engines on PostgreSQL share the work and send each notification exactly once;
- a receiver that is down for a while gets everything once it is up.

The engines run on real time; the test waits for outcomes, never for fixed delays.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import _truncate_pg
from tests.e2e._programs import Program, wait_until
from tests.receivers import WebhookReceiver
from warroom.config import service as config
from warroom.core.clock import SystemClock
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.incidents import service as incidents
from warroom.org.service import ensure_defaults
from warroom.paging.models import Notification

pytestmark = pytest.mark.e2e

STORM = 150


def setup_paging(db: Database, hook: str) -> None:
    clock = SystemClock()
    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "users": [
                    {
                        "name": "alice",
                        "email": "alice@example.test",
                        "contact_methods": [{"name": "hook", "kind": "webhook", "address": hook}],
                    }
                ],
                "teams": [{"name": "payments", "members": ["alice"]}],
                "services": [
                    {"name": "checkout", "owner": "payments", "escalation_policy": "payments"}
                ],
                "escalation_policies": [
                    {
                        "name": "payments",
                        "levels": [{"timeout_minutes": 30, "targets": [{"user": "alice"}]}],
                    }
                ],
            },
        )


def storm(db: Database, n: int = STORM) -> None:
    """n incidents on the paging service, declared while no engine runs."""
    clock = SystemClock()
    who = Principal(role="responder", user_id=None, name="storm")
    for i in range(n):
        with db.session() as s:
            incidents.declare(
                s, clock, who, title=f"Storm incident {i}", severity="SEV-2", services=["checkout"]
            )


def engine(url: str, log: Path) -> Program:
    env_url = os.environ.get("WARROOM_DATABASE_URL")
    os.environ["WARROOM_DATABASE_URL"] = url
    try:
        return Program(
            [
                sys.executable,
                "-c",
                "from warroom.cli.main import main; main()",
                "engine",
                "--poll",
                "0.2",
            ],
            log,
        )
    finally:
        if env_url is None:
            os.environ.pop("WARROOM_DATABASE_URL", None)
        else:
            os.environ["WARROOM_DATABASE_URL"] = env_url


def expected_keys(db: Database) -> set[str]:
    with db.read() as s:
        return set(s.scalars(select(Notification.key)))


def states(db: Database) -> Counter[str]:
    with db.read() as s:
        return Counter(s.scalars(select(Notification.state)))


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def test_kill_9_during_an_escalation_storm_loses_no_page(
    db: Database, hook: WebhookReceiver, tmp_path: Path
) -> None:
    hook.delay = 0.01  # a receiver that takes a moment, so the kill lands mid-storm
    setup_paging(db, hook.url)
    storm(db)
    first = engine(url_of(db), tmp_path / "engine1.log")
    try:
        wait_until(lambda: len(hook.received) >= 20, "the first pages", 60, first.output)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=10)
    finally:
        first.stop()
    before = len(hook.received)
    assert before < STORM, "the storm ended before the kill; nothing was tested"
    second = engine(url_of(db), tmp_path / "engine2.log")
    try:
        wait_until(
            lambda: states(db).get("sent", 0) == STORM,
            "every notification sent after the restart",
            120,
            lambda: f"{states(db)}\n{second.output()}",
        )
    finally:
        second.stop()
    keys = [r.headers["idempotency-key"] for r in hook.received]
    assert set(keys) == expected_keys(db)  # none lost
    assert len(set(keys)) == STORM
    for r in hook.received:  # a repeat is recognisable: same key in header and body
        assert r.json()["idempotency_key"] == r.headers["idempotency-key"]


@pytest.fixture
def pg_db(pg_database: str) -> Iterator[Database]:
    database = Database(pg_database)
    _truncate_pg(database)
    with database.session() as s:
        ensure_defaults(s, SystemClock())
    yield database
    database.dispose()


def test_two_engines_on_postgresql_send_each_notification_once(
    pg_db: Database, hook: WebhookReceiver, tmp_path: Path
) -> None:
    hook.delay = 0.02
    setup_paging(pg_db, hook.url)
    engines = [engine(url_of(pg_db), tmp_path / f"engine{i}.log") for i in (1, 2)]
    try:
        storm(pg_db, 200)
        wait_until(
            lambda: states(pg_db).get("sent", 0) == 200,
            "every notification sent",
            120,
            lambda: f"{states(pg_db)}\n" + "\n".join(e.output() for e in engines),
        )
        assert all(e.alive() for e in engines)
    finally:
        for e in engines:
            e.stop()
    keys = Counter(r.headers["idempotency-key"] for r in hook.received)
    assert set(keys) == expected_keys(pg_db)
    assert max(keys.values()) == 1  # exactly once: neither engine crashed
    with pg_db.read() as s:
        senders = {
            (name or "").split(":")[1]
            for name in s.scalars(select(Job.locked_by).where(Job.kind == "notify"))
        }
    assert len(senders) == 2, f"one engine did all the work: {senders}"


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_up(
    db: Database, tmp_path: Path
) -> None:
    hook = WebhookReceiver(status=503).start()  # answering, but failing
    try:
        setup_paging(db, hook.url)
        storm(db, 20)
        eng = engine(url_of(db), tmp_path / "engine.log")
        try:

            def failing() -> Any:
                with db.read() as s:
                    return s.scalar(
                        select(Notification.id).where(Notification.attempts >= 2).limit(1)
                    )

            wait_until(failing, "failed attempts while the receiver is down", 60, eng.output)
            assert hook.received == []
            hook.status = 200  # back up
            wait_until(
                lambda: states(db).get("sent", 0) == 20,
                "every notification sent once the receiver is up",
                120,
                lambda: f"{states(db)}\n{eng.output()}",
            )
        finally:
            eng.stop()
        keys = Counter(r.headers["idempotency-key"] for r in hook.received)
        assert set(keys) == expected_keys(db)
    finally:
        hook.stop()
