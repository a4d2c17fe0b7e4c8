"""Debian's Alertmanager keeps a Watchdog alert firing into warroom, whose heartbeat
monitor counts each notification as a ping; Alertmanager is then stopped, and warroom's
engine (real time, a live server) raises the silence alert after interval + grace and
pages the on-call person's webhook.

The monitor's interval is 3 s with 2 s of grace, and Alertmanager repeats the Watchdog
every second, so the whole test takes a few seconds; it waits by polling state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._programs import admin_token, serve, start_alertmanager, wait_until
from tests.paging_support import organisation
from tests.receivers import WebhookReceiver
from warroom.app import create_app
from warroom.core.clock import SystemClock
from warroom.db.session import Database
from warroom.engine.worker import start_engine

pytestmark = pytest.mark.e2e

DEADLINE = 20.0  # seconds any awaited state may take


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def warroom(db: Database, hook: WebhookReceiver) -> Iterator[tuple[httpx.Client, str]]:
    """warroom on real time with its engine running; the paging organisation, a 3 s + 2 s
    heartbeat monitor and an Alertmanager integration whose Watchdog pings it."""
    token = admin_token(db)
    clock = SystemClock()
    workers = start_engine(db, clock, poll_seconds=0.1, deliveries=1)
    try:
        with (
            serve(create_app(db, clock)) as url,
            httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
                trust_env=False,
            ) as client,
        ):
            doc = organisation(hook)
            doc["heartbeats"] = [
                {"name": "prometheus-eu", "service": "checkout", "interval": "3s", "grace": "2s"}
            ]
            doc["integrations"] = [
                {
                    "name": "prometheus",
                    "kind": "alertmanager",
                    "service": "checkout",
                    "heartbeat": {"alert": "Watchdog", "monitor": "prometheus-eu"},
                }
            ]
            r = client.post("/api/v1/config/apply", json={"config": doc})
            assert r.status_code == 200, r.text
            key = next(c["key"] for c in r.json()["changes"] if c["kind"] == "integrations")
            yield client, f"{url}/integrations/alertmanager/{key}"
    finally:
        for w in workers:
            w.stop()


def am_config(webhook: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "warroom",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1s",
        },
        "receivers": [
            {"name": "warroom", "webhook_configs": [{"url": webhook, "send_resolved": True}]}
        ],
    }


def test_a_silent_watchdog_pages_after_interval_and_grace(
    warroom: tuple[httpx.Client, str], hook: WebhookReceiver, tmp_path: Path
) -> None:
    client, endpoint = warroom
    am, program = start_alertmanager(am_config(endpoint), tmp_path, DEADLINE)
    try:
        now = dt.datetime.now(dt.UTC)
        watchdog = {
            "labels": {"alertname": "Watchdog", "severity": "none"},
            "annotations": {"summary": "always firing, so its absence pages"},
            "startsAt": now.isoformat().replace("+00:00", "Z"),
            "endsAt": (now + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        }
        assert am.post("/api/v2/alerts", json=[watchdog]).status_code == 200

        def pinged_repeatedly() -> dict[str, Any] | None:
            hb = client.get("/api/v1/heartbeats/prometheus-eu").json()
            return hb if len(hb["pings"]) >= 3 else None

        hb = wait_until(pinged_repeatedly, "three Watchdog pings", DEADLINE, program.output)
        assert hb["state"] == "up" and hb["last_ping_source"] == "alertmanager"
        assert client.get("/api/v1/alerts").json()["items"] == []  # never an alert
        assert hook.received == []
    finally:
        program.stop()
        am.close()

    # Alertmanager is gone: after interval + grace the engine takes the monitor down.
    def down() -> dict[str, Any] | None:
        hb = client.get("/api/v1/heartbeats/prometheus-eu").json()
        return hb if hb["outages"] else None

    hb = wait_until(down, "the monitor to go down", DEADLINE)
    assert hb["state"] == "down"
    last = dt.datetime.fromisoformat(hb["last_ping_at"].replace("Z", "+00:00"))
    started = dt.datetime.fromisoformat(hb["outages"][0]["started_at"].replace("Z", "+00:00"))
    assert started == last + dt.timedelta(seconds=5)  # the deadline, not when it was seen
    [alert] = client.get("/api/v1/alerts").json()["items"]
    assert alert["dedup_key"] == "heartbeat:prometheus-eu" and alert["incident"]
    assert alert["summary"].startswith("No heartbeat from prometheus-eu for ")

    def paged() -> list[Any] | None:
        hits = [h for h in hook.received if "prometheus-eu" in str(h.json())]
        return hits or None

    hits = wait_until(paged, "the on-call person's page", DEADLINE)
    assert hits[0].path in ("/alice", "/bob")  # whoever the payments schedule has on call
