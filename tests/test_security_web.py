"""What a viewer or a hostile sender can do through the web UI: the role checks hold on
form posts as on the API, links that are not web URLs never become clickable, and every
page carries the headers that stop injected script and framing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_alerts_ingest import integration, pd, services  # noqa: F401  (fixture)
from tests.test_web import Browser, as_alice, csrf_of, give_password, login, text_of  # noqa: F401
from warroom.core.urls import web_url
from warroom.db.session import Database

EVIL = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "https://",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", EVIL)
def test_only_web_urls_with_a_host_are_links(url: str) -> None:
    assert web_url(url) is None


@pytest.mark.parametrize(
    "url", ["https://meet.example.com/abc", "http://10.0.0.1:8080/x?y=1#z", "HTTPS://A.B/"]
)
def test_web_urls_stay_as_they_are(url: str) -> None:
    assert web_url(url) == url


def test_viewer_cannot_page_through_the_room_form(
    client: TestClient, db: Database, alice: Api, people: dict[str, str]
) -> None:
    assert alice.post("/api/v1/incidents", json={"title": "Cart", "severity": "SEV-2"}).is_success
    give_password(db, "carol")  # a viewer
    login(client, "carol")
    room = client.get("/incidents/1")
    r = client.post(
        "/pages/new",
        data={"csrf": csrf_of(room.text), "incident": "INC-1", "users": "bob"},
    )
    assert "needs the responder role" in text_of(r.text)
    assert alice.get("/api/v1/pages").json() == []


def test_bridge_url_must_be_a_web_url(alice: Api) -> None:
    r = alice.post(
        "/api/v1/incidents",
        json={"title": "Cart", "severity": "SEV-2", "bridge_url": "javascript:alert(1)"},
    )
    assert r.status_code == 422 and r.json()["field"] == "bridge_url", r.text
    assert alice.get("/api/v1/incidents").json()["items"] == []  # nothing half-written
    assert alice.post("/api/v1/incidents", json={"title": "Cart", "severity": "SEV-2"}).is_success
    r = alice.patch("/api/v1/incidents/1", json={"bridge_url": "data:text/html,x"})
    assert r.status_code == 422 and r.json()["field"] == "bridge_url", r.text
    r = alice.patch("/api/v1/incidents/1", json={"bridge_url": "https://meet.example.com/x"})
    assert r.status_code == 200, r.text


def clickable(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


def test_alert_and_change_links_from_monitoring_are_text_unless_web_urls(
    client: TestClient,
    admin: Api,
    as_alice: Browser,  # noqa: F811
    services: None,  # noqa: F811
) -> None:
    key = integration(admin, "pagerduty")["key"]
    r = client.post(
        "/v2/enqueue",
        json={
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "k1",
            "client": "Evil",
            "client_url": "javascript:alert(1)",
            "links": [
                {"href": "JAVASCRIPT:alert(2)", "text": "runbook"},
                {"href": "https://grafana.example/d/1", "text": "dashboard"},
            ],
            "payload": {"summary": "Checkout down", "source": "x", "severity": "critical"},
        },
    )
    assert r.status_code == 202, r.text
    r = client.post(
        "/v2/change/enqueue",
        json={
            "routing_key": key,
            "links": [{"href": "javascript:alert(3)", "text": "the diff"}],
            "payload": {"summary": "deploy 42", "source": "ci"},
        },
    )
    assert r.status_code == 202, r.text
    for path in ("/alerts", "/incidents/1"):
        page = as_alice.get(path).text
        hrefs = clickable(page)
        assert not [h for h in hrefs if "script" in h.lower()], (path, hrefs)
        if path == "/alerts":
            assert "https://grafana.example/d/1" in hrefs
            assert "runbook" in text_of(page) and "Evil" in text_of(page)
        else:
            assert "the diff" in text_of(page)


def headers_of(r: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items()}


def test_pages_carry_a_content_security_policy_and_cannot_be_framed(
    as_alice: Browser,  # noqa: F811
    client: TestClient,
) -> None:
    for path in ("/incidents", "/login"):
        h = headers_of(client.get(path))
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert "frame-ancestors 'none'" in csp and h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
    h = headers_of(client.get("/status"))  # the status page keeps its own, stricter policy
    assert h["content-security-policy"].startswith("default-src 'none'")
    h = headers_of(client.get("/api/v1/me"))
    assert h["x-content-type-options"] == "nosniff" and "content-security-policy" not in h


def test_the_login_forms_cookie_is_secure_when_warroom_serves_https(
    app: Any, client: TestClient
) -> None:
    cookie = client.get("/login").headers["set-cookie"]
    assert "wr_login_csrf=" in cookie and "secure" not in cookie.lower()
    app.state.secure_cookies = True
    cookie = client.get("/login").headers["set-cookie"]
    assert "wr_login_csrf=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
