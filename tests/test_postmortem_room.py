"""The incident room's after-incident half, on both stores: stars on timeline events
(service-checked roles, the API and the room's toggle), the drafted timeline opening with
them, and the room's postmortem panel: state, owner, due, link, "Start postmortem" for a
recommended one, and similar incidents with their open action items."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_postmortems import declare, pm, resolve
from tests.test_web import Browser, give_password, login
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


def _put(api: Api, path: str) -> Any:
    return api.client.put(path, headers={"Authorization": f"Bearer {api.token}"})


def _events(api: Api, ref: str = "1") -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/incidents/{ref}").json()["timeline"])


def test_stars_through_the_api_with_the_role_checked(
    alice: Api, bob: Api, carol: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    declare(alice, title="Other")
    clock.advance(minutes=5)
    note = alice.post(
        "/api/v1/incidents/1/events", json={"kind": "decision", "text": "Roll back release 42"}
    ).json()
    r = _put(bob, f"/api/v1/postmortems/1/stars/{note['id']}")
    assert r.status_code == 200 and r.json() == {"event": note["id"], "starred": True}
    assert _put(bob, f"/api/v1/postmortems/1/stars/{note['id']}").status_code == 200  # idempotent
    stars = alice.get("/api/v1/postmortems/1/stars").json()["stars"]
    assert [(s["event"], s["by"]) for s in stars] == [(note["id"], "bob")]
    # A viewer reads stars but does not set them.
    assert carol.get("/api/v1/postmortems/1/stars").status_code == 200
    r = _put(carol, f"/api/v1/postmortems/1/stars/{note['id']}")
    assert r.status_code == 403, r.text
    # An event of another incident, or a number out of range, names the field.
    other = _events(alice, "2")[0]["id"]
    r = _put(alice, f"/api/v1/postmortems/1/stars/{other}")
    assert r.status_code == 404 and r.json()["field"] == "event", r.text
    r = _put(alice, "/api/v1/postmortems/1/stars/99999999999")
    assert r.status_code == 422, r.text
    assert alice.delete(f"/api/v1/postmortems/1/stars/{note['id']}").json()["starred"] is False
    assert alice.get("/api/v1/postmortems/1/stars").json()["stars"] == []


def test_the_drafted_timeline_opens_with_the_starred_events(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    clock.advance(minutes=3)
    alice.post("/api/v1/incidents/1/events", json={"kind": "action", "text": "Paged the DBA"})
    clock.advance(minutes=3)
    late = alice.post(
        "/api/v1/incidents/1/events", json={"kind": "decision", "text": "Fail over to replica"}
    ).json()
    _put(alice, f"/api/v1/postmortems/1/stars/{late['id']}")
    resolve(alice, db, clock)
    rows = [line for line in pm(alice)["content"]["timeline"].splitlines() if "|" in line]
    body = [r for r in rows if re.search(r"\d\d:\d\d", r)]
    assert "Fail over to replica" in body[0], body
    assert any("Paged the DBA" in r for r in body[1:])


def test_the_room_shows_the_postmortem_and_similar_incidents_and_stars_events(
    alice: Api, db: Database, clock: ManualClock, client: TestClient
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"services": [{"name": "payments"}]})
    declare(alice, title="Payment gateway timeouts", services=["payments"], severity="SEV-1")
    resolve(alice, db, clock)
    item = alice.post(
        "/api/v1/action-items",
        json={"incident": "INC-1", "title": "Pool size alerts", "owner": "bob", "priority": "P1"},
    ).json()["id"]
    declare(alice, title="Gateway timeouts on payment", services=["payments"], severity="SEV-3")
    Worker(db, clock).run_due()
    give_password(db, "alice")
    login(client, "alice")
    b = Browser(client)
    # The open incident: no postmortem yet, the repeat with its open item.
    b.get("/incidents/2")
    panel = b.page.split('id="postmortem-panel"', 1)[1].split("</section>", 1)[0]
    assert "No postmortem" in panel
    assert 'href="/incidents/INC-1"' in panel and "postmortem draft" in panel
    assert f"open action item #{item} Pool size alerts" in panel
    assert 'id="repeat-warning"' in panel
    # Star the first timeline event from the room.
    first = _events(alice, "2")[0]["id"]
    r = b.submit(f"/incidents/2/stars/{first}", starred="1")
    assert r.status_code == 200 and r.url.path == "/incidents/2"
    assert alice.get("/api/v1/postmortems/2/stars").json()["stars"][0]["event"] == first
    assert re.search(rf'/incidents/2/stars/{first}".*?aria-pressed="true"', b.page, re.S)
    b.submit(f"/incidents/2/stars/{first}", starred="0")
    assert alice.get("/api/v1/postmortems/2/stars").json()["stars"] == []
    # SEV-3 resolved: recommended, offered with a one-click start.
    resolve(alice, db, clock, "2", minutes=10)  # short: nothing raises it to required
    b.get("/incidents/2")
    panel = b.page.split('id="postmortem-panel"', 1)[1].split("</section>", 1)[0]
    assert "No postmortem yet (recommended" in panel and 'id="postmortem-start"' in panel
    r = b.submit("/postmortems/INC-2/start")
    assert r.status_code == 200 and r.url.path == "/postmortems/INC-2"
    b.get("/incidents/2")
    panel = b.page.split('id="postmortem-panel"', 1)[1].split("</section>", 1)[0]
    assert "draft" in panel and "owner alice" in panel and 'href="/postmortems/INC-2"' in panel
    assert 'id="postmortem-start"' not in panel
    # The required one of INC-1 shows its state, owner and due time.
    b.get("/incidents/1")
    panel = b.page.split('id="postmortem-panel"', 1)[1].split("</section>", 1)[0]
    assert "draft" in panel and "owner alice" in panel and "due" in panel
    assert "<time" in panel


def test_a_viewer_sees_stars_but_gets_no_toggle_and_cannot_star(
    client: TestClient, alice: Api, db: Database, clock: ManualClock, people: dict[str, str]
) -> None:
    declare(alice)
    first = _events(alice)[0]["id"]
    _put(alice, f"/api/v1/postmortems/1/stars/{first}")
    give_password(db, "carol")
    login(client, "carol")
    page = client.get("/incidents/1").text
    assert "star-form" not in page and 'class="star on"' in page
    csrf = re.search(r'name="csrf" value="([^"]*)"', page)
    token = csrf.group(1) if csrf else ""
    r = client.post(f"/incidents/1/stars/{first}", data={"csrf": token, "starred": "0"})
    assert r.status_code == 200 and "error=" in str(r.url)
    assert alice.get("/api/v1/postmortems/1/stars").json()["stars"] != []
