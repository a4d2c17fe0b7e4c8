"""`warroom slo ...` against a real HTTP server: list and show with --json, the gate's
exit code and reasons, exceptions, Prometheus rules that promtool accepts, and OpenSLO
export and import through the store."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import CliRunner

from tests.conftest import LiveServer
from tests.e2e._programs import require_program
from warroom.cli.main import main
from warroom.core.clock import ManualClock, iso

PROMTOOL = Path("/usr/bin/promtool")

ORG = {
    "users": [{"name": "alice", "email": "alice@example.test"}],
    "teams": [{"name": "payments", "members": ["alice"]}],
    "services": [{"name": "checkout", "owner": "payments"}, {"name": "search"}],
    "slos": [
        {"name": "checkout-availability", "service": "checkout", "objective": 99.9},
        {
            "name": "search-latency",
            "service": "search",
            "objective": 99.5,
            "calendar": "month",
            "source": "prometheus",
            "budgeting": "occurrences",
            "description": "Searches answered",
            "prometheus": {
                "url": "http://127.0.0.1:9090",
                "bad": 'http_requests_total{job="search",code=~"5.."}',
                "total": 'http_requests_total{job="search"}',
            },
        },
    ],
}


def run(server: LiveServer, token: str, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}, input=stdin
    )


def post(server: LiveServer, token: str, path: str, body: Any) -> Any:
    r = httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code < 300, r.text
    return r.json()


def test_list_show_and_the_gate_exit_code(
    live_server: LiveServer, people: dict[str, str], clock: ManualClock
) -> None:
    admin, alice, carol = people["admin"], people["alice"], people["carol"]
    post(live_server, admin, "/api/v1/config/apply", {"config": ORG})
    r = run(live_server, carol, "slo", "list")
    assert r.exit_code == 0, r.output
    assert "checkout-availability" in r.output and "43.20" in r.output
    shown = json.loads(
        run(live_server, carol, "slo", "show", "checkout-availability", "--json").output
    )
    assert shown["budget_minutes"] == 43.2 and shown["remaining_percent"] == 100
    for key in ("consumed_minutes", "consumed_percent", "burn_rates"):
        assert key in shown
    r = run(live_server, carol, "slo", "gate", "--service", "checkout")
    assert r.exit_code == 0 and r.output.startswith("GO: checkout (go)")
    # a Prometheus SLO the engine has not evaluated: no guess, no go
    r = run(live_server, carol, "slo", "gate", "--service", "search")
    assert r.exit_code == 1 and "not evaluated yet" in r.output
    started = iso(clock.now() - timedelta(minutes=60))
    post(
        live_server,
        alice,
        "/api/v1/incidents",
        {
            "title": "Checkout down",
            "severity": "SEV-1",
            "services": ["checkout"],
            "customer_facing": True,
            "started_at": started,
        },
    )
    r = run(live_server, carol, "slo", "gate", "--service", "checkout")
    assert r.exit_code == 1
    assert r.output.startswith("FREEZE: checkout (freeze)")
    assert "60.00 of 43.20 budget minutes spent (138.9%)" in r.output
    until = iso(clock.now() + timedelta(hours=2))
    r = run(
        live_server,
        alice,
        "slo",
        "exception",
        "grant",
        "--service",
        "checkout",
        "--kind",
        "p0",
        "--reason",
        "the fix for INC-1",
        "--until",
        str(until),
    )
    assert r.exit_code == 0, r.output
    assert "granted by alice" in r.output
    gate = json.loads(
        run(live_server, carol, "slo", "gate", "--service", "checkout", "--json").output
    )
    assert gate["go"] is True and gate["state"] == "exception"
    r = run(live_server, carol, "slo", "exception", "list", "--service", "checkout")
    assert "the fix for INC-1" in r.output
    r = run(live_server, carol, "slo", "show", "checkout-availability")
    assert "INC-1" in r.output and "no share recorded" in r.output


def test_rules_pass_promtool_and_an_incident_slo_has_none(
    live_server: LiveServer, people: dict[str, str], tmp_path: Path
) -> None:
    require_program(PROMTOOL, "prometheus")
    post(live_server, people["admin"], "/api/v1/config/apply", {"config": ORG})
    out = tmp_path / "rules.yml"
    r = run(live_server, people["carol"], "slo", "rules", "search-latency", "-o", str(out))
    assert r.exit_code == 0, r.output
    checked = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(out)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout  # 7 recording rules, 4 alerts
    r = run(live_server, people["carol"], "slo", "rules", "checkout-availability")
    assert r.exit_code != 0 and "incidents" in r.output


def test_openslo_export_then_import_into_a_store_round_trips(
    live_server: LiveServer, people: dict[str, str], tmp_path: Path
) -> None:
    admin = people["admin"]
    post(live_server, admin, "/api/v1/config/apply", {"config": ORG})
    exported = tmp_path / "search.yaml"
    r = run(live_server, admin, "slo", "export", "search-latency", "-o", str(exported))
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all(exported.read_text()))
    assert {d["kind"] for d in docs} >= {"SLO"}
    assert all(d["apiVersion"] == "openslo/v1" for d in docs)
    # printed as warroom's own config, unchanged from what was applied
    r = run(live_server, admin, "slo", "import", str(exported))
    assert r.exit_code == 0, r.output
    entry = yaml.safe_load(r.output)["slos"][0]
    assert entry["name"] == "search-latency" and entry["calendar"] == "month"
    assert entry["prometheus"]["url"] == "http://127.0.0.1:9090"
    # applied under a new name, merged with the store's SLOs (none is deleted)
    text = exported.read_text().replace("search-latency", "search-latency-copy")
    r = run(live_server, admin, "slo", "import", "-", "--apply", stdin=text)
    assert r.exit_code == 0, r.output
    assert "create  slos search-latency-copy" in r.output
    listed = json.loads(run(live_server, admin, "slo", "list", "--json").output)
    assert [s["name"] for s in listed] == [
        "checkout-availability",
        "search-latency",
        "search-latency-copy",
    ]
    copy = next(s for s in listed if s["name"] == "search-latency-copy")
    assert copy["objective"] == 99.5 and copy["window"] == "calendar month"
    # importing the same again changes nothing
    r = run(live_server, admin, "slo", "import", "-", "--apply", stdin=text)
    assert "no changes" in r.output
    r = run(live_server, admin, "slo", "import", "-", stdin="apiVersion: openslo/v1\nkind: SLO\n")
    assert r.exit_code != 0 and "-:" in r.output
