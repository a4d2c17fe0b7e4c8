"""`warroom serve --demo` loads a living sample organisation."""

from __future__ import annotations

from tests.conftest import Api
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.demo import load_demo


def test_demo_loads_organisation_incidents_and_changes(
    db: Database, clock: ManualClock, client: object, people: dict[str, str], admin: Api
) -> None:
    assert load_demo(db, clock) == 3
    assert load_demo(db, clock) == 0  # a second start adds nothing
    items = admin.get("/api/v1/incidents").json()["items"]
    assert [i["status"] for i in items] == ["investigating", "resolved", "resolved"]
    first = admin.get("/api/v1/incidents/1").json()
    assert first["roles"]["commander"] == "alice" and first["duration_seconds"] == 54 * 60
    changes = admin.get("/api/v1/incidents/1/changes").json()
    assert changes[0]["summary"].startswith("Deploy payments-api") and changes[0]["direct"]
    assert {s["name"] for s in admin.get("/api/v1/services").json()} >= {"checkout", "kafka"}
