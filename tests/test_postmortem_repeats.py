"""Repeats on both stores: similar past incidents (services, alert fingerprints, title
and root-cause words) with their postmortems and open action items, and the room's note
when a new incident repeats one whose items are still open."""

from __future__ import annotations

from tests.conftest import Api
from tests.test_postmortems import declare, resolve
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


def test_a_repeat_lists_the_past_incident_and_says_its_items_are_open(
    alice: Api, bob: Api, db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"services": [{"name": "payments"}, {"name": "search"}]})
    declare(alice, title="Payment gateway timeouts", services=["payments"])
    resolve(alice, db, clock)
    alice.patch(
        "/api/v1/postmortems/1", json={"content": {"root_cause": "Connection pool exhaustion"}}
    )
    r = alice.post(
        "/api/v1/action-items",
        json={"incident": "INC-1", "title": "Pool size alerts", "owner": "bob", "priority": "P1"},
    )
    item = r.json()["id"]
    declare(alice, title="Search is slow", services=["search"])  # unrelated
    clock.advance(days=3)
    declare(alice, title="Gateway timeouts on payment", services=["payments"])
    Worker(db, clock).run_due()
    out = alice.get("/api/v1/postmortems/3/similar").json()
    assert out["repeats_open"] is True
    (first,) = out["similar"]
    assert first["incident"] == "INC-1" and first["postmortem"]["status"] == "draft"
    assert "same services: payments" in first["reasons"]
    assert "similar title: gateway, payment, timeouts" in first["reasons"]
    assert first["open_action_items"] == [
        {"id": item, "title": "Pool size alerts", "owner": "bob", "status": "open"}
    ]
    notes = [e["text"] for e in alice.get("/api/v1/incidents/3").json()["timeline"]]
    assert any(
        t.startswith("This looks like a repeat of INC-1") and f"#{item} Pool size alerts" in t
        for t in notes
    ), notes
    # Once the item is done, a new repeat is listed but not called out.
    alice.post(f"/api/v1/action-items/{item}/done")
    declare(alice, title="Payment gateway timeouts again", services=["payments"])
    Worker(db, clock).run_due()
    assert alice.get("/api/v1/postmortems/4/similar").json()["repeats_open"] is False
    notes = [e["text"] for e in alice.get("/api/v1/incidents/4").json()["timeline"]]
    assert not any(t.startswith("This looks like a repeat") for t in notes)
    assert alice.get("/api/v1/postmortems/2/similar").json()["similar"] == []
