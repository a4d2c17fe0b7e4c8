"""The update composer in the incident room: preview without JavaScript, JSON preview, post."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_web import Browser, as_alice, csrf_of  # noqa: F401  (fixture)
from warroom.core.clock import ManualClock


def test_composer_previews_then_posts(as_alice: Browser, alice: Api, clock: ManualClock) -> None:  # noqa: F811
    alice.post(
        "/api/v1/incidents",
        json={"title": "Checkout <b>down</b>", "severity": "SEV-2", "impact_summary": "Carts fail"},
    )
    as_alice.get("/incidents/1")
    assert 'id="composer-form"' in as_alice.page
    assert '<option value="customer_email"' in as_alice.page
    clock.advance(minutes=5)
    r = as_alice.submit(
        "/incidents/1/updates", template="status", audience="", extra="Rolling back.", op="preview"
    )
    assert r.status_code == 200
    assert "INC-1 update (SEV-2, investigating): Checkout &lt;b&gt;down&lt;/b&gt;" in r.text
    assert "Rolling back." in as_alice.text and "not recorded: services" in as_alice.text
    tl = alice.get("/api/v1/incidents/1").json()["timeline"]
    assert [e for e in tl if e["kind"] == "communication"] == []

    # The live preview endpoint answers JSON for the same form.
    j = as_alice.client.post(
        "/incidents/1/updates/preview",
        data={"csrf": csrf_of(as_alice.page), "template": "statuspage_investigating"},
    )
    assert j.status_code == 200 and j.json()["text"].startswith("We are investigating")
    bad = as_alice.client.post("/incidents/1/updates/preview", data={"template": "status"})
    assert bad.status_code == 403

    r = as_alice.submit("/incidents/1/updates", template="status", extra="Rolling back.", op="post")
    assert r.status_code == 200 and r.url.path == "/incidents/1"
    tl = alice.get("/api/v1/incidents/1").json()["timeline"]
    comms = [e for e in tl if e["kind"] == "communication"]
    assert len(comms) == 1 and "Rolling back." in comms[0]["text"]
    assert comms[0]["data"]["delivery"] == "none"


def test_composer_errors_are_shown_not_500(as_alice: Browser, alice: Api, admin: Api) -> None:  # noqa: F811
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    admin.post(
        "/api/v1/config/apply",
        json={"config": {"templates": [{"name": "status", "body": "{{ ''.__class__ }}"}]}},
    )
    as_alice.get("/incidents/1")
    r = as_alice.submit("/incidents/1/updates", template="status", op="preview")
    assert r.status_code == 200
    assert "unsafe" in as_alice.text


def test_viewer_has_no_composer(client: TestClient, db: Any, people: dict[str, str]) -> None:
    from tests.test_web import give_password, login

    Api(client, people["alice"]).post(
        "/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"}
    )
    give_password(db, "carol")
    login(client, "carol")
    page = client.get("/incidents/1").text
    assert 'id="composer-form"' not in page
