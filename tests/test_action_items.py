"""Action items through the API on both stores: created in the room or the postmortem,
owner/due/priority/kind/status, won't do with a reason, completion time, and the views
(mine, a team's, overdue)."""

from __future__ import annotations

from tests.conftest import Api
from tests.test_postmortems import declare, pm, resolve
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database


def item(api: Api, **kw: object) -> dict[str, object]:
    body = {"incident": "INC-1", "title": "Add disk alerts at 80%", **kw}
    r = api.post("/api/v1/action-items", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_follow_ups_from_the_room_join_the_postmortem(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    first = item(alice, owner="bob", due="2026-03-10", priority="P1", kind="detect")
    assert first["postmortem"] is None and first["status"] == "open"
    assert first["due_at"] == "2026-03-10T23:59:59Z" and first["kind"] == "detect"
    resolve(alice, db, clock)
    d = pm(alice)
    assert [i["id"] for i in d["action_items"]] == [first["id"]]
    later = item(alice, title="Runbook: disk full", kind="runbook")
    assert later["postmortem"] == d["id"]
    timeline = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    assert f"Action item {first['id']} added: Add disk alerts at 80%" in timeline


def test_status_changes_record_completion_and_wont_do_needs_a_reason(
    alice: Api, carol: Api, clock: ManualClock
) -> None:
    declare(alice)
    it = item(alice, owner="alice", due="2026-03-03", priority="P0")
    assert carol.post(f"/api/v1/action-items/{it['id']}/done").status_code == 403
    clock.advance(hours=5)
    r = alice.post(f"/api/v1/action-items/{it['id']}/done")
    assert r.json()["status"] == "done" and r.json()["completed_at"] == "2026-03-02T14:00:00Z"
    r = alice.patch(f"/api/v1/action-items/{it['id']}", json={"status": "in_progress"})
    assert r.json()["completed_at"] is None
    r = alice.patch(f"/api/v1/action-items/{it['id']}", json={"status": "wont_do"})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = alice.patch(
        f"/api/v1/action-items/{it['id']}",
        json={"status": "wont_do", "reason": "the service is retired next week"},
    )
    assert r.json()["status"] == "wont_do"


def test_views_mine_a_teams_and_overdue(
    alice: Api, bob: Api, db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"teams": [{"name": "payments", "members": ["bob"]}]})
    declare(alice)
    a = item(alice, owner="alice", due="2026-03-02", priority="P2")
    b = item(alice, owner="bob", due="2026-03-05", priority="P1")
    item(alice, title="unowned")
    mine = alice.get("/api/v1/action-items?owner=me").json()
    assert [i["id"] for i in mine] == [a["id"]]
    team = alice.get("/api/v1/action-items?team=payments").json()
    assert [i["id"] for i in team] == [b["id"]]
    assert alice.get("/api/v1/action-items?overdue=true").json() == []
    clock.set(clock.now().replace(day=3))
    overdue = alice.get("/api/v1/action-items?overdue=true").json()
    assert [i["id"] for i in overdue] == [a["id"]] and overdue[0]["overdue"]
    alice.post(f"/api/v1/action-items/{a['id']}/done")
    assert alice.get("/api/v1/action-items?overdue=true").json() == []
    assert len(alice.get("/api/v1/action-items?incident=INC-1").json()) == 3


def test_bad_input_names_the_field_and_private_incidents_hide_their_items(
    alice: Api, bob: Api
) -> None:
    declare(alice, private=True)
    for body, field in (
        ({"priority": "P9"}, "priority"),
        ({"kind": "blame"}, "kind"),
        ({"owner": "nobody"}, "owner"),
        ({"due": "next week"}, "due"),
        ({"tracker_url": "javascript:alert(1)"}, "tracker_url"),
        ({"title": ""}, "title"),
    ):
        r = alice.post("/api/v1/action-items", json={"incident": "INC-1", "title": "x", **body})
        assert r.status_code == 422, (body, r.text)
        assert field in r.json().get("field", ""), r.json()
    it = item(alice, tracker_url="https://github.com/acme/api/issues/7")
    assert it["tracker_url"] == "https://github.com/acme/api/issues/7"
    assert bob.get(f"/api/v1/action-items/{it['id']}").status_code == 404
    assert bob.get("/api/v1/action-items").json() == []
    assert alice.get("/api/v1/action-items/99999999999").status_code in (404, 422)
