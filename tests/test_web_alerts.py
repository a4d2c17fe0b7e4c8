"""The alerts page and the incident room's alerts and recent changes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_web import Browser, give_password, login, text_of
from warroom.db.session import Database


def setup_alerts(admin: Api, client: TestClient) -> str:
    admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "web"}],
                "services": [
                    {"name": "checkout", "owner": "web", "depends_on": ["db"]},
                    {"name": "db", "owner": "web"},
                ],
            }
        },
    )
    key = admin.post(
        "/api/v1/integrations", json={"name": "p", "kind": "pagerduty", "service": "checkout"}
    ).json()["key"]
    admin.post(
        "/api/v1/changes",
        json={"summary": "db minor upgrade", "service": "db", "at": "2026-03-02T08:20:00Z"},
    )
    for dedup, sev in (("a", "critical"), ("b", "warning")):
        r = client.post(
            "/v2/enqueue",
            json={
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": {"summary": f"<b>alert {dedup}</b>", "source": "prom", "severity": sev},
                "links": [{"href": "https://runbooks.example/checkout", "text": "runbook"}],
            },
        )
        assert r.status_code == 202
    return key


def test_alerts_page_filters_and_actions(client: TestClient, admin: Api, db: Database) -> None:
    setup_alerts(admin, client)
    give_password(db, "alice")
    login(client, "alice")
    b = Browser(client)
    r = b.get("/alerts")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "<b>alert a</b>" in text and "<b>alert b</b>" in text  # escaped, shown as text
    assert "<b>alert a</b>" not in r.text
    assert "INC-1" in text
    r = b.submit("/alerts/1/ack", back="/alerts")
    assert admin.get("/api/v1/alerts/1").json()["status"] == "acknowledged"
    b.get("/alerts")
    b.submit("/alerts/2/noise", back="/alerts", reason="not_actionable")
    assert admin.get("/api/v1/alerts/2").json()["noise"] == "not_actionable"
    r = b.get("/alerts?noise=yes")
    assert "alert b" in text_of(r.text) and "alert a" not in text_of(r.text)
    assert "Alert quality by routing rule" in r.text
    b.get("/alerts")
    b.submit("/alerts/1/resolve", back="/alerts")
    assert admin.get("/api/v1/alerts/1").json()["status"] == "resolved"
    r = client.post("/alerts/2/resolve", data={"csrf": "forged"})
    assert r.status_code == 403
    assert admin.get("/api/v1/alerts/2").json()["status"] == "triggered"


def test_room_lists_alerts_and_recent_changes_of_dependencies(
    client: TestClient, admin: Api, db: Database
) -> None:
    setup_alerts(admin, client)
    give_password(db, "alice")
    login(client, "alice")
    page = text_of(Browser(client).get("/incidents/1").text)
    assert "Recent changes" in page
    assert "db minor upgrade" in page and "dependency" in page and "40 min before detection" in page
    assert "<b>alert a</b>" in page and "runbook" in page
