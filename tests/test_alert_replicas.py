"""Two `warroom serve --no-engine` replicas on one store receive the same new alerts at
once, as when a load balancer spreads a storm: every request is answered 202, and each
dedup key ends up as one open alert that counts every event."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Api, LiveServer, serve, stop
from warroom.alerts.models import Alert
from warroom.app import create_app
from warroom.core.clock import ManualClock
from warroom.db.session import Database

KEYS = 120
SENDS_PER_REPLICA = 2


@pytest.fixture
def replicas(db: Database, store_url: str, clock: ManualClock) -> Iterator[list[LiveServer]]:
    other = Database(store_url)
    servers = [serve(create_app(db, clock), "on"), serve(create_app(other, clock), "on")]
    yield servers
    for s in servers:
        stop(s)
    other.dispose()


def test_two_replicas_take_the_same_new_alerts_at_once(
    admin: Api, replicas: list[LiveServer], db: Database
) -> None:
    r = admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "payments"}],
                "services": [{"name": "checkout", "owner": "payments"}],
                "integrations": [{"name": "pd", "kind": "pagerduty", "service": "checkout"}],
            }
        },
    )
    assert r.status_code == 200, r.text
    key = next(c["key"] for c in r.json()["changes"] if c["kind"] == "integrations")

    def body(n: int) -> dict[str, Any]:
        return {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": f"pod-{n}",
            "payload": {"summary": f"pod-{n} down", "source": "k8s", "severity": "critical"},
        }

    # Both replicas get every key, each twice, interleaved, from 16 senders at once.
    sends = [
        (replica.url, n)
        for n in range(KEYS)
        for _ in range(SENDS_PER_REPLICA)
        for replica in replicas
    ]
    statuses: Counter[int] = Counter()
    # One client per sender, as 16 separate monitoring hosts would be: a client's pool
    # shared by threads can hand a socket to one thread as another closes it.
    local = threading.local()
    clients: list[httpx.Client] = []

    def send(item: tuple[str, int]) -> int:
        url, n = item
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(timeout=30)
            clients.append(http)
        return http.post(f"{url}/v2/enqueue", json=body(n)).status_code

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses.update(pool.map(send, sends))
    finally:
        for c in clients:
            c.close()
    assert statuses == {202: len(sends)}
    with db.read() as s:
        rows = list(s.execute(select(Alert.dedup_key, Alert.status, Alert.occurrences)))
        incidents = s.scalar(select(func.count(func.distinct(Alert.incident_id))))
    assert len(rows) == KEYS  # one alert per key: dedup held across replicas
    assert {status for _, status, _ in rows} == {"triggered"}
    assert sum(n for _, _, n in rows) == len(sends)  # every event counted once
    assert incidents is not None and incidents >= 1
