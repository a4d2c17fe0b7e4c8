"""Status page security: components named with `/`, null for required settings, NUL in
public forms and links."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_web import Browser, give_password, login
from warroom.db.session import Database

# --- components ---------------------------------------------------------------------------


def test_null_for_a_required_component_setting_is_a_422_that_changes_nothing(
    client: TestClient, admin: Api
) -> None:
    assert admin.post("/api/v1/status/components", json={"name": "API"}).status_code == 201
    raw = TestClient(client.app, raise_server_exceptions=False)
    for key in ("showcase", "position", "only_show_if_degraded"):
        r = raw.patch(
            "/api/v1/status/components/API",
            json={"description": "changed", key: None},
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        assert r.status_code == 422, (key, r.text)
        assert r.json()["field"] == key and "null" in r.json()["error"]
    (api,) = admin.get("/api/v1/status/components").json()
    assert api["description"] == "" and api["showcase"] is True
    assert api["position"] == 1 and api["only_show_if_degraded"] is False
    r = admin.patch("/api/v1/status/components/API", json={"showcase": False, "position": 7})
    assert r.status_code == 200 and r.json()["showcase"] is False and r.json()["position"] == 7


def test_a_component_named_with_a_slash_can_be_changed(
    client: TestClient, admin: Api, alice: Api, db: Database
) -> None:
    r = admin.post("/api/v1/status/components", json={"name": "EU/West"})
    assert r.status_code == 201, r.text
    code = r.json()["id"]
    r = admin.patch("/api/v1/status/components/EU/West", json={"description": "Frankfurt"})
    assert r.status_code == 200 and r.json()["description"] == "Frankfurt"
    r = admin.patch("/api/v1/status/components/EU%2FWest", json={"position": 3})
    assert r.status_code == 200 and r.json()["position"] == 3
    r = alice.post("/api/v1/status/components/EU/West/status", json={"status": "major_outage"})
    assert r.status_code == 200 and r.json()["status"] == "major_outage"
    r = alice.post(f"/api/v1/status/components/{code}/status", json={"status": "operational"})
    assert r.status_code == 200 and r.json()["name"] == "EU/West"
    # a name that ends like the status route is still a name
    assert admin.post("/api/v1/status/components", json={"name": "x/status"}).status_code == 201
    r = admin.patch("/api/v1/status/components/x/status", json={"description": "d"})
    assert r.status_code == 200 and r.json()["name"] == "x/status"
    r = alice.post("/api/v1/status/components/x/status/status", json={"status": "major_outage"})
    assert r.status_code == 200 and r.json()["name"] == "x/status"
    # and from the staff web page
    give_password(db, "alice")
    login(client, "alice")
    b = Browser(client)
    b.get("/status-admin")
    r = b.submit("/status-admin/component/EU/West", status="partial_outage")
    assert "EU/West is now partial_outage" in r.text
    assert admin.delete("/api/v1/status/components/EU/West").status_code == 204
    names = [c["name"] for c in admin.get("/api/v1/status/components").json()]
    assert names == ["x/status"]


# --- NUL in what the public can send ------------------------------------------------------


def test_nul_in_the_subscribe_form_and_component_names_is_refused(
    client: TestClient, admin: Api
) -> None:
    """Checked where the text is used, so this holds with or without the app's middleware
    (which answers 422 before the handler)."""
    raw = TestClient(client.app, raise_server_exceptions=False)
    r = raw.post("/status/subscribe", data={"email": "ops\u0000@example.test"})
    assert r.status_code == 422, r.text
    r = raw.post(
        "/api/v1/status/components",
        json={"name": "A\u0000PI"},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert admin.get("/api/v1/status/components").json() == []
    assert admin.get("/api/v1/status/subscribers").json() == []
