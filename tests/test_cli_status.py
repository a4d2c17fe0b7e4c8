"""`warroom status component|incident|maintenance` against a real HTTP server."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner

from tests.conftest import Api, LiveServer
from warroom.cli.main import main


def run(server: LiveServer, token: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}
    )


def test_status_cli(live_server: LiveServer, people: dict[str, str], alice: Api) -> None:
    adm, al = people["admin"], people["alice"]
    r = run(
        live_server, adm, "status", "page", "--name", "Acme", "--url", "https://s.example/status"
    )
    assert r.exit_code == 0 and "Acme  https://s.example/status" in r.output
    r = run(live_server, al, "status", "page", "--json")
    assert json.loads(r.output)["name"] == "Acme"
    r = run(live_server, al, "status", "page", "--name", "Nope")
    assert r.exit_code != 0 and "403" in r.output
    r = run(live_server, adm, "status", "component", "add", "Payments", "--is-group")
    assert r.exit_code == 0, r.output
    r = run(live_server, adm, "status", "component", "add", "Checkout", "--group", "Payments")
    assert r.exit_code == 0 and "Checkout" in r.output and "operational" in r.output
    r = run(live_server, adm, "status", "component", "add", "API", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["name"] == "API"
    r = run(live_server, al, "status", "component", "add", "Nope")
    assert r.exit_code != 0 and "admin" in r.output and "403" in r.output
    r = run(live_server, al, "status", "component", "set", "API", "degraded_performance")
    assert r.exit_code == 0 and "degraded_performance" in r.output
    r = run(live_server, al, "status", "component", "set", "API", "broken")
    assert r.exit_code != 0 and "operational" in r.output
    r = run(live_server, al, "status", "component", "list")
    assert r.exit_code == 0 and "Checkout" in r.output and "Payments" in r.output
    rows = json.loads(run(live_server, al, "status", "component", "list", "--json").output)
    assert {c["name"]: c["status"] for c in rows}["API"] == "degraded_performance"

    inc = alice.post("/api/v1/incidents", json={"title": "Checkout 500s", "severity": "SEV-2"})
    ref = inc.json()["id"]
    secret = alice.post(
        "/api/v1/incidents", json={"title": "Secret", "severity": "SEV-3", "private": True}
    ).json()["id"]
    r = run(live_server, al, "status", "incident", "publish", secret, "--body", "x")
    assert r.exit_code != 0 and "private" in r.output and "409" in r.output
    r = run(
        live_server,
        al,
        "status",
        "incident",
        "publish",
        ref,
        "--name",
        "Payments failing",
        "--body",
        "Investigating failed payments",
        "--component",
        "Checkout=major_outage",
        "--json",
    )
    assert r.exit_code == 0, r.output
    pub = json.loads(r.output)
    assert pub["impact"] == "critical" and pub["components"] == ["Checkout"]
    r = run(
        live_server,
        al,
        "status",
        "incident",
        "update",
        ref,
        "--status",
        "identified",
        "--body",
        "Found it",
    )
    assert r.exit_code == 0 and "identified" in r.output and "Found it" in r.output
    r = run(
        live_server, al, "status", "incident", "publish", ref, "--component", "x", "--body", "y"
    )
    assert r.exit_code != 0 and "NAME=STATUS" in r.output
    r = run(live_server, al, "status", "incident", "list")
    assert "Payments failing" in r.output and ref in r.output
    summary = httpx.get(f"{live_server.url}/api/v2/summary.json").json()
    assert summary["incidents"][0]["status"] == "identified"
    r = run(live_server, al, "status", "incident", "resolve", pub["id"])
    assert r.exit_code == 0 and "resolved" in r.output
    summary = httpx.get(f"{live_server.url}/api/v2/summary.json").json()
    assert summary["incidents"] == []
    assert {c["name"]: c["status"] for c in summary["components"]}["Checkout"] == "operational"

    # maintenance never hides a worse status: API must be operational to go under maintenance
    run(live_server, al, "status", "component", "set", "API", "operational")
    r = run(
        live_server,
        al,
        "status",
        "maintenance",
        "schedule",
        "DB upgrade",
        "--start",
        "2030-01-01T22:00Z",
        "--end",
        "2030-01-01T23:00",
        "--body",
        "Primary moves",
        "--component",
        "API",
        "--json",
    )
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    assert m["scheduled_for"] == "2030-01-01T22:00:00Z" and m["status"] == "scheduled"
    r = run(
        live_server,
        al,
        "status",
        "maintenance",
        "schedule",
        "x",
        "--start",
        "soon",
        "--end",
        "later",
        "--body",
        "b",
    )
    assert r.exit_code != 0 and "not a time" in r.output
    r = run(live_server, al, "status", "maintenance", "list")
    assert "DB upgrade" in r.output and "scheduled" in r.output
    up = httpx.get(f"{live_server.url}/api/v2/scheduled-maintenances/upcoming.json").json()
    assert up["scheduled_maintenances"][0]["name"] == "DB upgrade"
    r = run(live_server, al, "status", "maintenance", "update", m["id"], "--status", "in_progress")
    assert r.exit_code == 0 and "in_progress" in r.output
    rows = json.loads(run(live_server, al, "status", "component", "list", "--json").output)
    assert {c["name"]: c["status"] for c in rows}["API"] == "under_maintenance"
    r = run(live_server, al, "status", "maintenance", "complete", m["id"])
    assert r.exit_code == 0 and "completed" in r.output
    rows = json.loads(run(live_server, al, "status", "component", "list", "--json").output)
    assert {c["name"]: c["status"] for c in rows}["API"] == "operational"
