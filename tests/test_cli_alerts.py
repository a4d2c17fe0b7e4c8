"""`warroom alert|silence|change|integration` against a real HTTP server."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner

from tests.conftest import Api, LiveServer
from warroom.cli.main import main


def run(server: LiveServer, token: str, *args: str) -> Any:
    result = CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}
    )
    return result


def test_integration_alerts_silences_changes(
    live_server: LiveServer, people: dict[str, str], admin: Api
) -> None:
    admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "teams": [{"name": "web"}],
                "services": [{"name": "checkout", "owner": "web"}],
            }
        },
    )
    r = run(
        live_server,
        people["admin"],
        "integration",
        "create",
        "prom",
        "--kind",
        "pagerduty",
        "--service",
        "checkout",
        "--json",
    )
    assert r.exit_code == 0, r.output
    key = json.loads(r.output)["key"]
    r = run(live_server, people["admin"], "integration", "list")
    assert "prom" in r.output and key not in r.output
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "d1",
        "payload": {"summary": "Checkout 5xx", "source": "prom", "severity": "critical"},
    }
    assert httpx.post(f"{live_server.url}/v2/enqueue", json=body).status_code == 202
    r = run(live_server, people["alice"], "alert", "list")
    assert r.exit_code == 0 and "Checkout 5xx" in r.output and "INC-1" in r.output
    r = run(live_server, people["alice"], "alert", "list", "--status", "open", "--json")
    alert_id = json.loads(r.output)[0]["id"]
    r = run(live_server, people["alice"], "alert", "ack", str(alert_id))
    assert r.exit_code == 0 and "acknowledged" in r.output
    r = run(
        live_server,
        people["alice"],
        "alert",
        "mark-noise",
        str(alert_id),
        "--reason",
        "false_positive",
    )
    assert r.exit_code == 0 and "false_positive" in r.output
    r = run(live_server, people["alice"], "alert", "show", str(alert_id))
    assert "dedup_key" in r.output and "d1" in r.output
    r = run(live_server, people["alice"], "alert", "resolve", str(alert_id))
    assert "resolved" in r.output
    r = run(live_server, people["alice"], "alert", "show", "999")
    assert r.exit_code != 0 and "not found" in r.output

    r = run(
        live_server,
        people["alice"],
        "silence",
        "add",
        "alertname=Foo",
        "--duration",
        "1h",
        "--comment",
        "noisy",
    )
    assert r.exit_code == 0, r.output
    r = run(live_server, people["alice"], "silence", "list", "--json")
    sid = json.loads(r.output)[0]["id"]
    r = run(live_server, people["alice"], "silence", "expire", str(sid))
    assert "expired" in r.output
    r = run(
        live_server, people["alice"], "silence", "add", "--duration", "1x", "--comment", "x", "a=b"
    )
    assert r.exit_code != 0 and "duration" in r.output
    r = run(
        live_server,
        people["alice"],
        "silence",
        "add",
        "--service",
        "checkout",
        "--comment",
        "upgrade",
    )
    assert r.exit_code == 0 and "maintenance" in r.output

    r = run(
        live_server,
        people["alice"],
        "change",
        "record",
        "Deploy checkout v42",
        "--service",
        "checkout",
        "--at",
        "2026-03-02T08:30:00Z",
    )
    assert r.exit_code == 0, r.output
    r = run(live_server, people["alice"], "change", "list", "--service", "checkout")
    assert "Deploy checkout v42" in r.output
    r = run(live_server, people["alice"], "change", "record", "x", "--service", "nope")
    assert r.exit_code != 0 and "unknown service" in r.output

    r = run(live_server, people["admin"], "integration", "rotate", "prom")
    assert r.exit_code == 0
    assert httpx.post(f"{live_server.url}/v2/enqueue", json=body).status_code == 400
