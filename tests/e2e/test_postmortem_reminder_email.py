"""An overdue action item's reminder by email through a real SMTP server (aiosmtpd), after
the incident was closed. The clock is moved and the engine run with Worker.run_due()."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.e2e.test_paging_email import Mailbox, mailbox
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

pytestmark = pytest.mark.e2e
__all__ = ["mailbox"]  # the SMTP server fixture, shared with test_paging_email.py


def test_an_action_item_reminder_arrives_by_email_after_close(
    alice: Api, db: Database, clock: ManualClock, mailbox: Mailbox
) -> None:
    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "users": [
                    {
                        "name": "alice",
                        "email": "alice@example.test",
                        "contact_methods": [
                            {"name": "mail", "kind": "email", "address": "alice@example.test"}
                        ],
                    }
                ]
            },
        )
    alice.post("/api/v1/incidents", json={"title": "Cert expired", "severity": "SEV-3"})
    r = alice.post(
        "/api/v1/action-items",
        json={
            "incident": "INC-1",
            "title": "Alert 14 days before expiry",
            "owner": "alice",
            "due": "2026-03-03T09:00:00Z",
            "priority": "P1",
            "kind": "detect",
        },
    )
    assert r.status_code == 201, r.text
    alice.post("/api/v1/incidents/1/resolve", json={})
    alice.post("/api/v1/incidents/1/status", json={"status": "closed"})
    worker = Worker(db, clock)
    clock.advance(hours=48)  # a day overdue; nothing ran in between
    for _ in range(3):
        worker.run_due()
        clock.advance(minutes=1)
    subjects = [m["Subject"] for m in mailbox.messages]
    # The engine ran late: one reminder for the latest stage, not a burst of three.
    assert len(subjects) == 1, subjects
    assert any(
        s.startswith("Overdue: action item 1 (Alert 14 days before expiry)") for s in subjects
    ), subjects
    assert all(m["To"] == "alice@example.test" for m in mailbox.messages)
