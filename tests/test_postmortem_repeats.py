"""Repeats on both stores: similar past incidents (services, alert fingerprints, title
and root-cause words) with their postmortems and open action items, and the room's note
when a new incident repeats one whose items are still open."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

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


def _am(group: str, name: str, service: str, status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{group="' + group + '"}',
        "status": status,
        "receiver": "warroom",
        "groupLabels": {"group": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "service": service, "severity": "critical"},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": "2026-03-02T08:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"fp-{name}",
            }
        ],
    }


def test_an_alert_joining_later_with_a_past_fingerprint_makes_the_room_say_so_once(
    client: TestClient, admin: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"services": [{"name": "checkout"}, {"name": "search"}]})
    key = admin.post(
        "/api/v1/integrations", json={"name": "am", "kind": "alertmanager", "service": None}
    ).json()["key"]
    url = f"/integrations/alertmanager/{key}"
    assert client.post(url, json=_am("g1", "DiskFull", "checkout")).status_code == 202
    item = alice.post(
        "/api/v1/action-items",
        json={"incident": "INC-1", "title": "Alert at 80% disk", "owner": "bob", "priority": "P1"},
    ).json()["id"]
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Cleaned up."})
    clock.advance(days=2)
    assert client.post(url, json=_am("g2", "QueueLag", "search")).status_code == 202
    worker = Worker(db, clock)
    worker.run_due()

    def repeat_notes() -> list[str]:
        return [
            e["text"]
            for e in alice.get("/api/v1/incidents/2").json()["timeline"]
            if e["text"].startswith("This looks like a repeat")
        ]

    assert repeat_notes() == []  # nothing alike yet
    # The past incident's alert joins the new one: now it repeats INC-1.
    assert client.post(url, json=_am("g2", "DiskFull", "search")).status_code == 202
    alerts = alice.get("/api/v1/alerts").json()["items"]
    assert {a["incident"] for a in alerts if a["summary"] == "DiskFull on search"} == {"INC-2"}
    worker.run_due()
    (note,) = repeat_notes()
    assert "INC-1 (same alerts: fp-DiskFull)" in note and f"#{item} Alert at 80% disk" in note
    # Another alert of that fingerprint: INC-1 is not named again.
    client.post(url, json=_am("g2", "DiskFull", "search", status="resolved"))
    client.post(url, json=_am("g2", "DiskFull", "search"))
    worker.run_due()
    assert len(repeat_notes()) == 1
