"""Prometheus Alertmanager (Debian's `prometheus-alertmanager`, a real process) notifying
warroom through its webhook receiver: grouping into one incident, then resolution.

Alertmanager works in real time, so warroom runs here on the SystemClock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._programs import Program, admin_token, serve, start_alertmanager, wait_until
from warroom.app import create_app
from warroom.core.clock import SystemClock
from warroom.db.session import Database

pytestmark = pytest.mark.e2e

DEADLINE = 30.0  # seconds any notification may take to arrive and be applied
GROUP_KEY = '{}:{service="checkout"}'


@pytest.fixture
def warroom(db: Database) -> Iterator[httpx.Client]:
    """warroom on real time over real HTTP; a client holding an admin token."""
    token = admin_token(db)
    with (
        serve(create_app(db, SystemClock())) as url,
        httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            trust_env=False,
        ) as client,
    ):
        r = client.post(
            "/api/v1/config/apply",
            json={
                "config": {
                    "teams": [{"name": "payments"}],
                    "services": [{"name": "checkout", "owner": "payments"}],
                }
            },
        )
        assert r.status_code == 200, r.text
        yield client


def am_config(webhook: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "warroom",
            "group_by": ["service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "warroom", "webhook_configs": [{"url": webhook, "send_resolved": True}]}
        ],
    }


@pytest.fixture
def alertmanager(warroom: httpx.Client, tmp_path: Path) -> Iterator[tuple[httpx.Client, Program]]:
    """A real Alertmanager whose only receiver is a warroom `alertmanager` integration."""
    r = warroom.post(
        "/api/v1/integrations",
        json={"name": "prometheus", "kind": "alertmanager", "service": "checkout"},
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()["endpoint"]
    assert endpoint == f"{warroom.base_url}/integrations/alertmanager/{r.json()['key']}"
    client, program = start_alertmanager(am_config(endpoint), tmp_path, DEADLINE)
    try:
        yield client, program
    finally:
        client.close()
        program.stop()


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def am_alerts(starts: dt.datetime, ends: dt.datetime | None = None) -> list[dict[str, Any]]:
    out = []
    for name, text in (("HighErrorRate", "5xx above 5%"), ("HighLatency", "p99 above 2s")):
        alert: dict[str, Any] = {
            "labels": {
                "alertname": name,
                "service": "checkout",
                "severity": "critical",
                "instance": "checkout-1:9100",
            },
            "annotations": {
                "summary": f"checkout: {text}",
                "runbook_url": f"https://runbooks.example.test/{name}",
            },
            "generatorURL": f"http://prometheus.example.test/graph?g0.expr={name}",
            "startsAt": rfc3339(starts),
        }
        if ends is not None:
            alert["endsAt"] = rfc3339(ends)
        out.append(alert)
    return out


def test_alertmanager_groups_alerts_into_one_incident_and_resolves_it(
    warroom: httpx.Client, alertmanager: tuple[httpx.Client, Program]
) -> None:
    am, program = alertmanager
    starts = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    r = am.post("/api/v2/alerts", json=am_alerts(starts))
    assert r.status_code == 200, r.text
    fingerprints = {
        a["labels"]["alertname"]: a["fingerprint"] for a in am.get("/api/v2/alerts").json()
    }
    assert set(fingerprints) == {"HighErrorRate", "HighLatency"}

    def grouped() -> list[dict[str, Any]] | None:
        alerts = warroom.get("/api/v1/alerts").json()["items"]
        if len(alerts) == 2 and all(a["incident"] for a in alerts):
            return alerts
        return None

    alerts = wait_until(grouped, "both alerts in warroom", DEADLINE, program.output)
    incidents = warroom.get("/api/v1/incidents").json()["items"]
    assert len(incidents) == 1, incidents
    inc = incidents[0]
    assert {a["incident"] for a in alerts} == {inc["id"]}
    assert inc["status"] == "investigating"
    assert inc["severity"] == "SEV-1"  # severity=critical
    assert inc["services"] == ["checkout"]
    assert inc["detection_source"] == "automated_alert"
    by_name = {a["labels"]["alertname"]: a for a in alerts}
    for name, a in by_name.items():
        # Alertmanager's own fingerprint is the dedup key; its group key groups them.
        assert a["dedup_key"] == fingerprints[name]
        assert a["status"] == "triggered"
        assert a["service"] == "checkout" and a["integration"] == "prometheus"
        assert a["details"]["group"] == GROUP_KEY
        assert a["source"] == "checkout-1:9100"
        assert a["starts_at"] == rfc3339(starts)
        assert {
            "href": f"http://prometheus.example.test/graph?g0.expr={name}",
            "text": "source",
        } in a["links"]
        assert {"href": f"https://runbooks.example.test/{name}", "text": "runbook"} in a["links"]
    assert by_name["HighErrorRate"]["summary"] == "checkout: 5xx above 5%"
    assert len(warroom.get(f"/api/v1/incidents/{inc['id']}/alerts").json()) == 2

    # Prometheus stops firing: the same alerts again, ended a moment ago.
    ends = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    r = am.post("/api/v2/alerts", json=am_alerts(starts, ends))
    assert r.status_code == 200, r.text

    def resolved() -> dict[str, Any] | None:
        got = warroom.get(f"/api/v1/incidents/{inc['id']}").json()
        return got if got["status"] == "resolved" else None

    done = wait_until(resolved, "the incident to resolve", DEADLINE, program.output)
    assert done["resolved_at"]
    alerts = warroom.get("/api/v1/alerts").json()["items"]
    assert len(alerts) == 2
    assert {a["status"] for a in alerts} == {"resolved"}
    assert len(warroom.get("/api/v1/incidents").json()["items"]) == 1
    kinds = [e["text"] for e in done["timeline"] if e["kind"] == "alert"]
    assert sum(t.startswith("Alert resolved") for t in kinds) == 2, kinds
