"""`warroom serve --demo` loads a living sample organisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom import demo
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.demo import load_demo

CHECKOUT_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"


def test_demo_loads_organisation_incidents_and_changes(
    db: Database, clock: ManualClock, client: TestClient, people: dict[str, str], admin: Api
) -> None:
    assert load_demo(db, clock) == 3
    assert load_demo(db, clock) == 0  # a second start adds nothing
    items = admin.get("/api/v1/incidents").json()["items"]
    assert [i["status"] for i in items] == ["investigating", "resolved", "resolved"]
    first = admin.get("/api/v1/incidents/1").json()
    assert first["roles"]["commander"] == "alice" and first["duration_seconds"] == 54 * 60
    changes = admin.get("/api/v1/incidents/1/changes").json()
    assert changes[0]["summary"].startswith("Deploy payments-api") and changes[0]["direct"]
    assert {s["name"] for s in admin.get("/api/v1/services").json()} >= {"checkout", "kafka"}


def test_demo_populates_the_public_status_page(
    db: Database, clock: ManualClock, client: TestClient, admin: Api
) -> None:
    load_demo(db, clock)
    components = client.get("/api/v2/components.json").json()["components"]
    by_name = {c["name"]: c for c in components}
    assert [c["name"] for c in components] == [
        "Online store",
        "Checkout",
        "Search",
        "Payments",
        "Card payments",
        "PayPal",
        "Order emails",
    ]
    assert by_name["Online store"]["group"] and by_name["Payments"]["group"]
    assert by_name["Online store"]["components"] == [
        by_name["Checkout"]["id"],
        by_name["Search"]["id"],
    ]
    assert by_name["Card payments"]["group_id"] == by_name["Payments"]["id"]
    assert by_name["Order emails"]["group_id"] is None
    assert {c["status"] for c in components} == {"operational"}  # the incident is over
    # The history starts 90 days back, so the uptime bars have a full record.
    assert by_name["Checkout"]["start_date"] == "2025-12-02"

    public = client.get("/api/v2/incidents.json").json()["incidents"]
    assert len(public) == 1
    (inc,) = public
    assert inc["name"] == "Card payments failing"
    assert inc["status"] == "resolved" and inc["impact"] == "critical"
    assert inc["started_at"] == "2026-02-21T05:56:00.000Z"
    assert inc["resolved_at"] == "2026-02-21T06:50:00.000Z"
    updates = inc["incident_updates"]
    assert [u["status"] for u in updates] == [
        "resolved",
        "monitoring",
        "identified",
        "investigating",
    ]
    assert {a["name"]: a["new_status"] for a in updates[-1]["affected_components"]} == {
        "Card payments": "major_outage",
        "Checkout": "partial_outage",
    }
    assert {c["name"] for c in inc["components"]} == {"Card payments", "Checkout"}
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []

    page = client.get("/status")
    assert page.status_code == 200
    text = page.text
    for name in ("Online store", "Checkout", "Payments", "Card payments", "Order emails"):
        assert f">{name}<" in text
    assert "All Systems Operational" in text
    # The last 14 days list the incident with its updates.
    assert "Card payments failing" in text and "We are investigating." in text
    assert "Card payments: 99.99% uptime over the last 90 days" in text
    assert "Checkout: 100.00% uptime over the last 90 days" in text
    history = client.get("/status/history").text
    assert "Card payments failing" in history and "This incident is resolved." in history
    # The internal incident records the publication on its timeline.
    events = admin.get("/api/v1/incidents/1/events").json()
    assert any(e["text"].startswith("Published on the status page") for e in events)


def test_the_checkout_example_is_the_packaged_one() -> None:
    """examples/acme in a checkout links to the copy inside the package: one source."""
    packaged = demo.example_folder()
    assert isinstance(packaged, Path)
    assert CHECKOUT_EXAMPLE.is_symlink()
    assert CHECKOUT_EXAMPLE.resolve() == packaged.resolve()
    assert [f.name for f in demo.example_files()] == [
        "alerting.yaml",
        "heartbeats.yaml",
        "oncall.yaml",
        "paging.yaml",
        "people.yaml",
        "services.yaml",
        "severities.yaml",
        "slos.yaml",
        "statuspage.yaml",
    ]


def test_example_command_prints_and_copies_the_config(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["example"])
    assert shown.exit_code == 0, shown.output
    assert Path(shown.output.strip()) == demo.example_folder()

    target = tmp_path / "acme"
    copied = runner.invoke(main, ["example", str(target)])
    assert copied.exit_code == 0, copied.output
    assert f"Apply them with: warroom apply {target}" in copied.output
    for f in demo.example_files():
        assert (target / f.name).read_bytes() == f.read_bytes()
    again = runner.invoke(main, ["example", str(target)])
    assert again.exit_code == 1 and "exists; choose an empty or new folder" in again.output


def test_serve_demo_without_the_packaged_files_stops_before_the_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install that lost its package data: a clear error, no store made, no
    credentials printed (and lost)."""
    monkeypatch.setattr(demo, "example_folder", lambda: tmp_path / "missing")
    store = tmp_path / "warroom.db"
    result = CliRunner().invoke(
        main,
        ["serve", "--demo", "--port", "1"],
        env={"WARROOM_DATABASE_URL": f"sqlite:///{store}"},
    )
    assert result.exit_code == 1
    assert "Error: cannot load the demo organisation: this installation of warroom has no demo" in (
        result.output
    )
    assert "password" not in result.output and "WARROOM_TOKEN" not in result.output
    assert not store.exists()
