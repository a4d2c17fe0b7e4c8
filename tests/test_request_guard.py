"""Request bodies are bounded and API writes need a valid token before the body is read:
an anonymous 400 MB upload costs the server nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.http import MAX_BODY


def call(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, int]:
    """Sends one request straight to the ASGI app; returns (status, body chunks read)."""
    read = 0
    sent: list[dict[str, Any]] = []
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        body = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": body, "more_body": bool(queue)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], read


def test_an_anonymous_write_is_refused_before_its_body_is_read(app: Any, people: Any) -> None:
    chunk = b"x" * 65536
    status, read = call(
        app, "POST", "/api/v1/incidents", {"content-type": "application/json"}, [chunk] * 8
    )
    assert status == 401 and read == 0
    status, read = call(
        app,
        "POST",
        "/api/v1/incidents",
        {"authorization": "Bearer wr_not_a_token", "content-type": "application/json"},
        [chunk] * 8,
    )
    assert status == 401 and read == 0


def test_a_declared_huge_body_is_refused_before_it_is_read(
    app: Any, people: dict[str, str]
) -> None:
    headers = {"authorization": f"Bearer {people['alice']}", "content-length": str(400 << 20)}
    status, read = call(app, "POST", "/api/v1/incidents", headers, [b"{}"])
    assert status == 413 and read == 0
    status, read = call(app, "POST", "/login", {"content-length": str(MAX_BODY + 1)}, [b""])
    assert status == 413 and read == 0


def test_a_streamed_body_stops_at_the_limit(app: Any, people: dict[str, str]) -> None:
    headers = {"authorization": f"Bearer {people['alice']}", "content-type": "application/json"}
    chunks = [b"[" + b"1," * 40000] * 40  # about 3 MB, no Content-Length
    status, read = call(app, "POST", "/api/v1/incidents", headers, chunks)
    assert status == 413 and read < len(chunks)


def test_ordinary_requests_pass(alice: Api, client: TestClient) -> None:
    r = alice.post("/api/v1/incidents", json={"title": "Cart", "severity": "SEV-2"})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/incidents", json={"title": "Cart", "severity": "SEV-2"})
    assert r.status_code == 401 and "bearer" in r.json()["error"]
    assert r.headers["www-authenticate"] == "Bearer"
