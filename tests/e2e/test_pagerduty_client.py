"""PagerDuty's official Python client (PyPI package `pagerduty`, v7) talking to warroom's
Events API v2 endpoints over real HTTPS, as it would talk to events.pagerduty.com.

The client only accepts https:// base URLs, so warroom is served with a certificate
from a throwaway CA that the client (and only the client) is told to trust.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._programs import Tls, admin_token, make_tls, serve
from warroom.app import create_app
from warroom.core.clock import SystemClock
from warroom.db.session import Database

pagerduty = pytest.importorskip(
    "pagerduty", reason="install the PyPI package `pagerduty` (pip install 'pagerduty>=7.2')"
)

pytest.importorskip(
    "cryptography", reason="install the PyPI package `cryptography` (for the test certificate)"
)

pytestmark = pytest.mark.e2e


@dataclass
class Warroom:
    url: str
    tls: Tls
    api: httpx.Client  # an admin's client for /api/v1

    def integration(self, name: str, kind: str = "pagerduty", **kw: Any) -> dict[str, Any]:
        r = self.api.post("/api/v1/integrations", json={"name": name, "kind": kind, **kw})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def events_client(self, routing_key: str) -> Any:
        client = pagerduty.EventsApiV2Client(
            routing_key, base_url=self.url, verify=self.tls.client_context, trust_env=False
        )
        client.max_network_attempts = 0  # a connection error is a failure here, not a retry
        return client


@pytest.fixture
def warroom(db: Database, tmp_path: Path) -> Iterator[Warroom]:
    tls = make_tls(tmp_path)
    token = admin_token(db)
    with (
        serve(create_app(db, SystemClock()), tls) as url,
        httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            verify=tls.client_context,
            timeout=10,
            trust_env=False,
        ) as api,
    ):
        r = api.post(
            "/api/v1/config/apply",
            json={
                "config": {
                    "teams": [{"name": "payments"}],
                    "services": [
                        {"name": "checkout", "owner": "payments", "depends_on": ["postgres"]},
                        {"name": "postgres", "owner": "payments"},
                    ],
                }
            },
        )
        assert r.status_code == 200, r.text
        yield Warroom(url, tls, api)


def test_trigger_acknowledge_resolve_through_the_client(warroom: Warroom) -> None:
    created = warroom.integration("pd-checkout", service="checkout")
    assert created["endpoint"] == f"{warroom.url}/v2/enqueue"
    with warroom.events_client(created["key"]) as events:
        dedup = events.trigger(
            "Checkout 5xx above 5%",
            "prom-1.example.test",
            severity="critical",
            payload={"component": "api", "group": "checkout-web", "class": "http"},
            custom_details={"error_rate": 0.07},
            links=[{"href": "https://grafana.example.test/d/x", "text": "dashboard"}],
        )
        # Without a dedup key warroom makes one, and the client hands it back.
        assert isinstance(dedup, str) and dedup

        def alert() -> dict[str, Any]:
            items = warroom.api.get("/api/v1/alerts").json()["items"]
            assert len(items) == 1, items
            return dict(items[0])

        a = alert()
        assert a["dedup_key"] == dedup
        assert a["status"] == "triggered"
        assert a["summary"] == "Checkout 5xx above 5%"
        assert a["source"] == "prom-1.example.test"
        assert a["source_severity"] == "critical" and a["severity"] == "SEV-1"
        assert a["service"] == "checkout" and a["integration"] == "pd-checkout"
        assert a["labels"] == {"component": "api", "group": "checkout-web", "class": "http"}
        assert a["details"]["error_rate"] == 0.07
        assert {"href": "https://grafana.example.test/d/x", "text": "dashboard"} in a["links"]
        incident = a["incident"]
        assert incident

        # The same key again is the same alert (dedup), not a second one.
        assert events.trigger("Checkout 5xx above 6%", "prom-1.example.test", dedup) == dedup
        a = alert()
        assert a["occurrences"] == 2 and a["summary"] == "Checkout 5xx above 6%"

        assert events.acknowledge(dedup) == dedup
        a = alert()
        assert a["status"] == "acknowledged" and a["acknowledged_at"]
        inc = warroom.api.get(f"/api/v1/incidents/{incident}").json()
        assert inc["status"] != "resolved"

        assert events.resolve(dedup) == dedup
        a = alert()
        assert a["status"] == "resolved" and a["resolved_at"]
        inc = warroom.api.get(f"/api/v1/incidents/{incident}").json()
        assert inc["status"] == "resolved"
        assert inc["services"] == ["checkout"]


def test_change_event_through_the_client(warroom: Warroom) -> None:
    key = warroom.integration("pd-postgres", service="postgres")["key"]
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    stamp = at.isoformat().replace("+00:00", "Z")
    with warroom.events_client(key) as events:
        # `submit` needs an explicit timestamp: its default (`event_timestamp`) raises
        # AttributeError in pagerduty 7.2.0.
        events.submit(
            "postgres 15.4 -> 15.5",
            source="ci.example.test",
            custom_details={"change_type": "config", "build": 812},
            links=[{"href": "https://ci.example.test/builds/812", "text": "build 812"}],
            timestamp=stamp,
        )
        # A change event without a timestamp is stamped on arrival.
        events.send_change_event(payload={"summary": "postgres: autovacuum settings changed"})
    changes = warroom.api.get("/api/v1/changes").json()
    assert len(changes) == 2, changes
    by_summary = {c["summary"]: c for c in changes}
    c = by_summary["postgres 15.4 -> 15.5"]
    assert c["at"] == stamp
    assert c["kind"] == "config"
    assert c["service"] == "postgres"
    assert c["source"] == "ci.example.test"
    assert c["recorded_by"] == "integration:pd-postgres"
    assert c["links"] == [{"href": "https://ci.example.test/builds/812", "text": "build 812"}]
    assert c["details"] == {"change_type": "config", "build": 812}
    c = by_summary["postgres: autovacuum settings changed"]
    assert c["kind"] == "deploy" and c["service"] == "postgres" and c["at"]
    assert warroom.api.get("/api/v1/changes", params={"service": "postgres"}).json() == changes
    assert warroom.api.get("/api/v1/alerts").json()["items"] == []


def test_bad_routing_key_makes_the_client_raise(warroom: Warroom) -> None:
    warroom.integration("pd-checkout", service="checkout")
    am_key = warroom.integration("am-checkout", kind="alertmanager", service="checkout")["key"]
    for key, error in (
        ("0" * 32, "'routing_key' does not match a pagerduty integration"),
        # a real key, but of an integration of another kind
        (am_key, "'routing_key' does not match a pagerduty integration"),
        ("short", "Length of 'routing_key' is incorrect (should be 32 characters)"),
    ):
        with warroom.events_client(key) as events, pytest.raises(pagerduty.HttpError) as caught:
            events.trigger("Checkout 5xx above 5%", "prom-1.example.test", dedup_key="k1")
        response = caught.value.response
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["status"] == "invalid event"
        assert error in body["errors"], body
    with warroom.events_client("0" * 32) as events, pytest.raises(pagerduty.HttpError) as caught:
        events.submit("deploy", timestamp="2026-01-01T00:00:00Z")
    assert caught.value.response.status_code == 400
    assert warroom.api.get("/api/v1/alerts").json()["items"] == []
    assert warroom.api.get("/api/v1/changes").json() == []
    assert warroom.api.get("/api/v1/incidents").json()["items"] == []
