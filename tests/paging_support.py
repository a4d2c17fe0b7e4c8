"""For the paging API, web and CLI tests: a real local webhook receiver (an http.server in
a thread that records every request and can be told to fail), and an organisation whose
pages land on it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import Api
from warroom.notify import channels

SECRET = "alice-hmac-secret-0123456789abcdef"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        return self.headers.get("x-warroom-signature") == channels.signature(secret, self.body)


class Receiver:
    """Records every POST. `failing[path] = 503` makes it answer that status for a path."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.failing: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.failing.get(self.path, 200)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.hits.append(Hit(self.path, headers, body, status))
                answer = b'{"ok": true}' if status < 300 else b'{"error": "receiver down"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def at(self, path: str, ok_only: bool = True) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path and (h.status < 300 or not ok_only)]


def organisation(hook: Receiver) -> dict[str, Any]:
    """payments: alice then bob on call weekly from T0 (Monday 09:00 UTC); its policy pages
    the on-call person, after 5 minutes bob, then the team channel. alice's pages go to a
    signed webhook, after 5 minutes also to a second one; bob's to an unsigned one."""
    return {
        "users": [
            {
                "name": "alice",
                "email": "alice@example.test",
                "timezone": "Europe/Berlin",
                "contact_methods": [
                    {
                        "name": "phone",
                        "kind": "webhook",
                        "address": hook.url + "/alice",
                        "secret": SECRET,
                    },
                    {"name": "pager", "kind": "webhook", "address": hook.url + "/alice-pager"},
                ],
                "notification_rules": [
                    {"method": "phone", "after_minutes": 0},
                    {"method": "pager", "after_minutes": 5},
                ],
            },
            {
                "name": "bob",
                "email": "bob@example.test",
                "contact_methods": [
                    {"name": "hook", "kind": "webhook", "address": hook.url + "/bob"}
                ],
            },
        ],
        "teams": [
            {
                "name": "payments",
                "channel": "#team-payments",
                "channel_url": hook.url + "/channel",
                "members": ["alice", "bob"],
            }
        ],
        "services": [{"name": "checkout", "owner": "payments", "escalation_policy": "payments"}],
        "schedules": [
            {
                "name": "payments",
                "team": "payments",
                "layers": [
                    {
                        "name": "primary",
                        "members": ["alice", "bob"],
                        "shift": "weekly",
                        "handoff": "Monday 09:00",
                        "start": "2026-03-02",
                    }
                ],
            }
        ],
        "escalation_policies": [
            {
                "name": "payments",
                "description": "Checkout and payments",
                "fallback": "payments",
                "levels": [
                    {"timeout_minutes": 5, "targets": [{"schedule": "payments"}]},
                    {"timeout_minutes": 10, "targets": [{"user": "bob"}]},
                ],
            }
        ],
    }


def apply(admin: Api, doc: dict[str, Any]) -> None:
    r = admin.post("/api/v1/config/apply", json={"config": doc})
    assert r.status_code == 200, r.text


def declare(api: Api, title: str = "Card payments fail", **kw: Any) -> dict[str, Any]:
    body = {"title": title, "severity": "SEV-1", "services": ["checkout"], **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())
