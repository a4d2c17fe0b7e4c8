"""Action item and postmortem due dates in each person's calendar feed, on both stores:
the oncall feed's provider hook (oncall.feeds) filled by the composition root with the
postmortems' items; only the person's own open items of incidents they may see; a moved
due date moves the event (stable UID); done items leave; schedule feeds carry none."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from tests.conftest import Api
from tests.test_postmortems import declare, resolve
from warroom.core.clock import ManualClock
from warroom.db.session import Database


def _feed(api: Api) -> list[Any]:
    r = api.post("/api/v1/oncall/feed")
    assert r.status_code in (200, 201), r.text
    body = api.client.get(r.json()["path"])
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/calendar")
    return [c for c in Calendar.from_ical(body.content).walk("VEVENT")]


def _item(api: Api, **kw: Any) -> int:
    body = {"incident": "INC-1", "priority": "P1", **kw}
    r = api.post("/api/v1/action-items", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_persons_feed_lists_their_open_items_and_postmortems_by_due_date(
    alice: Api, bob: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    resolve(alice, db, clock)  # SEV-1: a required postmortem owned by alice, due in 48 h
    mine = _item(alice, title="Canary for config", owner="alice", due="2026-03-10")
    done = _item(alice, title="Runbook for rollback", owner="alice", due="2026-03-11")
    _item(alice, title="Bob's item", owner="bob", due="2026-03-12")
    _item(alice, title="No due date", owner="alice")
    alice.post(f"/api/v1/action-items/{done}/done")
    # A private incident alice may not see: its item, owned by her, stays out.
    declare(bob, title="Private thing", private=True)
    with db.session() as s:
        from warroom.org.service import user_by_name
        from warroom.postmortems.models import ActionItem

        s.add(
            ActionItem(
                incident_id=2,
                title="Hidden",
                owner_id=user_by_name(s, "alice").id,
                due_at=clock.now(),
                priority="P2",
                created_by="bob",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    events = _feed(alice)
    by_uid = {str(e["uid"]): e for e in events}
    item_uid = f"action-item-{mine}@warroom"
    assert set(by_uid) == {item_uid, "postmortem-1@warroom"}, set(by_uid)
    ev = by_uid[item_uid]
    assert str(ev["summary"]) == "Action item due: Canary for config (INC-1)"
    assert ev.decoded("dtend").isoformat() == "2026-03-10T23:59:59+00:00"
    assert "Priority: P1" in str(ev["description"])
    assert str(ev["url"]).endswith("/action-items?incident=INC-1")
    pm = by_uid["postmortem-1@warroom"]
    assert str(pm["summary"]) == "Postmortem due: INC-1 Checkout errors"
    assert pm.decoded("dtend").isoformat() == "2026-03-04T09:45:00+00:00"
    # A moved due date moves the same event.
    alice.patch(f"/api/v1/action-items/{mine}", json={"due": "2026-03-20"})
    moved = {str(e["uid"]): e for e in _feed(alice)}[item_uid]
    assert moved.decoded("dtend").isoformat() == "2026-03-20T23:59:59+00:00"
    # Bob's feed has his item only.
    assert [str(e["summary"]) for e in _feed(bob)] == ["Action item due: Bob's item (INC-1)"]
