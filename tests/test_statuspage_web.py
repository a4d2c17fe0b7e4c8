"""The staff web page for the status page: set statuses, publish, update, maintenance."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_web import Browser, csrf_of, give_password, login
from warroom.db.session import Database


def test_status_admin_page(
    client: TestClient, db: Database, people: dict[str, str], admin: Api, alice: Api
) -> None:
    for body in ({"name": "API"}, {"name": "Payments", "is_group": True}):
        assert admin.post("/api/v1/status/components", json=body).status_code == 201
    assert client.get("/status-admin").url.path == "/login"  # staff only
    give_password(db, "alice")
    login(client, "alice")
    b = Browser(client)
    r = b.get("/status-admin")
    assert r.status_code == 200 and "Publish an incident" in r.text
    assert 'aria-label="Status of API"' in r.text and "Status of Payments" not in r.text

    r = b.submit("/status-admin/component/API", status="partial_outage")
    assert "API is now partial_outage" in r.text
    summary = client.get("/api/v2/summary.json").json()
    assert summary["status"]["indicator"] == "major"

    secret = alice.post(
        "/api/v1/incidents", json={"title": "Secret", "severity": "SEV-3", "private": True}
    ).json()["id"]
    r = b.submit("/status-admin/publish", incident=secret, body="x")
    assert "private incidents are never published" in r.text
    ref = alice.post("/api/v1/incidents", json={"title": "Slow API", "severity": "SEV-3"}).json()
    r = b.submit(
        "/status-admin/publish",
        incident=ref["id"],
        name="<i>Slow</i> responses",
        body="Looking into slow responses",
        component="API",
        component_status="major_outage",
    )
    assert "Published" in r.text and "&lt;i&gt;Slow&lt;/i&gt; responses" in r.text
    code = client.get("/api/v2/incidents/unresolved.json").json()["incidents"][0]["id"]
    r = b.submit(f"/status-admin/update/{code}", status="resolved", body="Fixed")
    assert "Update posted" in r.text
    summary = client.get("/api/v2/summary.json").json()
    assert summary["incidents"] == [] and summary["components"][0]["status"] == "operational"

    r = b.submit(
        "/status-admin/schedule",
        name="DB upgrade",
        start="2030-01-01T22:00",
        end="2030-01-01T23:00",
        components="API",
        body="Primary moves",
    )
    assert "Maintenance scheduled" in r.text
    r = b.submit("/status-admin/schedule", name="x", start="soon", end="later", body="b")
    assert "not a date and time" in r.text
    m = client.get("/api/v2/scheduled-maintenances/upcoming.json").json()
    mcode = m["scheduled_maintenances"][0]["id"]
    r = b.submit(f"/status-admin/maintenance/{mcode}", status="in_progress")
    assert "Maintenance updated" in r.text
    assert (
        client.get("/api/v2/scheduled-maintenances/active.json").json()["scheduled_maintenances"][
            0
        ]["id"]
        == mcode
    )

    # forms need the page's CSRF token; viewers cannot act
    r = client.post("/status-admin/component/API", data={"status": "major_outage", "csrf": "x"})
    assert r.status_code == 403
    give_password(db, "carol")
    other = TestClient(client.app)
    login(other, "carol")
    page = other.get("/status-admin")
    r = other.post(
        "/status-admin/component/API", data={"status": "major_outage", "csrf": csrf_of(page.text)}
    )
    assert "responder role" in r.text
    assert client.get("/api/v2/status.json").json()["status"]["indicator"] == "maintenance"
