"""Status page: components, public incidents, maintenance, the public page, the
Statuspage v2 JSON (field by field), feeds, escaping, caching, privacy."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.app import create_app
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.statuspage import rules

CODE = re.compile(r"^[a-z0-9]{12}$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
XSS = '<script>alert("x")</script> & <b>bold</b>'

# Field lists of Statuspage's published v2 examples (status.discord.com/api/v2 and the
# metastatuspage.com documentation), in their order.
PAGE_FIELDS = ["id", "name", "url", "time_zone", "updated_at"]
COMPONENT_FIELDS = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
]
INCIDENT_FIELDS = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
]
UPDATE_FIELDS = [
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
]
AFFECTED_FIELDS = ["code", "name", "old_status", "new_status"]


@pytest.fixture
def setup(admin: Api) -> None:
    r = admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "web"}],
                "services": [
                    {"name": "checkout", "owner": "web"},
                    {"name": "api", "owner": "web"},
                ],
            }
        },
    )
    assert r.status_code == 200, r.text
    for body in (
        {"name": "API", "service": "api", "description": "Public REST API"},
        {"name": "Regions", "is_group": True},
        {"name": "EU", "group": "Regions"},
        {"name": "US", "group": "Regions"},
        {"name": "Checkout", "service": "checkout"},
    ):
        r = admin.post("/api/v1/status/components", json=body)
        assert r.status_code == 201, r.text


def declare(api: Api, **kw: Any) -> str:
    body = {"title": "Checkout 500s", "severity": "SEV-2", **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def get_json(client: TestClient, path: str) -> Any:
    r = client.get(path)
    assert r.status_code == 200, (path, r.text)
    assert r.headers["content-type"] == "application/json"
    return r.json()


def check_page(page: dict[str, Any]) -> None:
    assert list(page) == PAGE_FIELDS
    assert CODE.match(page["id"])
    assert page["name"] == "Status"
    assert page["url"].endswith("/status")
    assert page["time_zone"] == "Etc/UTC"
    assert TS.match(page["updated_at"])


def check_component(c: dict[str, Any], page_id: str) -> None:
    fields = COMPONENT_FIELDS + (["components"] if c["group"] else [])
    assert list(c) == fields
    assert CODE.match(c["id"])
    assert c["status"] in rules.COMPONENT_STATUSES
    assert TS.match(c["created_at"]) and TS.match(c["updated_at"])
    assert isinstance(c["position"], int)
    assert c["description"] is None or isinstance(c["description"], str)
    assert isinstance(c["showcase"], bool) and isinstance(c["only_show_if_degraded"], bool)
    assert re.match(r"^\d{4}-\d\d-\d\d$", c["start_date"])
    assert c["group_id"] is None or CODE.match(c["group_id"])
    assert c["page_id"] == page_id


def check_incident(i: dict[str, Any], page_id: str, maintenance: bool = False) -> None:
    fields = INCIDENT_FIELDS + (["scheduled_for", "scheduled_until"] if maintenance else [])
    assert list(i) == fields
    assert CODE.match(i["id"])
    allowed = rules.MAINTENANCE_STATUSES if maintenance else rules.INCIDENT_STATUSES
    assert i["status"] in allowed
    assert i["impact"] in ("none", "minor", "major", "critical", "maintenance")
    for key in ("created_at", "updated_at", "started_at"):
        assert TS.match(i[key]), key
    for key in ("monitoring_at", "resolved_at"):
        assert i[key] is None or TS.match(i[key])
    assert i["page_id"] == page_id
    assert i["shortlink"].endswith("/status/history#" + i["id"])
    for u in i["incident_updates"]:
        assert list(u) == UPDATE_FIELDS
        assert CODE.match(u["id"]) and u["incident_id"] == i["id"]
        assert u["status"] in allowed
        assert TS.match(u["created_at"]) and TS.match(u["display_at"])
        assert u["deliver_notifications"] is True
        assert u["custom_tweet"] is None and u["tweet_id"] is None
        for a in u["affected_components"] or []:
            assert list(a) == AFFECTED_FIELDS
            assert a["old_status"] in rules.COMPONENT_STATUSES
            assert a["new_status"] in rules.COMPONENT_STATUSES
    for c in i["components"]:
        check_component(c, page_id)
    if maintenance:
        assert TS.match(i["scheduled_for"]) and TS.match(i["scheduled_until"])


def test_empty_page_is_operational(client: TestClient) -> None:
    s = get_json(client, "/api/v2/summary.json")
    assert list(s) == ["page", "components", "incidents", "scheduled_maintenances", "status"]
    assert s["components"] == [] and s["incidents"] == [] and s["scheduled_maintenances"] == []
    assert s["status"] == {"indicator": "none", "description": "All Systems Operational"}
    r = client.get("/status")
    assert r.status_code == 200 and "All Systems Operational" in r.text


def test_components_and_status_history(
    client: TestClient, admin: Api, alice: Api, carol: Api, setup: None, clock: ManualClock
) -> None:
    listed = admin.get("/api/v1/status/components").json()
    assert [c["name"] for c in listed] == ["API", "Regions", "EU", "US", "Checkout"]
    assert listed[2]["group"] == "Regions" and listed[0]["service"] == "api"
    # responders set statuses; viewers and responders cannot add components
    assert (
        carol.post(
            "/api/v1/status/components/API/status", json={"status": "major_outage"}
        ).status_code
        == 403
    )
    assert alice.post("/api/v1/status/components", json={"name": "X"}).status_code == 403
    r = alice.post("/api/v1/status/components/API/status", json={"status": "nope"})
    assert r.status_code == 422 and "operational" in r.text
    r = alice.post("/api/v1/status/components/Regions/status", json={"status": "major_outage"})
    assert r.status_code == 422 and "group" in r.text
    assert admin.post("/api/v1/status/components", json={"name": "API"}).status_code == 409
    r = admin.post("/api/v1/status/components", json={"name": "Y", "group": "API"})
    assert r.status_code == 422 and "not a group" in r.text
    r = admin.post("/api/v1/status/components", json={"name": "Z", "service": "nope"})
    assert r.status_code == 422

    clock.advance(hours=1)
    r = alice.post("/api/v1/status/components/EU/status", json={"status": "partial_outage"})
    assert r.status_code == 200 and r.json()["status"] == "partial_outage"
    s = get_json(client, "/api/v2/summary.json")
    by_name = {c["name"]: c for c in s["components"]}
    assert by_name["Regions"]["status"] == "partial_outage"  # a group shows its worst child
    assert by_name["Regions"]["components"] == [by_name["EU"]["id"], by_name["US"]["id"]]
    assert by_name["EU"]["group_id"] == by_name["Regions"]["id"]
    assert s["status"] == {"indicator": "major", "description": "Partial System Outage"}
    alice.post("/api/v1/status/components/API/status", json={"status": "major_outage"})
    assert get_json(client, "/api/v2/status.json")["status"] == {
        "indicator": "critical",
        "description": "Major Service Outage",
    }
    clock.advance(hours=2)
    alice.post("/api/v1/status/components/API/status", json={"status": "operational"})
    alice.post("/api/v1/status/components/EU/status", json={"status": "operational"})
    assert get_json(client, "/api/v2/status.json")["status"]["indicator"] == "none"

    # The uptime bar reads the recorded history: today had 2 h of major outage on API.
    clock.advance(days=1)
    html = client.get("/status").text
    # known time: 15 h on day one (2 h of them down) and 12 h today
    assert 'aria-label="API: 92.59% uptime over the last 90 days"' in html
    assert "Mar 2, 2026: 86.67% uptime, worst: Major outage" in html
    assert "Mar 3, 2026: No downtime" in html
    days = rules.uptime_days(
        [(clock.now() - timedelta(days=1, hours=3), "operational")], clock.now()
    )
    assert len(days) == 90 and not days[0].known and days[-1].known


def test_publish_update_resolve_and_v2_fields(
    client: TestClient, alice: Api, setup: None, clock: ManualClock
) -> None:
    ref = declare(alice, customer_facing=True)
    r = alice.post(
        "/api/v1/status/incidents",
        json={
            "incident": ref,
            "name": "Elevated checkout errors",
            "body": "We are investigating failed payments.",
            "components": {"Checkout": "partial_outage", "EU": "degraded_performance"},
        },
    )
    assert r.status_code == 201, r.text
    pub = r.json()
    code = pub["id"]
    assert pub["incident"] == ref and pub["impact"] == "major"
    assert sorted(pub["components"]) == ["Checkout", "EU"]
    # publishing twice is refused
    r = alice.post("/api/v1/status/incidents", json={"incident": ref, "body": "again"})
    assert r.status_code == 409
    # the internal timeline records the act
    timeline = alice.get(f"/api/v1/incidents/{ref}").json()["timeline"]
    assert any("Published on the status page" in e["text"] for e in timeline)

    clock.advance(minutes=20)
    r = alice.post(
        f"/api/v1/status/incidents/{code}/updates",
        json={
            "status": "identified",
            "body": "A bad deploy; rolling back.",
            "components": {"Checkout": "major_outage"},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["impact"] == "critical"
    clock.advance(minutes=10)
    alice.post(
        f"/api/v1/status/incidents/{code}/updates",
        json={"status": "monitoring", "body": "Rolled back; watching."},
    )

    s = get_json(client, "/api/v2/summary.json")
    page_id = s["page"]["id"]
    check_page(s["page"])
    for c in s["components"]:
        check_component(c, page_id)
    assert len(s["incidents"]) == 1
    inc = s["incidents"][0]
    check_incident(inc, page_id)
    assert inc["name"] == "Elevated checkout errors" and inc["status"] == "monitoring"
    assert inc["impact"] == "critical"
    assert inc["monitoring_at"] == "2026-03-02T09:30:00.000Z"
    assert inc["resolved_at"] is None
    assert inc["started_at"] == "2026-03-02T09:00:00.000Z"
    assert [u["status"] for u in inc["incident_updates"]] == [
        "monitoring",
        "identified",
        "investigating",
    ]
    first = inc["incident_updates"][-1]
    assert first["body"] == "We are investigating failed payments."
    assert {
        a["name"]: (a["old_status"], a["new_status"]) for a in first["affected_components"]
    } == {
        "Checkout": ("operational", "partial_outage"),
        "EU": ("operational", "degraded_performance"),
    }
    assert inc["incident_updates"][0]["affected_components"] is None
    assert sorted(c["name"] for c in inc["components"]) == ["Checkout", "EU"]
    assert s["status"]["indicator"] == "critical"
    assert get_json(client, "/api/v2/incidents/unresolved.json")["incidents"][0]["id"] == code

    # resolving brings the affected components back to operational
    clock.advance(minutes=30)
    r = alice.post(f"/api/v1/status/incidents/{code}/resolve", json={})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    s = get_json(client, "/api/v2/summary.json")
    assert s["incidents"] == []
    assert {c["status"] for c in s["components"]} == {"operational"}
    assert s["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert get_json(client, "/api/v2/incidents/unresolved.json")["incidents"] == []
    all_incidents = get_json(client, "/api/v2/incidents.json")
    assert list(all_incidents) == ["page", "incidents"]
    resolved = all_incidents["incidents"][0]
    check_incident(resolved, page_id)
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2026-03-02T10:00:00.000Z"
    last = resolved["incident_updates"][0]
    assert last["body"] == "This incident has been resolved."
    assert {a["name"] for a in last["affected_components"]} == {"Checkout", "EU"}
    comps = get_json(client, "/api/v2/components.json")
    assert list(comps) == ["page", "components"] and len(comps["components"]) == 5
    # postmortem is a valid later status
    r = alice.post(
        f"/api/v1/status/incidents/{code}/updates",
        json={"status": "postmortem", "body": "The postmortem is published."},
    )
    assert r.status_code == 201
    # history page shows it
    html = client.get("/status/history").text
    assert "Elevated checkout errors" in html and "The postmortem is published." in html


def test_private_incident_never_published_or_leaked(
    client: TestClient, admin: Api, alice: Api, bob: Api, setup: None
) -> None:
    ref = declare(alice, title="Secret payroll breach", private=True)
    # the admin can see it, but publishing is refused with a clear 409
    r = admin.post("/api/v1/status/incidents", json={"incident": ref, "body": "x"})
    assert r.status_code == 409 and "private" in r.json()["error"]
    # bob cannot see it: indistinguishable from a missing incident
    r = bob.post("/api/v1/status/incidents", json={"incident": ref, "body": "x"})
    assert r.status_code == 404
    # an incident made private after it was published disappears from every public body
    public_ref = declare(alice, title="Checkout slow")
    r = alice.post(
        "/api/v1/status/incidents",
        json={"incident": public_ref, "name": "Leaky title", "body": "Leaky body"},
    )
    assert r.status_code == 201
    code = r.json()["id"]
    assert "Leaky title" in client.get("/status").text
    r = alice.patch(f"/api/v1/incidents/{public_ref}", json={"private": True})
    assert r.status_code == 200, r.text
    r = alice.post(
        f"/api/v1/status/incidents/{code}/updates", json={"status": "identified", "body": "x"}
    )
    assert r.status_code == 409
    # making it private bumps the page in the same transaction: the very next request
    # renders without it, with no wait for the cache's periodic version check
    client.app.state.status_cache.check_seconds = 3600.0  # type: ignore[attr-defined]
    paths = (
        "/status",
        "/status/history",
        "/status/history.rss",
        "/status/history.atom",
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
    )
    for path in paths:
        body = client.get(path).text
        for secret in ("Secret payroll", "Leaky title", "Leaky body", code):
            assert secret not in body, (path, secret)
    # made public again, it is back on the page at once
    r = alice.patch(f"/api/v1/incidents/{public_ref}", json={"private": False})
    assert r.status_code == 200, r.text
    assert "Leaky title" in client.get("/status").text
    assert code in client.get("/api/v2/incidents.json").text


def test_maintenance_lifecycle(
    client: TestClient, alice: Api, setup: None, clock: ManualClock, db: Database
) -> None:
    start = clock.now() + timedelta(days=2)
    r = alice.post(
        "/api/v1/status/maintenances",
        json={
            "name": "Database upgrade",
            "body": "We will upgrade the primary database.",
            "scheduled_for": start.isoformat(),
            "scheduled_until": (start + timedelta(hours=2)).isoformat(),
            "components": ["API", "Checkout"],
        },
    )
    assert r.status_code == 201, r.text
    code = r.json()["id"]
    r = alice.post(
        "/api/v1/status/maintenances",
        json={
            "name": "Backwards",
            "body": "x",
            "scheduled_for": start.isoformat(),
            "scheduled_until": start.isoformat(),
        },
    )
    assert r.status_code == 422
    up = get_json(client, "/api/v2/scheduled-maintenances/upcoming.json")
    assert list(up) == ["page", "scheduled_maintenances"]
    m = up["scheduled_maintenances"][0]
    check_incident(m, up["page"]["id"], maintenance=True)
    assert m["status"] == "scheduled" and m["impact"] == "maintenance"
    assert m["scheduled_for"] == "2026-03-04T09:00:00.000Z"
    assert m["scheduled_until"] == "2026-03-04T11:00:00.000Z"
    assert (
        get_json(client, "/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"]
        == []
    )
    s = get_json(client, "/api/v2/summary.json")
    assert [x["id"] for x in s["scheduled_maintenances"]] == [code]
    assert "Database upgrade" in client.get("/status").text

    # the engine starts and completes it on time
    from warroom.engine.worker import Worker

    worker = Worker(db, clock)
    clock.set(start + timedelta(minutes=1))
    _drain(worker)
    active = get_json(client, "/api/v2/scheduled-maintenances/active.json")
    assert [x["status"] for x in active["scheduled_maintenances"]] == ["in_progress"]
    s = get_json(client, "/api/v2/summary.json")
    assert {c["name"]: c["status"] for c in s["components"]}["API"] == "under_maintenance"
    assert s["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    clock.set(start + timedelta(hours=2, minutes=1))
    _drain(worker)
    done = get_json(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"][0]
    assert done["status"] == "completed" and done["resolved_at"] is not None
    assert [u["status"] for u in done["incident_updates"]] == [
        "completed",
        "in_progress",
        "scheduled",
    ]
    s = get_json(client, "/api/v2/summary.json")
    assert s["scheduled_maintenances"] == [] and s["status"]["indicator"] == "none"
    # manual moves work too, and completed maintenance is not moved back by the engine
    r = alice.post(f"/api/v1/status/maintenances/{code}/updates", json={"status": "bogus"})
    assert r.status_code == 422


def _drain(worker: Any) -> None:
    for _ in range(10):
        ids = worker.claim()
        if not ids:
            return
        for job_id in ids:
            worker.run_job(job_id)


def test_html_and_script_are_escaped_everywhere(
    client: TestClient, admin: Api, alice: Api, setup: None
) -> None:
    r = admin.post("/api/v1/status/components", json={"name": XSS, "description": XSS})
    assert r.status_code == 201
    ref = declare(alice)
    r = alice.post(
        "/api/v1/status/incidents",
        json={"incident": ref, "name": XSS, "body": XSS, "components": {XSS: "major_outage"}},
    )
    assert r.status_code == 201, r.text
    admin.patch("/api/v1/status/page", json={"name": XSS})
    for path in (
        "/status",
        "/status/history",
        "/status/history.rss",
        "/status/history.atom",
        "/api/v2/summary.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/status.json",
    ):
        body = client.get(path).content
        assert b"<script" not in body, path
        assert b"<b>bold" not in body, path
    r = client.get("/status")
    html = r.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    # the JSON still carries the exact text
    s = get_json(client, "/api/v2/summary.json")
    assert s["page"]["name"] == XSS
    assert s["incidents"][0]["name"] == XSS
    assert s["incidents"][0]["incident_updates"][0]["body"] == XSS
    assert XSS in {c["name"] for c in s["components"]}
    # the feeds are well-formed XML carrying the same text
    rss = ElementTree.fromstring(client.get("/status/history.rss").content)
    assert rss.find("channel/item/title").text == XSS  # type: ignore[union-attr]
    atom = ElementTree.fromstring(client.get("/status/history.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert atom.find("a:entry/a:title", ns).text == XSS  # type: ignore[union-attr]


def test_feeds(client: TestClient, alice: Api, setup: None) -> None:
    ref = declare(alice)
    alice.post("/api/v1/status/incidents", json={"incident": ref, "body": "Looking into it"})
    r = client.get("/status/history.rss")
    assert r.headers["content-type"].startswith("application/rss+xml")
    rss = ElementTree.fromstring(r.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    item = rss.find("channel/item")
    assert item is not None
    assert item.find("title").text == "Checkout 500s"  # type: ignore[union-attr]
    assert "Looking into it" in item.find("description").text  # type: ignore[union-attr]
    assert item.find("pubDate").text.endswith("GMT")  # type: ignore[union-attr]
    r = client.get("/status/history.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    atom = ElementTree.fromstring(r.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert atom.tag == "{http://www.w3.org/2005/Atom}feed"
    entry = atom.find("a:entry", ns)
    assert entry is not None and entry.find("a:updated", ns) is not None


def test_served_from_cache_with_etag(
    client: TestClient, alice: Api, setup: None, db: Database
) -> None:
    r1 = client.get("/api/v2/summary.json")
    etag = r1.headers["etag"]
    assert r1.headers["cache-control"].startswith("public")
    r = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    # bodies are gzipped once at render time for clients that accept it
    r = client.get("/status", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "Components" in r.text
    assert r.headers["etag"].endswith('-gz"') and r.headers["vary"] == "Accept-Encoding"
    r = client.get("/status", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers and "Components" in r.text
    cache = client.app.state.status_cache  # type: ignore[attr-defined]
    renders = cache.renders
    # no store query per request: count statements while serving
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    cache.check_seconds = 3600.0
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert client.get("/status").status_code == 200
            assert client.get("/api/v2/summary.json").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == [] and cache.renders == renders
    # a change in this process re-renders on the next request
    alice.post("/api/v1/status/components/API/status", json={"status": "major_outage"})
    r2 = client.get("/api/v2/summary.json")
    assert r2.headers["etag"] != etag and cache.renders == renders + 1
    assert client.head("/status").content == b""


def test_other_replica_sees_change_through_version_row(
    client: TestClient, alice: Api, setup: None, db: Database, clock: ManualClock
) -> None:
    """Two apps on one store stand in for two replicas: B learns of A's write from the
    version row (its check interval is set to 0 here, instead of waiting a second)."""
    other = Database(db.url)
    try:
        replica = TestClient(create_app(other, clock))
        before = replica.get("/api/v2/status.json").json()["status"]["indicator"]
        assert before == "none"
        replica.app.state.status_cache.check_seconds = 3600.0  # type: ignore[attr-defined]
        alice.post("/api/v1/status/components/API/status", json={"status": "major_outage"})
        # within the check interval B still serves what it has, without a query
        assert replica.get("/api/v2/status.json").json()["status"]["indicator"] == "none"
        replica.app.state.status_cache.check_seconds = 0.0  # type: ignore[attr-defined]
        assert replica.get("/api/v2/status.json").json()["status"]["indicator"] == "critical"
    finally:
        other.dispose()


def test_page_readable_without_javascript(client: TestClient, alice: Api, setup: None) -> None:
    ref = declare(alice)
    alice.post(
        "/api/v1/status/incidents",
        json={"incident": ref, "body": "Investigating", "components": {"API": "partial_outage"}},
    )
    html = client.get("/status").text
    assert "<script" not in html  # no JavaScript at all
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert 'role="status"' in html and "Skip to content" in html
    assert html.count('<svg class="bars"') == 4  # a 90-day bar for each non-group component
    assert 'aria-label="API: no recorded history yet"' in html
    assert "Partial System Outage" in html and "Partial outage" in html
    assert "Active incidents" in html and "Investigating" in html
    assert client.get("/status/").status_code == 200


def test_subscribers_double_opt_in_and_unsubscribe(
    client: TestClient, alice: Api, admin: Api, setup: None, db: Database, clock: ManualClock
) -> None:
    from sqlalchemy import select

    from warroom.engine.models import Job
    from warroom.statuspage import subscriptions
    from warroom.statuspage.models import StatusSubscriber

    r = client.post("/status/subscribe", data={"email": "ops@example.test"})
    assert r.status_code == 200 and "confirm" in r.text
    r = client.post("/status/subscribe", data={"email": "not an email"})
    assert r.status_code == 422
    # the public form cannot register webhooks (no server-side requests to chosen URLs)
    r = client.post("/status/subscribe", data={"webhook": "http://127.0.0.1:1/x"})
    assert r.status_code == 422
    with db.session() as s:
        sub = s.scalar(select(StatusSubscriber))
        assert sub is not None and sub.confirmed_at is None
        kinds = [j.kind for j in s.scalars(select(Job))]
        # the token is in the links of the message sent (the store keeps only its hash)
        info = subscriptions.delivery(s, clock, {"subscriber": sub.id, "confirm": True})
        assert info is not None
        token = info["links"]["confirm"].rsplit("/", 1)[1]
    assert kinds.count("statuspage_deliver") == 1  # the confirmation email is in the outbox
    # sending the form again does not mail the address again within the hour
    client.post("/status/subscribe", data={"email": "ops@example.test"})
    with db.session() as s:
        assert [j.kind for j in s.scalars(select(Job))].count("statuspage_deliver") == 1
    assert client.get("/status/subscribers/confirm/nope").status_code == 404
    r = client.get(f"/status/subscribers/confirm/{token}")
    assert r.status_code == 200 and "Subscribed" in r.text
    ref = declare(alice)
    alice.post("/api/v1/status/incidents", json={"incident": ref, "body": "Looking"})
    with db.session() as s:
        fan = [j for j in s.scalars(select(Job)) if j.kind == "statuspage_fanout"]
    assert len(fan) == 1
    r = client.get(f"/status/subscribers/unsubscribe/{token}")
    assert r.status_code == 200 and "<form" in r.text
    r = client.post(f"/status/subscribers/unsubscribe/{token}")
    assert r.status_code == 200 and "Unsubscribed" in r.text
    subs = admin.get("/api/v1/status/subscribers").json()
    assert subs[0]["unsubscribed_at"] is not None


def test_status_components_in_config_as_code(client: TestClient, admin: Api) -> None:
    config = {
        "teams": [{"name": "web"}],
        "services": [{"name": "api", "owner": "web"}, {"name": "checkout", "owner": "web"}],
        "status_components": [
            {"name": "API", "service": "api", "description": "REST"},
            {"name": "Payments", "is_group": True},
            {"name": "Checkout", "group": "Payments", "service": "checkout"},
        ],
    }
    r = admin.post("/api/v1/config/apply", json={"config": config})
    assert r.status_code == 200, r.text
    made = [c for c in r.json()["changes"] if c["kind"] == "status_components"]
    assert [(c["action"], c["name"]) for c in made] == [
        ("create", "API"),
        ("create", "Payments"),
        ("create", "Checkout"),
    ]
    comps = get_json(client, "/api/v2/components.json")["components"]
    by_name = {c["name"]: c for c in comps}
    assert by_name["Checkout"]["group_id"] == by_name["Payments"]["id"]
    assert [c["position"] for c in comps] == [1, 2, 3]
    # idempotent: the same document changes nothing
    r = admin.post("/api/v1/config/apply", json={"config": config})
    assert [c for c in r.json()["changes"] if c["kind"] == "status_components"] == []
    # the export carries the section so that apply accepts it unchanged
    exported = admin.get("/api/v1/config/export").text
    assert "status_components:" in exported and "group: Payments" in exported
    # problems name the entry and field
    bad = {
        "status_components": [
            {"name": "A", "group": "Nope"},
            {"name": "B", "service": "ghost"},
            {"name": "G", "is_group": True, "group": "G"},
        ]
    }
    r = admin.post("/api/v1/config/apply", json={"config": bad})
    assert r.status_code == 422
    where = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert "is not a group" in where["status_components[0].group"]
    assert "unknown service" in where["status_components[1].service"]
    assert "nested" in where["status_components[2].group"]
    r = admin.post(
        "/api/v1/config/apply", json={"config": {"status_components": [{"name": "x", "bogus": 1}]}}
    )
    assert r.status_code == 422
    # what the section omits is deleted; statuses survive an apply
    admin.post("/api/v1/status/components/API/status", json={"status": "major_outage"})
    config["status_components"] = [{"name": "API", "service": "api", "description": "REST"}]
    r = admin.post("/api/v1/config/apply", json={"config": config})
    assert r.status_code == 200, r.text
    comps = get_json(client, "/api/v2/components.json")["components"]
    assert [(c["name"], c["status"]) for c in comps] == [("API", "major_outage")]


def _mail(raw: bytes) -> Any:
    from email import message_from_bytes
    from email.policy import default

    return message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=default)


class _Catcher:
    """A webhook receiver and a minimal SMTP server on 127.0.0.1, recording what arrives."""

    def __init__(self) -> None:
        import socketserver
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.mails: list[bytes] = []
        catcher = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                catcher.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Smtp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) != b".\r\n":
                            data += chunk
                        catcher.mails.append(data)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb == b"EHLO":
                        self.wfile.write(b"250 test\r\n")
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.http = HTTPServer(("127.0.0.1", 0), Hook)
        self.smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
        self.smtp.daemon_threads = True
        for server in (self.http, self.smtp):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.http, self.smtp):
            server.shutdown()
            server.server_close()


def test_subscriber_notifications_go_through_the_outbox(
    client: TestClient,
    alice: Api,
    admin: Api,
    setup: None,
    db: Database,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from warroom.engine.worker import Worker

    catcher = _Catcher()
    try:
        monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARROOM_SMTP_PORT", str(catcher.smtp.server_address[1]))
        admin.patch("/api/v1/status/page", json={"url": "https://status.example.test/status"})
        hook = f"http://127.0.0.1:{catcher.http.server_address[1]}/hook"
        r = admin.post("/api/v1/status/subscribers", json={"kind": "webhook", "address": hook})
        assert r.status_code == 201
        client.post("/status/subscribe", data={"email": "ops@example.test"})
        worker = Worker(db, clock)
        _drain(worker)
        assert len(catcher.mails) == 1  # the opt-in email, and nothing else yet
        optin = _mail(catcher.mails[0])
        assert optin["To"] == "ops@example.test"
        confirm = re.search(r"/status/subscribers/confirm/(\S+)", optin.get_content())
        assert confirm is not None
        assert client.get(confirm.group(0)).status_code == 200

        ref = declare(alice)
        alice.post(
            "/api/v1/status/incidents",
            json={"incident": ref, "name": "Payments failing", "body": "Looking <now>"},
        )
        _drain(worker)
        assert len(catcher.posts) == 1
        headers, body = catcher.posts[0]
        sent = json.loads(body)
        assert sent["incident"]["name"] == "Payments failing"
        assert sent["incident"]["incident_updates"][0]["body"] == "Looking <now>"
        assert headers["idempotency-key"].endswith(":1")
        assert len(catcher.mails) == 2
        mail = _mail(catcher.mails[1])
        assert mail["Subject"] == "[Status status] Investigating: Payments failing"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "Looking <now>" in mail.get_content()
        unsub = re.search(
            r"https://status\.example\.test(/status/subscribers/unsubscribe/[^>]+)>",
            mail["List-Unsubscribe"],
        )
        assert unsub is not None
        # one click (RFC 8058) unsubscribes; later updates reach only the webhook
        assert client.post(unsub.group(1)).status_code == 200
        pub = alice.get("/api/v1/status/incidents").json()[0]["id"]
        alice.post(
            f"/api/v1/status/incidents/{pub}/updates", json={"status": "identified", "body": "ok"}
        )
        _drain(worker)
        assert len(catcher.mails) == 2 and len(catcher.posts) == 2
    finally:
        catcher.close()


def test_page_outlives_a_store_outage(
    client: TestClient, alice: Api, setup: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the store unreachable the page keeps answering with its last render."""
    from sqlalchemy.exc import OperationalError

    alice.post("/api/v1/status/components/API/status", json={"status": "major_outage"})
    before = client.get("/status").text
    assert "Major Service Outage" in before
    cache = client.app.state.status_cache  # type: ignore[attr-defined]

    def down() -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(cache.db, "read", down)
    cache.check_seconds = 0.0
    for path in ("/status", "/api/v2/summary.json"):
        r = client.get(path)
        assert r.status_code == 200
    assert client.get("/status").text == before


def test_publish_lists_the_components_of_the_incidents_services(
    client: TestClient, alice: Api, setup: None
) -> None:
    ref = declare(alice, services=["checkout"])
    r = alice.post("/api/v1/status/incidents", json={"incident": ref, "body": "Looking"})
    assert r.status_code == 201, r.text
    assert r.json()["components"] == ["Checkout"] and r.json()["impact"] == "none"
    inc = get_json(client, "/api/v2/incidents/unresolved.json")["incidents"][0]
    assert [c["name"] for c in inc["components"]] == ["Checkout"]
    assert inc["components"][0]["status"] == "operational"  # listed, not changed
