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
from warroom.core.errors import ValidationFailed
from warroom.slos import openslo

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


@slo.command("rules")
@click.argument("name")
@click.option("--output", "-o", default="-", help="a file to write (default: standard output)")
def rules_cmd(name: str, output: str) -> None:
    """Prometheus rules for NAME: recording rules and multiwindow burn-rate alerts
    (check them with `promtool check rules FILE`)."""
    _write(output, Client().request("GET", f"/api/v1/slos/{name}/rules"))


@slo.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openslo", "warroom"]),
    default="openslo",
    show_default=True,
)
@click.option("--output", "-o", default="-", help="a file to write (default: standard output)")
def export_cmd(name: str, fmt: str, output: str) -> None:
    """NAME as OpenSLO v1 YAML (or as warroom's own slos: entry)."""
    text = Client().request("GET", f"/api/v1/slos/{name}/openslo")
    if fmt == "warroom":
        text = _dump(
            {"slos": openslo.to_config(openslo.from_openslo(text), openslo.prometheus_urls(text))}
        )
    _write(output, text)


@slo.command("import")
@click.argument("path")
@click.option(
    "--apply",
    "do_apply",
    is_flag=True,
    help="apply to the store at once (merged by name with its SLOs); default: print the "
    "slos: section for your config files",
)
@click.option("--url", "prom_url", default=None, help="Prometheus URL for SLOs that name none")
@click.option("--dry-run", is_flag=True, help="with --apply: show what would change")
@json_flag
def import_cmd(
    path: str, do_apply: bool, prom_url: str | None, dry_run: bool, as_json: bool
) -> None:
    """Read OpenSLO v1 YAML (a file, or - for standard input) as warroom SLOs."""
    text = _read(path)
    try:
        specs = openslo.from_openslo(text)
    except ValidationFailed as exc:
        raise click.ClickException(f"{path}: {exc.message}") from exc
    if not specs:
        raise click.ClickException(f"{path}: no document of kind SLO")
    urls = openslo.prometheus_urls(text)
    entries = openslo.to_config(specs, urls)
    for e in entries:
        if e.get("source") == "prometheus" and not e["prometheus"].get("url"):
            if prom_url is None:
                raise click.ClickException(
                    f"SLO {e['name']!r} names no Prometheus URL (a DataSource with "
                    "connectionDetails.url): give --url"
                )
            e["prometheus"] = {"url": prom_url, **e["prometheus"]}
    if not do_apply:
        if as_json:
            emit_json({"slos": entries})
        else:
            click.echo(_dump({"slos": entries}), nl=False)
        return
    client = Client()
    live = yaml.safe_load(client.request("GET", "/api/v1/config/export")) or {}
    merged = {s["name"]: s for s in live.get("slos") or []}
    merged.update({e["name"]: e for e in entries})
    out = client.post(
        "/api/v1/config/apply",
        {"config": {"slos": list(merged.values())}, "dry_run": dry_run},
    )
    if as_json:
        emit_json(out)
        return
    changes = out.get("changes", [])
    for c in changes:
        click.echo(f"{c['action']:<7} {c['kind']} {c['name']}")
    if not changes:
        click.echo("no changes")
    elif dry_run:
        click.echo("(dry run: nothing was applied)", err=True)


def _write(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
