"""Dozens of people change one incident at the same moment, over real HTTP on a served
app: every request is answered (never 500), the timeline's status and severity lines
form one chain (each `from` is the previous `to`), and the incident ends with exactly
one Incident Commander. On PostgreSQL this needs the incident's row lock; SQLite
serialises whole write transactions."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Api, LiveServer, serve, stop
from warroom.app import create_app
from warroom.core.clock import ManualClock
from warroom.db.session import Database

RESPONDERS = ("alice", "bob", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


@pytest.fixture
def server(db: Database, clock: ManualClock) -> Iterator[LiveServer]:
    live = serve(create_app(db, clock))
    yield live
    stop(live)


def test_concurrent_changes_to_one_incident_keep_one_chain_and_one_commander(
    admin: Api, server: LiveServer, people: dict[str, str]
) -> None:
    r = admin.post("/api/v1/incidents", json={"title": "Checkout down", "severity": "SEV-3"})
    assert r.status_code == 201, r.text
    base = f"{server.url}/api/v1/incidents/1"
    moves: list[tuple[str, dict[str, str]]] = []
    for i in range(48):
        kind = i % 3
        if kind == 0:
            status = ("identified", "monitoring", "investigating")[i // 3 % 3]
            moves.append(("status", {"status": status}))
        elif kind == 1:
            severity = ("SEV-1", "SEV-2", "SEV-3")[i // 3 % 3]
            moves.append(("severity", {"severity": severity, "reason": "load test"}))
        else:
            user = RESPONDERS[i // 3 % len(RESPONDERS)]
            moves.append(("roles", {"role": "commander", "user": user}))
    local = threading.local()
    clients: list[httpx.Client] = []
    headers = {"Authorization": f"Bearer {people['admin']}"}

    def send(move: tuple[str, dict[str, str]]) -> int:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(timeout=60, headers=headers)
            clients.append(http)
        path, body = move
        return http.post(f"{base}/{path}", json=body).status_code

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = Counter(pool.map(send, moves))
    finally:
        for c in clients:
            c.close()
    assert set(answers) <= {200, 409}, answers  # 409: a status move the lifecycle refuses
    assert answers[200] >= len(moves) // 2, answers

    incident = admin.get("/api/v1/incidents/1").json()
    events = incident["timeline"]
    for kind, first in (("status", "investigating"), ("severity", "SEV-3")):
        chain = [e["data"] for e in events if e["kind"] == kind and "from" in e["data"]]
        assert chain, kind
        previous = first
        for step in chain:
            assert step["from"] == previous, (kind, chain)
            previous = step["to"]
    commanders = [
        r for r in incident["role_history"] if r["role"] == "commander" and r["ended_at"] is None
    ]
    assert len(commanders) == 1, incident["role_history"]
    assert incident["status"] == previous_of(events, "status", "investigating")
    assert incident["severity"] == previous_of(events, "severity", "SEV-3")


def previous_of(events: list[dict[str, object]], kind: str, first: str) -> object:
    last = first
    for e in events:
        data = e["data"]
        if e["kind"] == kind and isinstance(data, dict) and "to" in data:
            last = data["to"]
    return last
