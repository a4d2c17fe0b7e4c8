"""`warroom slo list|show|gate|rules|export|import|exception`: error budgets and the
release gate.

`slo gate --service S` exits 0 when the service may release (go, a warning, an
exception in force, or no SLO) and 1 when it is frozen or its SLOs are not evaluated
yet, printing why with the numbers; a CI job runs it before deploying (docs/slos.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from warroom.cli.client import Client
from warroom.cli.output import emit_json, table

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


@click.group("slo")
def slo() -> None:
    """Service level objectives, error budgets and the release gate."""


@slo.command("list")
@click.option("--service", default=None, help="only this service's SLOs")
@json_flag
def list_cmd(service: str | None, as_json: bool) -> None:
    """Every SLO with its budget and what is left of it."""
    out = Client().get("/api/v1/slos", service=service)
    if as_json:
        emit_json(out)
        return
    table(
        [
            (
                s["name"],
                s["service"],
                f"{s['objective']:g}%",
                s["window"],
                _num(s["budget_minutes"]),
                _num(s["consumed_minutes"]),
                _num(s["remaining_percent"], 1, "%"),
                _num(s["burn_rates"].get("1h"), 1, "x"),
                "EXHAUSTED" if s["exhausted"] else (s["alert"] or ""),
            )
            for s in out
        ],
        ["slo", "service", "objective", "window", "budget min", "spent min", "left", "1h burn", ""],
    )


@slo.command("show")
@click.argument("name")
@json_flag
def show(name: str, as_json: bool) -> None:
    """One SLO: budget, spend, burn rates and the incidents that spent it."""
    s = Client().get(f"/api/v1/slos/{name}")
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['name']}  ({s['service']}, {s['source']})")
    click.echo(f"  objective  {s['objective']:g}% over {s['window']}")
    if s["budget_minutes"] is None:
        click.echo("  not evaluated yet" + (f": {s['error']}" if s["error"] else ""))
        return
    click.echo(
        f"  budget     {s['budget_minutes']:.2f} minutes; spent {s['consumed_minutes']:.2f} "
        f"({s['consumed_percent']:.1f}%), {s['remaining_minutes']:.2f} left "
        f"({s['remaining_percent']:.1f}%)"
    )
    click.echo("  burn       " + "  ".join(f"{k} {v:.2f}x" for k, v in s["burn_rates"].items()))
    if s.get("alert"):
        click.echo(f"  alert      {s['alert']} (burning fast)")
    if s.get("error"):
        click.echo(f"  error      {s['error']}")
    if s.get("incidents"):
        click.echo("  incidents")
        for i in s["incidents"]:
            share = (
                f"at {i['weight_percent']:g}%" if i["weighted"] else "at 100% (no share recorded)"
            )
            click.echo(
                f"    {i['incident']:<8} {i['minutes']:.2f} min ({i['percent']:.1f}%) {share}"
            )


@slo.command("gate")
@click.option("--service", required=True, help="the service about to release")
@json_flag
def gate(service: str, as_json: bool) -> None:
    """Exit 0 when SERVICE may release, 1 when it is frozen; prints why."""
    out = Client().get("/api/v1/slos/gate", service=service)
    if as_json:
        emit_json(out)
    else:
        verdict = "GO" if out["go"] else "FREEZE" if out["state"] == "freeze" else "NO GO"
        click.echo(f"{verdict}: {service} ({out['state']})")
        for reason in out["reasons"]:
            click.echo(f"  {reason}")
    sys.exit(0 if out["go"] else 1)


@slo.group("exception")
def exception() -> None:
    """Exceptions to a release freeze: a P0 or security fix, by a named person, until a time."""


@exception.command("grant")
@click.option("--service", required=True)
@click.option("--kind", required=True, type=click.Choice(["p0", "security"]))
@click.option("--reason", required=True, help="why this release may go out")
@click.option("--until", "until", required=True, help="ISO 8601 end, e.g. 2026-12-02T18:00:00Z")
@json_flag
def grant(service: str, kind: str, reason: str, until: str, as_json: bool) -> None:
    """Let SERVICE release through its freeze until --until."""
    out = Client().post(
        "/api/v1/slos/exceptions",
        {"service": service, "kind": kind, "reason": reason, "expires_at": until},
    )
    if as_json:
        emit_json(out)
        return
    click.echo(
        f"Exception #{out['id']} for {out['service']} ({out['kind']}) until {out['expires_at']}, "
        f"granted by {out['granted_by']}"
    )


@exception.command("list")
@click.option("--service", required=True)
@json_flag
def exception_list(service: str, as_json: bool) -> None:
    """A service's exceptions, newest first."""
    out = Client().get("/api/v1/slos/exceptions", service=service)
    if as_json:
        emit_json(out)
        return
    table(
        [
            (
                e["id"],
                e["kind"],
                e["granted_by"],
                e["expires_at"],
                f"revoked by {e['revoked_by']}" if e["revoked_at"] else "",
                e["reason"],
            )
            for e in out
        ],
        ["id", "kind", "by", "until", "", "reason"],
    )


@exception.command("revoke")
@click.argument("exception_id", type=int)
@json_flag
def revoke(exception_id: int, as_json: bool) -> None:
    """End an exception now."""
    out = Client().post(f"/api/v1/slos/exceptions/{exception_id}/revoke", {})
    if as_json:
        emit_json(out)
        return
    click.echo(f"Exception #{out['id']} revoked by {out['revoked_by']}")


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
