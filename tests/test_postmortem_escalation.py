"""Reminders escalate as the issue asks, on both stores: before and at the due time to
the owner, then (overdue) to the owning team's lead and its channel, then to the admins;
each person reached as a page reaches them (their notification rules, delays included),
and a delayed delivery sends nothing once the item is done. Team leads come from config
as code (`teams[].lead`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


@pytest.fixture
def admin_hook() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def organisation(
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    admin_hook: WebhookReceiver,
    lead: str = "bob",
) -> None:
    def hook(name: str, url: str) -> dict[str, str]:
        return {"name": name, "kind": "webhook", "address": url}

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
                            hook("chat", hooks["alice"].url),
                            hook("phone", hooks["alice2"].url),
                        ],
                        # Like a page: the chat hook at once, the phone 10 minutes later.
                        "notification_rules": [
                            {"method": "chat", "after_minutes": 0},
                            {"method": "phone", "after_minutes": 10},
                        ],
                    },
                    {
                        "name": "bob",
                        "email": "bob@example.test",
                        "contact_methods": [hook("chat", hooks["bob"].url)],
                    },
                    {
                        "name": "admin",
                        "email": "admin@warroom.local",
                        "role": "admin",
                        "contact_methods": [hook("chat", admin_hook.url)],
                    },
                ],
                "teams": [
                    {
                        "name": "payments",
                        "channel_url": hooks["channel"].url,
                        "members": ["alice", "bob"],
                        "lead": lead,
                    }
                ],
                "services": [{"name": "checkout", "owner": "payments"}],
            },
        )


def stages(hook: WebhookReceiver) -> list[str]:
    return [h.json()["stage"] for h in hook.received]


def test_overdue_postmortems_escalate_to_the_lead_then_the_admins(
    alice: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    admin_hook: WebhookReceiver,
) -> None:
    organisation(db, clock, hooks, admin_hook)
    assert {t["name"]: t["lead"] for t in alice.get("/api/v1/teams").json()} == {"payments": "bob"}
    worker = Worker(db, clock)
    alice.post(
        "/api/v1/incidents",
        json={"title": "Checkout errors", "severity": "SEV-1", "services": ["checkout"]},
    )
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    clock.advance(minutes=45)
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back."})
    worker.run_due()
    assert alice.get("/api/v1/postmortems/1").json()["owner"] == "alice"

    clock.advance(hours=24)  # 24 h before the due time: the owner's first rule only
    worker.run_due()
    assert stages(hooks["alice"]) == ["before"] and stages(hooks["alice2"]) == []
    clock.advance(minutes=10)  # ... then the second, as her rules say
    worker.run_due()
    assert stages(hooks["alice2"]) == ["before"]
    assert hooks["bob"].received == [] and hooks["channel"].received == []

    clock.advance(hours=24, minutes=-10)  # due: still the owner only
    worker.run_due()
    assert stages(hooks["alice"]) == ["before", "due"]
    assert hooks["bob"].received == [] and admin_hook.received == []

    clock.advance(hours=24)  # first overdue: the team's lead and channel too
    worker.run_due()
    assert stages(hooks["bob"]) == ["overdue"] and stages(hooks["channel"]) == ["overdue"]
    assert admin_hook.received == []
    body = hooks["bob"].received[0].json()
    assert body["event"] == "postmortem_reminder" and body["incident"] == "INC-1"
    assert body["text"].startswith("Overdue: the postmortem of INC-1")

    clock.advance(hours=24)  # second overdue: the admins too
    worker.run_due()
    assert stages(admin_hook) == ["overdue"]
    assert stages(hooks["bob"]) == ["overdue", "overdue"]
    clock.advance(minutes=10)
    worker.run_due()
    assert stages(hooks["alice2"]) == ["before", "due", "overdue", "overdue"]


def test_a_lead_who_owns_it_is_reached_once_and_a_delayed_delivery_stops_when_done(
    alice: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    admin_hook: WebhookReceiver,
) -> None:
    organisation(db, clock, hooks, admin_hook, lead="alice")
    worker = Worker(db, clock)
    # No services: the owning team is the owner's own.
    alice.post("/api/v1/incidents", json={"title": "Disk full", "severity": "SEV-4"})
    r = alice.post(
        "/api/v1/action-items",
        json={
            "incident": "INC-1",
            "title": "Alert at 80% disk",
            "owner": "alice",
            "due": "2026-03-03T09:00:00Z",
            "priority": "P1",
        },
    )
    item = r.json()["id"]
    clock.advance(hours=48)  # past due: the first overdue reminder
    worker.run_due()
    assert stages(hooks["alice"]) == ["overdue"]  # owner and lead: once
    assert stages(hooks["channel"]) == ["overdue"]
    alice.post(f"/api/v1/action-items/{item}/done")
    clock.advance(minutes=10)  # the phone delivery falls due after the item was done
    worker.run_due()
    assert hooks["alice2"].received == []
    clock.advance(hours=72)
    worker.run_due()
    assert len(hooks["alice"].received) == 1


def test_an_unknown_lead_is_refused_naming_the_field(
    db: Database, clock: ManualClock, people: dict[str, str]
) -> None:
    with db.session() as s, pytest.raises(config.ConfigInvalid) as exc:
        config.apply(s, clock, {"teams": [{"name": "ops", "lead": "nobody"}]})
    problems: Any = exc.value.to_dict()
    assert "lead" in str(problems) and "nobody" in str(problems)
