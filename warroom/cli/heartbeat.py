"""`warroom heartbeat create|list|show|pause|resume|delete`: monitors that page when a
cron job, a CI pipeline or a monitoring system stops pinging."""

from __future__ import annotations

from typing import Any

import click

from warroom.cli.client import Client
from warroom.cli.output import emit_json, table

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")

_BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list[int]) -> str:
    if not values:
        return ""
    top = max(values) or 1
    return "".join(_BARS[min(len(_BARS) - 1, v * (len(_BARS) - 1) // top)] for v in values)


@click.group("heartbeat")
def heartbeat() -> None:
    """Heartbeat monitors: a secret URL that must be pinged every interval."""


@heartbeat.command("create")
@click.argument("name")
@click.option("--service", required=True, help="whose alert it raises when missed")
@click.option("--interval", required=True, help="expected time between pings: 90s, 5m, 2h, 1d")
@click.option("--grace", default="0s", show_default=True, help="extra time before it is missed")
@click.option(
    "--severity",
    default="critical",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info"]),
)
@click.option("--description", default="")
@json_flag
def create(
    name: str,
    service: str,
    interval: str,
    grace: str,
    severity: str,
    description: str,
    as_json: bool,
) -> None:
    """Create a monitor and print its ping URL (shown this once)."""
    body = {
        "name": name,
        "service": service,
        "interval": interval,
        "grace": grace,
        "severity": severity,
        "description": description,
    }
    hb = Client().post("/api/v1/heartbeats", body)
    if as_json:
        emit_json(hb)
        return
    click.echo(f"heartbeat {hb['name']} created (every {hb['interval']}, grace {hb['grace']})")
    click.echo(f"ping URL (shown once): {hb['url']}")
    click.echo(f"  curl -fsS -m 10 --retry 3 {hb['url']}")


@heartbeat.command("list")
@json_flag
def list_(as_json: bool) -> None:
    """List monitors with their state and last ping."""
    rows = Client().get("/api/v1/heartbeats")
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                h["name"],
                h["state"],
                h["service"],
                h["interval"],
                h["grace"],
                h["last_ping_at"] or "never",
                h["next_expected_at"] or "",
            )
            for h in rows
        ],
        ["name", "state", "service", "interval", "grace", "last ping", "expected"],
    )


@heartbeat.command("show")
@click.argument("name")
@json_flag
def show(name: str, as_json: bool) -> None:
    """Last ping, next expected ping, state and recent history of one monitor."""
    h = Client().get(f"/api/v1/heartbeats/{name}")
    if as_json:
        emit_json(h)
        return
    _print(h)


def _print(h: dict[str, Any]) -> None:
    click.echo(f"heartbeat {h['name']}  {h['state']}")
    for key in (
        "service",
        "interval",
        "grace",
        "severity",
        "description",
        "last_ping_at",
        "last_ping_source",
        "next_expected_at",
        "deadline_at",
        "late_by_seconds",
        "url_hint",
    ):
        if h.get(key) not in (None, "", 0):
            click.echo(f"  {key:<17} {h[key]}")
    if h["intervals_seconds"]:
        click.echo(f"  intervals         {_spark(h['intervals_seconds'])}")
    for o in h.get("outages", []):
        end = f"until {o['ended_at']} ({o['ended_by']})" if o["ended_at"] else "still down"
        click.echo(f"  down from {o['started_at']} {end}")


@heartbeat.command("pause")
@click.argument("name")
@json_flag
def pause(name: str, as_json: bool) -> None:
    """Stop watching a monitor (a down one recovers)."""
    h = Client().post(f"/api/v1/heartbeats/{name}/pause", {})
    emit_json(h) if as_json else click.echo(f"heartbeat {h['name']} {h['state']}")


@heartbeat.command("resume")
@click.argument("name")
@json_flag
def resume(name: str, as_json: bool) -> None:
    """Watch a paused monitor again, a full interval from now."""
    h = Client().post(f"/api/v1/heartbeats/{name}/resume", {})
    emit_json(h) if as_json else click.echo(f"heartbeat {h['name']} {h['state']}")


@heartbeat.command("delete")
@click.argument("name")
@json_flag
def delete(name: str, as_json: bool) -> None:
    """Delete a monitor (its open alert resolves)."""
    Client().request("DELETE", f"/api/v1/heartbeats/{name}")
    emit_json({"deleted": name}) if as_json else click.echo(f"heartbeat {name} deleted")
