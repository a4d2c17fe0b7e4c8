"""For the paging API, web and CLI tests: an organisation whose pages land on a real local
webhook receiver (tests/receivers.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.receivers import WebhookReceiver

SECRET = "alice-hmac-secret-0123456789abcdef"


Receiver = WebhookReceiver


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
