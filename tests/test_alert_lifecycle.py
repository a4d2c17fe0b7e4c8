"""An alert and its incident in every order of events: no trigger is ever absorbed by
an incident that is over, and a page carries the alert that woke someone up.

The organisation is the paging tests' (tests/test_paging_core.py): checkout's escalation
policy pages the payments schedule (alice from T0), then bob; pages land on local
webhook receivers. Alerts arrive over HTTP through the intake, as monitoring sends them.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from tests.test_paging_core import paging_config
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


@pytest.fixture
def org(
    db: Database, clock: ManualClock, people: dict[str, str], hooks: dict[str, WebhookReceiver]
) -> dict[str, str]:
    """Integration keys: `pd` (PagerDuty Events v2) and `am` (Alertmanager), on checkout."""
    cfg = paging_config(hooks)
    cfg["integrations"] = [
        {"name": "pd", "kind": "pagerduty", "service": "checkout"},
        {"name": "am", "kind": "alertmanager", "service": "checkout"},
    ]
    with db.session() as s:
        changes = config.apply(s, clock, cfg)
    return {c.name: str(c.key) for c in changes if c.kind == "integrations"}


@pytest.fixture
def engine(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


def fire(client: TestClient, key: str, dedup: str, action: str = "trigger", **payload: Any) -> None:
    body: dict[str, Any] = {"routing_key": key, "event_action": action, "dedup_key": dedup}
    if action == "trigger":
        body["payload"] = {
            "summary": f"{dedup} failing",
            "source": "prom-1",
            "severity": "critical",
            **payload,
        }
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 202, r.text


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(reversed(api.get("/api/v1/incidents").json()["items"]))


def alerts(api: Api) -> list[dict[str, Any]]:
    return sorted(api.get("/api/v1/alerts").json()["items"], key=lambda a: a["id"])


def timeline(api: Api, ref: str) -> list[str]:
    return [e["text"] for e in api.get(f"/api/v1/incidents/{ref}").json()["timeline"]]


def pages(hooks: dict[str, WebhookReceiver]) -> list[dict[str, Any]]:
    return [b for b in hooks["alice"].bodies() if b["event"] == "page"]


def test_resolving_by_hand_resolves_the_alerts_and_a_refire_opens_a_new_incident_and_pages(
    client: TestClient,
    alice: Api,
    org: dict[str, str],
    engine: Worker,
    hooks: dict[str, WebhookReceiver],
    clock: ManualClock,
) -> None:
    fire(client, org["pd"], "checkout-5xx")
    fire(client, org["pd"], "checkout-latency")
    engine.run_due()
    (first,) = incidents(alice)
    assert len(pages(hooks)) == 1
    r = alice.post(f"/api/v1/incidents/{first['id']}/resolve", json={"summary": "rolled back"})
    assert r.status_code == 200, r.text
    assert [a["status"] for a in alerts(alice)] == ["resolved", "resolved"]
    engine.run_due()  # what reacts to the resolve (the postmortem) writes its lines now
    lines = timeline(alice, first["id"])
    assert any(t.startswith("2 open alert(s) resolved with the incident by alice") for t in lines)
    before = len(lines)

    clock.advance(minutes=3)
    fire(client, org["pd"], "checkout-5xx")  # still failing at the source
    engine.run_due()
    old, new = incidents(alice)
    assert old["status"] == "resolved" and new["status"] == "investigating"
    assert alerts(alice)[-1]["incident"] == new["id"] and alerts(alice)[-1]["status"] == "triggered"
    assert len(timeline(alice, old["id"])) == before  # the ended incident took nothing in
    assert any(t.startswith("Alert fired") for t in timeline(alice, new["id"]))
    assert [p["incident"]["id"] for p in pages(hooks)] == [old["id"], new["id"]]


def test_alert_resolved_at_the_source_first_then_a_refire_opens_a_new_incident(
    client: TestClient,
    alice: Api,
    org: dict[str, str],
    engine: Worker,
    hooks: dict[str, WebhookReceiver],
    clock: ManualClock,
) -> None:
    fire(client, org["pd"], "disk")
    engine.run_due()
    clock.advance(minutes=2)
    fire(client, org["pd"], "disk", "resolve")
    (first,) = incidents(alice)
    assert first["status"] == "resolved"  # it ended with its last alert
    clock.advance(minutes=5)
    fire(client, org["pd"], "disk")
    engine.run_due()
    old, new = incidents(alice)
    assert (old["status"], new["status"]) == ("resolved", "investigating")
    assert len(pages(hooks)) == 2


def test_refire_during_monitoring_rejoins_its_incident_however_long_after(
    client: TestClient,
    alice: Api,
    org: dict[str, str],
    engine: Worker,
    hooks: dict[str, WebhookReceiver],
    clock: ManualClock,
) -> None:
    fire(client, org["pd"], "5xx")
    fire(client, org["pd"], "latency")
    engine.run_due()
    (inc,) = incidents(alice)
    r = alice.post(f"/api/v1/incidents/{inc['id']}/ack")
    assert r.status_code == 200
    r = alice.post(f"/api/v1/incidents/{inc['id']}/status", json={"status": "monitoring"})
    assert r.status_code == 200, r.text
    fire(client, org["pd"], "5xx")  # a repeat of an open alert: counted, nothing new
    assert [a["occurrences"] for a in alerts(alice)] == [2, 1]
    fire(client, org["pd"], "5xx", "resolve")  # latency still fires: the incident stays
    assert incidents(alice)[0]["status"] == "monitoring"

    clock.advance(hours=3)  # far beyond the grouping window of 60 minutes
    fire(client, org["pd"], "5xx")
    engine.run_due()
    assert [i["id"] for i in incidents(alice)] == [inc["id"]]
    assert alerts(alice)[-1]["incident"] == inc["id"]
    assert "Alert fired again while the incident is monitoring: 5xx failing" in timeline(
        alice, inc["id"]
    )
    assert len(pages(hooks)) == 1  # acknowledged: nobody is woken up again


def test_refire_after_close_opens_a_new_incident(
    client: TestClient, alice: Api, org: dict[str, str], engine: Worker, clock: ManualClock
) -> None:
    fire(client, org["pd"], "queue-depth")
    (inc,) = incidents(alice)
    alice.post(f"/api/v1/incidents/{inc['id']}/resolve", json={})
    r = alice.post(f"/api/v1/incidents/{inc['id']}/status", json={"status": "closed"})
    assert r.status_code == 200, r.text
    clock.advance(days=2)
    fire(client, org["pd"], "queue-depth")
    old, new = incidents(alice)
    assert (old["status"], new["status"]) == ("closed", "investigating")
    assert alerts(alice)[-1]["incident"] == new["id"]


def test_a_flapping_alert_after_manual_resolves_is_recorded_but_opens_nothing_more(
    client: TestClient, alice: Api, org: dict[str, str], engine: Worker, clock: ManualClock
) -> None:
    for _ in range(2):
        fire(client, org["pd"], "flappy")
        latest = incidents(alice)[-1]
        alice.post(f"/api/v1/incidents/{latest['id']}/resolve", json={})
        clock.advance(minutes=2)
    fire(client, org["pd"], "flappy")  # the third fire within 30 minutes
    assert len(incidents(alice)) == 2
    last = alerts(alice)[-1]
    assert last["flapping"] is True and last["incident"] is None
    assert [a["status"] for a in alerts(alice)] == ["resolved", "resolved", "triggered"]


def _am_body(runbook: str, summary: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{service="checkout"}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"service": "checkout"},
        "commonLabels": {"service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {"summary": summary, "runbook_url": runbook},
                "startsAt": "2026-03-02T08:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": "fp-high-error-rate",
            }
        ],
    }


def test_the_page_of_an_alert_opened_incident_carries_the_alert_and_refires_update_it(
    client: TestClient,
    alice: Api,
    org: dict[str, str],
    engine: Worker,
    hooks: dict[str, WebhookReceiver],
) -> None:
    url = f"/integrations/alertmanager/{org['am']}"
    r = client.post(url, json=_am_body("https://runbooks/v1", "error rate 6%"))
    assert r.status_code == 202, r.text
    engine.run_due()
    (page,) = pages(hooks)
    assert page["incident"]["id"] == incidents(alice)[0]["id"]
    assert page["alert"]["summary"] == "error rate 6%"
    assert {"href": "https://runbooks/v1", "text": "runbook"} in page["alert"]["links"]
    assert page["alert"]["annotations"]["runbook_url"] == "https://runbooks/v1"

    # Alertmanager repeats the firing alert with new annotations (the repeats path).
    r = client.post(url, json=_am_body("https://runbooks/v2", "error rate 9%"))
    assert r.status_code == 202, r.text
    (alert,) = alerts(alice)
    assert alert["occurrences"] == 2 and alert["summary"] == "error rate 9%"
    assert alert["annotations"]["runbook_url"] == "https://runbooks/v2"
    assert {"href": "https://runbooks/v2", "text": "runbook"} in alert["links"]
    assert {"href": "https://runbooks/v1", "text": "runbook"} not in alert["links"]


def test_a_storm_in_one_notification_opens_one_incident_with_one_line_for_the_rest(
    client: TestClient, alice: Api, org: dict[str, str], engine: Worker
) -> None:
    body = _am_body("https://runbooks/v1", "x")
    template = body["alerts"][0]
    body["alerts"] = [
        {
            **template,
            "labels": {"alertname": f"PodDown{n}", "severity": "critical"},
            "annotations": {"summary": f"pod-{n} down"},
            "fingerprint": f"fp-{n}",
        }
        for n in range(6)
    ]
    r = client.post(f"/integrations/alertmanager/{org['am']}", json=body)
    assert r.status_code == 202, r.text
    (inc,) = incidents(alice)
    assert {a["incident"] for a in alerts(alice)} == {inc["id"]}
    lines = [t for t in timeline(alice, inc["id"]) if "pod-" in t and "Declared" not in t]
    assert lines == [
        "Alert fired: pod-0 down",
        "5 alerts grouped into this incident: pod-1 down; pod-2 down; pod-3 down and 2 more",
    ]
    # The same alerts again in one notification are repeats: counted, no new lines.
    r = client.post(f"/integrations/alertmanager/{org['am']}", json=body)
    assert r.status_code == 202
    assert [a["occurrences"] for a in alerts(alice)] == [2] * 6
    assert [t for t in timeline(alice, inc["id"]) if "pod-" in t and "Declared" not in t] == lines


def test_a_new_alert_resolved_in_the_same_batch_keeps_the_order_of_events(
    alice: Api, org: dict[str, str], db: Database, clock: ManualClock
) -> None:
    from warroom.alerts import ingestion
    from warroom.alerts.integrations import integration_by_name
    from warroom.alerts.parsers import NormalizedEvent

    def ev(action: str, key: str) -> NormalizedEvent:
        return NormalizedEvent(action, key, summary=f"{key} failing", severity="critical")

    with db.session() as s:
        integ = integration_by_name(s, "pd")
        out = ingestion.ingest(
            s, clock, integ, [ev("trigger", "a"), ev("trigger", "b"), ev("resolve", "a")]
        )
    assert [o.action for o in out] == ["created", "created", "resolved"]
    (inc,) = incidents(alice)
    lines = [t for t in timeline(alice, inc["id"]) if "failing" in t and "Declared" not in t]
    assert lines == [
        "Alert fired: a failing",
        "Alert grouped into this incident: b failing",
        "Alert resolved: a failing",
    ]
    assert inc["status"] == "investigating"  # b still fires
