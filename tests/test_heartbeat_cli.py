"""`warroom heartbeat ...` against a real HTTP server."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner

from tests.conftest import LiveServer
from warroom.cli.main import main


def run(server: LiveServer, token: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}
    )


def test_create_ping_list_show_pause_resume_delete(
    live_server: LiveServer, people: dict[str, str]
) -> None:
    admin, alice = people["admin"], people["alice"]
    r0 = httpx.post(
        f"{live_server.url}/api/v1/config/apply",
        json={"config": {"services": [{"name": "checkout"}]}},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r0.status_code == 200, r0.text
    r = run(
        live_server,
        admin,
        "heartbeat",
        "create",
        "backup",
        "--service",
        "checkout",
        "--interval",
        "5m",
        "--grace",
        "2m",
    )
    assert r.exit_code == 0, r.output
    url = next(line.split(": ", 1)[1] for line in r.output.splitlines() if "ping URL" in line)
    assert url.startswith(live_server.url + "/ping/hb_")
    assert httpx.get(url).status_code == 200
    assert httpx.post(url, content=b"backup done").status_code == 200
    r = run(
        live_server, alice, "heartbeat", "create", "x", "--service", "checkout", "--interval", "1m"
    )
    assert r.exit_code != 0 and "admin" in r.output
    r = run(live_server, alice, "heartbeat", "list")
    assert r.exit_code == 0 and "backup" in r.output and "up" in r.output
    r = run(live_server, alice, "heartbeat", "show", "backup", "--json")
    shown = json.loads(r.output)
    assert shown["state"] == "up" and shown["last_ping_source"] == "POST"
    assert "url" not in shown and len(shown["pings"]) == 2
    r = run(live_server, alice, "heartbeat", "show", "backup")
    assert "last_ping_at" in r.output and "intervals" in r.output
    r = run(live_server, admin, "heartbeat", "pause", "backup", "--json")
    assert json.loads(r.output)["state"] == "paused"
    r = run(live_server, admin, "heartbeat", "resume", "backup")
    assert r.exit_code == 0 and "backup up" in r.output
    r = run(
        live_server,
        admin,
        "heartbeat",
        "create",
        "nightly",
        "--service",
        "checkout",
        "--interval",
        "1d",
        "--json",
    )
    assert json.loads(r.output)["url"].startswith(live_server.url + "/ping/")
    r = run(live_server, admin, "heartbeat", "delete", "nightly")
    assert r.exit_code == 0, r.output
    r = run(live_server, alice, "heartbeat", "show", "nightly")
    assert r.exit_code != 0 and "no heartbeat monitor named 'nightly'" in r.output
    r = run(
        live_server,
        admin,
        "heartbeat",
        "create",
        "y",
        "--service",
        "checkout",
        "--interval",
        "soon",
    )
    assert r.exit_code != 0 and "interval" in r.output


def test_an_integration_declares_its_watchdog_as_a_monitors_ping(
    live_server: LiveServer, people: dict[str, str]
) -> None:
    admin = people["admin"]
    r0 = httpx.post(
        f"{live_server.url}/api/v1/config/apply",
        json={"config": {"services": [{"name": "checkout"}]}},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r0.status_code == 200, r0.text
    r = run(
        live_server,
        admin,
        "heartbeat",
        "create",
        "prometheus-eu",
        "--service",
        "checkout",
        "--interval",
        "1m",
        "--grace",
        "4m",
    )
    assert r.exit_code == 0, r.output
    args = ["integration", "create", "prom", "--kind", "alertmanager", "--service", "checkout"]
    r = run(live_server, admin, *args, "--heartbeat", "Watchdog:prometheus-eu", "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.output)
    assert created["heartbeat"] == {"alert": "Watchdog", "monitor": "prometheus-eu"}
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "{}",
        "alerts": [{"status": "firing", "labels": {"alertname": "Watchdog"}}],
    }
    assert httpx.post(created["endpoint"], json=body).status_code == 202
    r = run(live_server, admin, "heartbeat", "show", "prometheus-eu", "--json")
    assert json.loads(r.output)["last_ping_source"] == "alertmanager"
    r = run(live_server, admin, *args[:2], "bad", *args[3:], "--heartbeat", "Watchdog")
    assert r.exit_code != 0 and "ALERT:MONITOR" in r.output
    r = run(
        live_server,
        admin,
        "integration",
        "create",
        "pd",
        "--kind",
        "pagerduty",
        "--heartbeat",
        "Watchdog:prometheus-eu",
    )
    assert r.exit_code != 0 and "heartbeat" in r.output
