"""Alert ingestion: PagerDuty Events v2, Alertmanager, Grafana and webhook formats."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.core.clock import ManualClock
from warroom.db.session import Database


@pytest.fixture
def services(admin: Api) -> None:
    r = admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "payments"}],
                "services": [
                    {"name": "checkout", "owner": "payments", "depends_on": ["payments-api"]},
                    {"name": "payments-api", "owner": "payments", "depends_on": ["postgres"]},
                    {"name": "postgres", "owner": "payments"},
                    {"name": "search", "owner": "payments"},
                ],
            }
        },
    )
    assert r.status_code == 200, r.text


def integration(
    admin: Api, kind: str, service: str | None = "checkout", **kw: Any
) -> dict[str, Any]:
    r = admin.post(
        "/api/v1/integrations",
        json={"name": f"{kind}-{service}-{len(kw)}", "kind": kind, "service": service, **kw},
    )
    assert r.status_code == 201, r.text
    return r.json()


def pd(
    client: TestClient, key: str, action: str = "trigger", dedup: str | None = "k1", **payload: Any
) -> Any:
    body: dict[str, Any] = {"routing_key": key, "event_action": action}
    if dedup is not None:
        body["dedup_key"] = dedup
    if action == "trigger":
        body["payload"] = {
            "summary": "Checkout 5xx above 5%",
            "source": "prom-1",
            "severity": "critical",
            **payload,
        }
    return client.post("/v2/enqueue", json=body)


def test_pd_trigger_opens_incident_and_dedups(
    client: TestClient, admin: Api, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    assert len(key) == 32
    r = pd(client, key, timestamp="2026-03-02T08:55:00Z")
    assert r.status_code == 202
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "k1"}
    r = pd(client, key)
    assert r.status_code == 202
    alerts = admin.get("/api/v1/alerts").json()["items"]
    assert len(alerts) == 1
    a = alerts[0]
    assert a["occurrences"] == 2 and a["status"] == "triggered" and a["service"] == "checkout"
    assert a["severity"] == "SEV-1" and a["incident"] == "INC-1"
    inc = admin.get("/api/v1/incidents/1").json()
    assert inc["detection_source"] == "automated_alert"
    assert inc["milestones"]["detected"] == "2026-03-02T09:00:00Z"
    assert inc["milestones"]["started"] == "2026-03-02T08:55:00Z"
    assert inc["services"] == ["checkout"]
    assert any(e["kind"] == "alert" for e in inc["timeline"])


def test_pd_generates_dedup_key_and_ack_resolve(
    client: TestClient, admin: Api, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    r = pd(client, key, dedup=None)
    dedup = r.json()["dedup_key"]
    assert dedup
    assert pd(client, key, "acknowledge", dedup).status_code == 202
    assert admin.get("/api/v1/alerts").json()["items"][0]["status"] == "acknowledged"
    assert pd(client, key, "resolve", dedup).status_code == 202
    a = admin.get("/api/v1/alerts").json()["items"][0]
    assert a["status"] == "resolved"
    # the incident it opened, which nobody took over, resolves with its last alert
    assert admin.get("/api/v1/incidents/1").json()["status"] == "resolved"
    # the same key firing again is a new alert
    pd(client, key, dedup=dedup)
    assert len(admin.get("/api/v1/alerts").json()["items"]) == 2


def test_pd_validation_errors_match_the_format(
    client: TestClient, admin: Api, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    r = client.post("/v2/enqueue", json={"routing_key": "short", "event_action": "trigger"})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert "Length of 'routing_key' is incorrect (should be 32 characters)" in body["errors"]
    assert "'payload' is missing or not an object" in body["errors"]
    r = client.post("/v2/enqueue", json={"routing_key": key, "event_action": "explode"})
    assert r.status_code == 400 and "event_action" in r.json()["errors"][0]
    r = client.post("/v2/enqueue", json={"routing_key": key, "event_action": "resolve"})
    assert "'dedup_key' is required for event_action 'resolve'" in r.json()["errors"]
    r = pd(client, key, severity="apocalyptic")
    assert any("payload.severity" in e for e in r.json()["errors"])
    r = client.post("/v2/enqueue", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["errors"][0]
    r = pd(client, "0" * 32)
    assert r.status_code == 400 and "routing_key" in r.json()["errors"][0]
    r = client.post("/v2/enqueue", content=b"x" * (1024 * 1024 + 10))
    assert r.status_code == 413
    assert admin.get("/api/v1/alerts").json()["items"] == []
    assert admin.get("/api/v1/incidents").json()["items"] == []


def test_rate_limit_answers_429_with_retry_after(
    client: TestClient, admin: Api, services: None
) -> None:
    key = integration(admin, "pagerduty", rate_per_minute=2)["key"]
    assert pd(client, key, dedup="a").status_code == 202
    assert pd(client, key, dedup="b").status_code == 202
    r = pd(client, key, dedup="c")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert len(admin.get("/api/v1/alerts").json()["items"]) == 2


def test_hmac_signature(client: TestClient, admin: Api, services: None) -> None:
    import hashlib
    import hmac
    import json

    secret = "s3cret-s3cret-s3cret"
    key = integration(admin, "pagerduty", hmac_secret=secret)["key"]
    body = json.dumps(
        {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "x",
            "payload": {"summary": "s", "source": "s", "severity": "error"},
        }
    ).encode()
    assert client.post("/v2/enqueue", content=body).status_code == 401
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    r = client.post("/v2/enqueue", content=body, headers={"X-Warroom-Signature": sig})
    assert r.status_code == 202


def test_change_events_and_recent_changes(
    client: TestClient, admin: Api, clock: ManualClock, services: None
) -> None:
    key = integration(admin, "pagerduty", service="postgres")["key"]
    r = client.post(
        "/v2/change/enqueue",
        json={
            "routing_key": key,
            "payload": {
                "summary": "postgres 15.4 -> 15.5",
                "timestamp": "2026-03-02T08:10:00Z",
                "source": "ci",
            },
        },
    )
    assert r.status_code == 202 and r.json()["status"] == "success"
    admin.post(
        "/api/v1/changes",
        json={"summary": "old deploy", "service": "checkout", "at": "2026-03-02T06:00:00Z"},
    )
    admin.post(
        "/api/v1/changes",
        json={"summary": "search deploy", "service": "search", "at": "2026-03-02T08:30:00Z"},
    )
    admin.post(
        "/api/v1/changes",
        json={
            "summary": "flag: new-cart on",
            "service": "checkout",
            "kind": "feature_flag",
            "at": "2026-03-02T08:50:00Z",
        },
    )
    admin.post(
        "/api/v1/incidents",
        json={"title": "Checkout errors", "severity": "SEV-2", "services": ["checkout"]},
    )
    changes = admin.get("/api/v1/incidents/1/changes").json()
    assert [c["summary"] for c in changes] == ["flag: new-cart on", "postgres 15.4 -> 15.5"]
    assert changes[0]["direct"] is True and changes[1]["direct"] is False
    assert changes[1]["before_detection_minutes"] == 50


def alertmanager_body(
    status: str = "firing", names: tuple[str, ...] = ("HighErrorRate",), truncated: int = 0
) -> dict[str, Any]:
    alerts = [
        {
            "status": status,
            "labels": {"alertname": n, "service": "checkout", "severity": "critical"},
            "annotations": {"summary": f"{n} on checkout", "runbook_url": "https://runbooks/x"},
            "startsAt": "2026-03-02T08:58:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"fp-{n}",
        }
        for n in names
    ]
    return {
        "version": "4",
        "groupKey": '{}:{service="checkout"}',
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": "warroom",
        "groupLabels": {"service": "checkout"},
        "commonLabels": {"service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def test_alertmanager_groups_into_one_incident_and_resolves(
    client: TestClient, admin: Api, services: None
) -> None:
    key = integration(admin, "alertmanager")["key"]
    url = f"/integrations/alertmanager/{key}"
    r = client.post(
        url, json=alertmanager_body(names=("HighErrorRate", "HighLatency"), truncated=3)
    )
    assert r.status_code == 202, r.text
    assert r.json()["alerts"] == 2 and r.json()["truncated"] == 3
    alerts = admin.get("/api/v1/alerts").json()["items"]
    assert {a["incident"] for a in alerts} == {"INC-1"}
    assert alerts[0]["links"][0]["href"] == "http://prometheus/graph"
    assert any(link["href"] == "https://runbooks/x" for link in alerts[0]["links"])
    inc = admin.get("/api/v1/incidents/1").json()
    assert inc["milestones"]["started"] == "2026-03-02T08:58:00.123456Z"
    client.post(url, json=alertmanager_body("resolved", names=("HighErrorRate",)))
    assert admin.get("/api/v1/incidents/1").json()["status"] == "investigating"
    client.post(url, json=alertmanager_body("resolved", names=("HighLatency",)))
    assert admin.get("/api/v1/incidents/1").json()["status"] == "resolved"
    assert len(admin.get("/api/v1/incidents").json()["items"]) == 1


def test_incident_taken_over_by_a_person_stays_open(
    client: TestClient, admin: Api, alice: Api, services: None
) -> None:
    key = integration(admin, "alertmanager")["key"]
    url = f"/integrations/alertmanager/{key}"
    client.post(url, json=alertmanager_body())
    # it is not closed automatically once people work it... as long as a human declared it
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    client.post(url, json=alertmanager_body("resolved"))
    inc = admin.get("/api/v1/incidents/1").json()
    assert inc["status"] == "resolved"  # alert-opened incidents end with their alerts


def test_silence_stores_alert_but_opens_nothing(
    client: TestClient, admin: Api, alice: Api, services: None
) -> None:
    key = integration(admin, "alertmanager")["key"]
    r = alice.post(
        "/api/v1/silences",
        json={
            "matchers": ["alertname=~High.*"],
            "ends_at": "2026-03-02T12:00:00Z",
            "comment": "load test",
        },
    )
    assert r.status_code == 201, r.text
    client.post(f"/integrations/alertmanager/{key}", json=alertmanager_body())
    a = admin.get("/api/v1/alerts").json()["items"][0]
    assert a["suppressed_by"].startswith("silence #") and a["incident"] is None
    assert admin.get("/api/v1/incidents").json()["items"] == []
    r = alice.post(
        "/api/v1/silences",
        json={"matchers": ["alertname=~("], "ends_at": "2026-03-02T12:00:00Z", "comment": "x"},
    )
    assert r.status_code == 422 and r.json()["field"] == "matchers.0"


def test_maintenance_window_by_service(
    client: TestClient, admin: Api, alice: Api, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    r = alice.post(
        "/api/v1/silences",
        json={
            "kind": "maintenance",
            "services": ["checkout"],
            "ends_at": "2026-03-02T10:00:00Z",
            "comment": "DB upgrade",
        },
    )
    assert r.status_code == 201
    pd(client, key)
    assert admin.get("/api/v1/alerts").json()["items"][0]["suppressed_by"].startswith("maintenance")
    assert admin.get("/api/v1/incidents").json()["items"] == []


def test_flapping_alert_opens_no_new_incident(
    client: TestClient, admin: Api, clock: ManualClock, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    for _ in range(2):
        pd(client, key, dedup="flap")
        clock.advance(minutes=1)
        pd(client, key, "resolve", "flap")
        clock.advance(minutes=1)
    pd(client, key, dedup="flap")
    alerts = admin.get("/api/v1/alerts").json()["items"]
    assert alerts[0]["flapping"] is True and alerts[0]["incident"] is None
    assert len(admin.get("/api/v1/incidents").json()["items"]) == 2


def test_mark_noise_and_counts_per_rule(
    client: TestClient, admin: Api, alice: Api, services: None
) -> None:
    key = integration(admin, "pagerduty")["key"]
    pd(client, key, dedup="a")
    pd(client, key, dedup="b", severity="warning")
    ids = [a["id"] for a in admin.get("/api/v1/alerts").json()["items"]]
    r = alice.post(
        f"/api/v1/alerts/{ids[0]}/noise", json={"reason": "false_positive", "note": "threshold"}
    )
    assert r.status_code == 200 and r.json()["noise"] == "false_positive"
    r = alice.post(f"/api/v1/alerts/{ids[0]}/noise", json={"reason": "meh"})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    report = admin.get("/api/v1/alerts/noise").json()
    assert report == [{"rule": None, "alerts": 2, "non_actionable": 1, "share": 0.5}]
    assert len(admin.get("/api/v1/alerts?noise=true").json()["items"]) == 1


def test_grafana_and_webhook(client: TestClient, admin: Api, services: None) -> None:
    gkey = integration(admin, "grafana")["key"]
    body = alertmanager_body()
    body.pop("version")
    body["alerts"][0]["dashboardURL"] = "http://grafana/d/abc"
    body["alerts"][0]["valueString"] = "[ var='A' value=7 ]"
    r = client.post(f"/integrations/grafana/{gkey}", json=body)
    assert r.status_code == 202, r.text
    a = admin.get("/api/v1/alerts").json()["items"][0]
    assert {"href": "http://grafana/d/abc", "text": "dashboard"} in a["links"]
    wkey = integration(
        admin,
        "webhook",
        service="search",
        mapping={
            "title": "check.name",
            "dedup_key": "check.id",
            "status": "state",
            "severity": "level",
        },
    )["key"]
    url = f"/integrations/webhook/{wkey}"
    r = client.post(
        url,
        json={
            "check": {"name": "Search probe failing", "id": "c-9"},
            "state": "down",
            "level": "critical",
        },
    )
    assert r.status_code == 202
    r = client.post(url, json={"check": {"id": "c-9"}, "state": "down"})
    assert r.status_code == 400 and "check.name" in r.json()["error"]
    r = client.post(
        url, json={"check": {"name": "Search probe failing", "id": "c-9"}, "state": "resolved"}
    )
    assert r.json()["results"][0]["action"] == "resolved"
    assert client.post(f"/integrations/webhook/{'0' * 32}", json={}).status_code == 404
    assert client.post(f"/integrations/nagios/{wkey}", json={}).status_code == 404


def test_bad_alertmanager_payloads(client: TestClient, admin: Api, services: None) -> None:
    key = integration(admin, "alertmanager")["key"]
    url = f"/integrations/alertmanager/{key}"
    for body in (
        [],
        {"alerts": "no"},
        {"alerts": [{"status": "weird", "labels": {"a": "b"}}]},
        {"alerts": [{"status": "firing"}]},
        {"version": "3", "alerts": []},
    ):
        r = client.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"]
    assert admin.get("/api/v1/alerts").json()["items"] == []


def test_private_incident_alerts_are_hidden(
    client: TestClient, admin: Api, bob: Api, services: None, db: Database
) -> None:
    key = integration(admin, "pagerduty")["key"]
    pd(client, key)
    admin.patch("/api/v1/incidents/1", json={"private": True})
    assert bob.get("/api/v1/alerts").json()["items"] == []
    assert bob.get("/api/v1/alerts/1").status_code == 404
    assert len(admin.get("/api/v1/alerts").json()["items"]) == 1


def test_one_batch_with_repeats_ack_resolve_and_refire(
    db: Database, clock: ManualClock, admin: Api, services: None
) -> None:
    """Group commit puts many requests in one transaction; order must still hold."""
    from warroom.alerts import ingestion as alert_ingestion
    from warroom.alerts.models import Integration
    from warroom.alerts.parsers import NormalizedEvent

    integration(admin, "pagerduty")

    def ev(action: str, key: str = "k") -> NormalizedEvent:
        return NormalizedEvent(
            action=action, dedup_key=key, summary=f"{action} {key}", source="s", severity="warning"
        )

    with db.session() as s:
        integ = s.query(Integration).one()
        first = alert_ingestion.ingest(
            s, clock, integ, [ev("trigger"), ev("trigger"), ev("trigger", "other")]
        )
    assert [o.action for o in first] == ["created", "updated", "created"]
    clock.advance(minutes=1)
    with db.session() as s:
        integ = s.query(Integration).one()
        out = alert_ingestion.ingest(
            s,
            clock,
            integ,
            [
                ev("trigger"),
                ev("trigger"),
                ev("acknowledge"),
                ev("trigger"),
                ev("resolve"),
                ev("trigger"),
                ev("trigger", "other"),
                ev("resolve", "missing"),
            ],
        )
    assert [o.action for o in out] == [
        "updated",
        "updated",
        "acknowledged",
        "updated",
        "resolved",
        "created",
        "updated",
        "ignored",
    ]
    items = {
        (a["dedup_key"], a["status"]): a
        for a in admin.get("/api/v1/alerts?limit=10").json()["items"]
    }
    old = items[("k", "resolved")]
    assert old["occurrences"] == 5 and old["acknowledged_at"] == "2026-03-02T09:01:00Z"
    assert items[("k", "triggered")]["occurrences"] == 1
    assert items[("other", "triggered")]["occurrences"] == 2
    assert items[("other", "triggered")]["last_seen"] == "2026-03-02T09:01:00Z"
