"""A page by email through a real SMTP server (aiosmtpd), with a working acknowledge
link, and a page by HMAC-signed webhook to a local receiver that checks the signature.
warroom runs over real HTTP with its engine threads, on real time."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.e2e._programs import admin_token, serve, wait_until
from tests.receivers import WebhookReceiver
from warroom.app import create_app
from warroom.core.clock import SystemClock
from warroom.db.session import Database
from warroom.engine.worker import start_engine

pytestmark = pytest.mark.e2e

SECRET = "bob-shared-secret-for-hmac-0001"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WARROOM_SMTP_PORT", str(port))
    monkeypatch.setenv("WARROOM_SMTP_FROM", "pages@warroom.example")
    yield box
    controller.stop()


@pytest.fixture
def warroom(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    clock = SystemClock()
    token = admin_token(db)
    app = create_app(db, clock)
    with serve(app) as url:
        monkeypatch.setenv("WARROOM_BASE_URL", url)
        workers = start_engine(db, clock, poll_seconds=0.2, deliveries=2)
        try:
            with httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
                trust_env=False,
            ) as client:
                yield client
        finally:
            for w in workers:
                w.stop()


def apply(client: httpx.Client, hook_url: str) -> None:
    doc = {
        "users": [
            {
                "name": "alice",
                "email": "alice@example.test",
                "contact_methods": [
                    {"name": "mail", "kind": "email", "address": "alice@example.test"}
                ],
            },
            {
                "name": "bob",
                "email": "bob@example.test",
                "contact_methods": [
                    {"name": "hook", "kind": "webhook", "address": hook_url, "secret": SECRET}
                ],
            },
        ],
        "teams": [{"name": "payments", "members": ["alice", "bob"]}],
        "services": [{"name": "checkout", "owner": "payments", "escalation_policy": "payments"}],
        "escalation_policies": [
            {
                "name": "payments",
                "levels": [
                    {"timeout_minutes": 30, "targets": [{"user": "alice"}, {"user": "bob"}]}
                ],
            }
        ],
    }
    r = client.post("/api/v1/config/apply", json={"config": doc})
    assert r.status_code == 200, r.text


def test_email_page_has_a_working_acknowledge_link_and_webhook_is_signed(
    warroom: httpx.Client, mailbox: Mailbox
) -> None:
    hook = WebhookReceiver().start()
    try:
        apply(warroom, hook.url + "/hook")
        r = warroom.post(
            "/api/v1/incidents",
            json={"title": "Checkout is down", "severity": "SEV-1", "services": ["checkout"]},
        )
        assert r.status_code == 201, r.text
        ref = r.json()["id"]
        msg = wait_until(lambda: mailbox.messages[0] if mailbox.messages else None, "the email")
        got = wait_until(lambda: hook.received[0] if hook.received else None, "the webhook")
    finally:
        hook.stop()

    # The webhook body is signed with bob's secret.
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-warroom-signature"], expected)
    assert got.json()["incident"]["title"] == "Checkout is down"

    # The email: subject, idempotency key as Message-ID and header, the ack link.
    assert msg["To"] == "alice@example.test"
    assert "Checkout is down" in msg["Subject"] and "SEV-1" in msg["Subject"]
    key = msg["X-Warroom-Idempotency-Key"]
    assert key and key.startswith("page:")
    assert key.replace(":", ".") in msg["Message-ID"]
    body = msg.get_content()
    link = re.search(r"Acknowledge: (\S+)", body)
    assert link, body
    url = link.group(1)
    assert url.startswith(str(warroom.base_url).rstrip("/") + "/page/")

    # Opening the link shows the page without acting (mail scanners prefetch links).
    with httpx.Client(trust_env=False, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200
        assert "Checkout is down" in page.text
        assert warroom.get(f"/api/v1/incidents/{ref}").json()["milestones"]["acknowledged"] is None
        done = browser.post(url)
        assert done.status_code == 200, done.text
    inc = warroom.get(f"/api/v1/incidents/{ref}").json()
    assert inc["milestones"]["acknowledged"] is not None
    texts = [e["text"] for e in inc["timeline"]]
    assert any(t.startswith("Page acknowledged by alice") for t in texts)
    assert any(t.startswith("Notified alice by email") for t in texts)
    assert any(t.startswith("Notified bob by webhook") for t in texts)
