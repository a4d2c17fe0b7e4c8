"""Reminders for postmortems and action items, received by real local webhook receivers:
before the due time, at it and while overdue (escalating to the owning team's channel,
then the admins), after the incident is closed too, until published or done. Time is
moved with the injected clock and the engine run with Worker.run_due()."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

SECRET = "alice-reminder-secret-0123456789"


def organisation(db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]) -> None:
    hook = {"kind": "webhook"}
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
                            {
                                **hook,
                                "name": "hook",
                                "address": hooks["alice"].url,
                                "secret": SECRET,
                            }
                        ],
                    },
                    {
                        "name": "admin",
                        "email": "admin@warroom.local",
                        "role": "admin",
                        "contact_methods": [{**hook, "name": "hook", "address": hooks["bob"].url}],
                    },
                ],
                "teams": [
                    {
                        "name": "payments",
                        "channel_url": hooks["channel"].url,
                        "members": ["alice"],
                    }
                ],
                "services": [{"name": "checkout", "owner": "payments"}],
            },
        )


def bodies(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [h.json() for h in hook.received]


def test_postmortem_reminders_keep_going_after_close_until_published(
    alice: Api, bob: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    organisation(db, clock, hooks)
    worker = Worker(db, clock)
    alice.post(
        "/api/v1/incidents",
        json={"title": "Checkout errors", "severity": "SEV-1", "services": ["checkout"]},
    )
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    clock.advance(minutes=45)
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back."})
    worker.run_due()
    due = alice.get("/api/v1/postmortems/1").json()["due_at"]
    assert due == "2026-03-04T09:45:00Z"
    alice.post("/api/v1/incidents/1/status", json={"status": "closed"})
    assert alice.get("/api/v1/incidents/1").json()["status"] == "closed"

    clock.advance(hours=24 - 1)  # one hour before the early reminder: nothing
    worker.run_due()
    assert hooks["alice"].received == []
    clock.advance(hours=1)  # 24 h before the due time
    worker.run_due()
    (first,) = bodies(hooks["alice"])
    assert first["event"] == "postmortem_reminder" and first["stage"] == "before"
    assert first["text"].startswith("Reminder: the postmortem of INC-1 Checkout errors is due")
    assert hooks["alice"].received[0].signed_by(SECRET)
    assert hooks["channel"].received == [] and hooks["bob"].received == []

    clock.advance(hours=24)  # exactly the due time: due, not overdue
    worker.run_due()
    assert [b["stage"] for b in bodies(hooks["alice"])] == ["before", "due"]
    assert hooks["channel"].received == []
    assert alice.get("/api/v1/postmortems/1").json()["overdue"] is False

    clock.advance(hours=24)  # the first overdue reminder: the team's channel too
    worker.run_due()
    assert [b["stage"] for b in bodies(hooks["alice"])] == ["before", "due", "overdue"]
    assert [b["stage"] for b in bodies(hooks["channel"])] == ["overdue"]
    assert hooks["bob"].received == []
    assert alice.get("/api/v1/postmortems?overdue=true").json()[0]["incident"] == "INC-1"

    clock.advance(hours=24)  # the second: the admins too
    worker.run_due()
    assert len(hooks["alice"].received) == 4 and len(hooks["channel"].received) == 2
    assert [b["stage"] for b in bodies(hooks["bob"])] == ["overdue"]
    # Each delivery carries its own idempotency key: a retry would be recognisable.
    keys = [h.headers["idempotency-key"] for h in hooks["alice"].received]
    assert keys == [h.json()["idempotency_key"] for h in hooks["alice"].received]
    assert len(set(keys)) == len(keys)

    # Published: no more reminders.
    alice.patch(
        "/api/v1/postmortems/1",
        json={
            "content": {
                "impact": "- 15% of checkouts failed for 45 minutes",
                "whys": [{"why": f"Why {n}?", "because": f"Because {n}."} for n in range(3)],
                "root_cause": "No canary stage.",
                "no_actions_reason": "the canary stage shipped during the incident",
            }
        },
    )
    alice.post("/api/v1/postmortems/1/submit")
    bob.post("/api/v1/postmortems/1/reviews", json={"verdict": "approve"})
    r = alice.post("/api/v1/postmortems/1/publish")
    assert r.status_code == 200, r.text
    clock.advance(hours=72)
    worker.run_due()
    assert len(hooks["alice"].received) == 4


def test_action_item_reminders_until_done_and_a_moved_due_time_restarts_them(
    alice: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    organisation(db, clock, hooks)
    worker = Worker(db, clock)
    alice.post("/api/v1/incidents", json={"title": "Disk full", "severity": "SEV-4"})
    r = alice.post(
        "/api/v1/action-items",
        json={
            "incident": "INC-1",
            "title": "Alert at 80% disk",
            "owner": "alice",
            "due": "2026-03-04T09:00:00Z",
            "priority": "P1",
        },
    )
    item = r.json()["id"]
    alice.post("/api/v1/incidents/1/resolve", json={})
    alice.post("/api/v1/incidents/1/status", json={"status": "closed"})
    clock.advance(hours=24)  # 24 h before
    worker.run_due()
    (b,) = bodies(hooks["alice"])
    assert b["event"] == "action_item_reminder" and b["action_item"] == item
    assert b["text"] == (
        f"Reminder: action item {item} (Alert at 80% disk) of INC-1 is due 2026-03-04 09:00 UTC"
    )
    # Moved a day later: the old chain stops, the new one starts.
    alice.patch(f"/api/v1/action-items/{item}", json={"due": "2026-03-05T09:00:00Z"})
    clock.advance(hours=24)  # the old due time: nothing
    worker.run_due()
    assert [b["stage"] for b in bodies(hooks["alice"])] == ["before", "before"]
    clock.advance(hours=24)
    worker.run_due()
    assert [b["stage"] for b in bodies(hooks["alice"])] == ["before", "before", "due"]
    alice.post(f"/api/v1/action-items/{item}/done")
    clock.advance(hours=96)
    worker.run_due()
    assert len(hooks["alice"].received) == 3


def test_action_items_are_mirrored_to_a_tracker_by_a_signed_webhook(
    alice: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("TRACKER_KEY", "tracker-secret-0123456789")
    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "postmortems": {
                    "action_items_webhook_url": hooks["channel"].url + "/tracker",
                    "action_items_webhook_secret_env": "TRACKER_KEY",
                }
            },
        )
    worker = Worker(db, clock)
    alice.post("/api/v1/incidents", json={"title": "Disk full", "severity": "SEV-4"})
    r = alice.post(
        "/api/v1/action-items",
        json={"incident": "INC-1", "title": "Log rotation", "owner": "alice", "priority": "P2"},
    )
    item = r.json()["id"]
    worker.run_due()
    clock.advance(minutes=5)
    alice.post(f"/api/v1/action-items/{item}/done")
    worker.run_due()
    hits = hooks["channel"].received
    assert [h.json()["event"] for h in hits] == ["action_item.created", "action_item.changed"]
    assert all(h.signed_by("tracker-secret-0123456789") for h in hits)
    assert hits[1].json()["action_item"]["status"] == "done"
    assert hits[1].json()["action_item"]["completed_at"] == "2026-03-02T09:05:00Z"
    assert hits[0].headers["idempotency-key"] != hits[1].headers["idempotency-key"]
    with db.session() as s:
        bad = {"postmortems": {"action_items_webhook_url": "ftp://x"}}
        try:
            config.apply(s, clock, bad)
        except config.ConfigInvalid as exc:
            assert "action_items_webhook_url" in str(exc.to_dict())
        else:
            raise AssertionError("an ftp URL was accepted")
