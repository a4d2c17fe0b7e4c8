"""`warroom status component|incident|maintenance ...`: the public status page."""

from __future__ import annotations

from typing import Any

import click

from warroom.cli.client import Client
from warroom.cli.output import emit_json, table
from warroom.core.clock import parse_utc

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
COMPONENT_STATUSES = click.Choice(
    ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]
)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, status = v.rpartition("=")
        if not sep or not name:
            raise click.BadParameter(f"{v!r} is not NAME=STATUS", param_hint="--component")
        out[name] = status
    return out


def _when(text: str) -> str:
    try:
        value = parse_utc(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a time like 2026-03-02T22:00Z") from exc
    return value.isoformat()


def _show(p: dict[str, Any]) -> None:
    click.echo(f"{p['id']}  {p['name']}  [{p['status']}, impact {p['impact']}]")
    if p.get("incident"):
        click.echo(f"  linked to {p['incident']}")
    if p.get("scheduled_for"):
        click.echo(f"  scheduled {p['scheduled_for']} - {p['scheduled_until']}")
    if p["components"]:
        click.echo(f"  components: {', '.join(p['components'])}")
    for u in p["updates"][:1]:
        click.echo(f"  latest: {u['status']}: {u['body']}")


@click.group("status")
def status() -> None:
    """The public status page: components, public incidents, maintenance."""


@status.command("page")
@click.option("--name", default=None, help="rename the page (admin)")
@click.option("--url", default=None, help="its public URL, used in links and emails (admin)")
@json_flag
def page(name: str | None, url: str | None, as_json: bool) -> None:
    """Show the status page's name, URL and version, or change them."""
    client = Client()
    if name is None and url is None:
        p = client.get("/api/v1/status/page")
    else:
        body = {k: v for k, v in (("name", name), ("url", url)) if v is not None}
        p = client.request("PATCH", "/api/v1/status/page", json=body)
    if as_json:
        emit_json(p)
    else:
        click.echo(f"{p['name']}  {p['url']}  (id {p['id']}, version {p['version']})")


# --- components -------------------------------------------------------------------------


@status.group("component")
def component() -> None:
    """Components and groups shown on the status page."""


@component.command("add")
@click.argument("name")
@click.option("--description", default="")
@click.option("--group", default=None, help="put it in this group")
@click.option("--is-group", is_flag=True, help="make it a group of components")
@click.option("--service", default=None, help="the service it stands for")
@click.option("--status", "status_", type=COMPONENT_STATUSES, default="operational")
@click.option("--only-show-if-degraded", is_flag=True)
@json_flag
def component_add(
    name: str,
    description: str,
    group: str | None,
    is_group: bool,
    service: str | None,
    status_: str,
    only_show_if_degraded: bool,
    as_json: bool,
) -> None:
    """Add a component (admin)."""
    c = Client().post(
        "/api/v1/status/components",
        {
            "name": name,
            "description": description,
            "group": group,
            "is_group": is_group,
            "service": service,
            "status": status_,
            "only_show_if_degraded": only_show_if_degraded,
        },
    )
    emit_json(c) if as_json else click.echo(f"component {c['name']} ({c['id']}) {c['status']}")


@component.command("list")
@json_flag
def component_list(as_json: bool) -> None:
    """List components in page order."""
    items = Client().get("/api/v1/status/components")
    if as_json:
        emit_json(items)
        return
    table(
        [
            (
                c["name"],
                "group" if c["is_group"] else c["status"],
                c["group"] or "",
                c["service"] or "",
                c["id"],
            )
            for c in items
        ],
        ["name", "status", "group", "service", "id"],
    )


@component.command("set")
@click.argument("name")
@click.argument("new_status", metavar="STATUS", type=COMPONENT_STATUSES)
@json_flag
def component_set(name: str, new_status: str, as_json: bool) -> None:
    """Set a component's status (recorded in its history)."""
    c = Client().post(f"/api/v1/status/components/{name}/status", {"status": new_status})
    emit_json(c) if as_json else click.echo(f"component {c['name']} {c['status']}")


# --- public incidents -------------------------------------------------------------------


@status.group("incident")
def incident() -> None:
    """Public incidents, linked to internal ones."""


@incident.command("publish")
@click.argument("incident_id", metavar="INC-n")
@click.option("--body", required=True, help="the first public update")
@click.option("--name", default=None, help="public title (default: the incident's title)")
@click.option(
    "--status",
    "status_",
    type=click.Choice(["investigating", "identified", "monitoring"]),
    default="investigating",
)
@click.option("--impact", type=click.Choice(["none", "minor", "major", "critical"]))
@click.option("--component", "components", multiple=True, help="NAME=STATUS, repeatable")
@json_flag
def incident_publish(
    incident_id: str,
    body: str,
    name: str | None,
    status_: str,
    impact: str | None,
    components: tuple[str, ...],
    as_json: bool,
) -> None:
    """Publish an internal incident on the status page (never a private one)."""
    p = Client().post(
        "/api/v1/status/incidents",
        {
            "incident": incident_id,
            "body": body,
            "name": name,
            "status": status_,
            "impact": impact,
            "components": _pairs(components),
        },
    )
    emit_json(p) if as_json else _show(p)


@incident.command("update")
@click.argument("code", metavar="ID")
@click.option(
    "--status",
    "status_",
    required=True,
    type=click.Choice(["investigating", "identified", "monitoring", "resolved", "postmortem"]),
)
@click.option("--body", required=True)
@click.option("--impact", type=click.Choice(["none", "minor", "major", "critical"]))
@click.option("--component", "components", multiple=True, help="NAME=STATUS, repeatable")
@json_flag
def incident_update(
    code: str,
    status_: str,
    body: str,
    impact: str | None,
    components: tuple[str, ...],
    as_json: bool,
) -> None:
    """Post a public update (ID is the public id or INC-n)."""
    payload: dict[str, Any] = {"status": status_, "body": body, "impact": impact}
    if components:
        payload["components"] = _pairs(components)
    p = Client().post(f"/api/v1/status/incidents/{code}/updates", payload)
    emit_json(p) if as_json else _show(p)


@incident.command("resolve")
@click.argument("code", metavar="ID")
@click.option("--body", default="This incident has been resolved.", show_default=True)
@json_flag
def incident_resolve(code: str, body: str, as_json: bool) -> None:
    """Resolve a public incident; its components go back to operational."""
    p = Client().post(f"/api/v1/status/incidents/{code}/resolve", {"body": body})
    emit_json(p) if as_json else _show(p)


@incident.command("list")
@json_flag
def incident_list(as_json: bool) -> None:
    """Public incidents, newest first."""
    items = Client().get("/api/v1/status/incidents")
    if as_json:
        emit_json(items)
        return
    table(
        [(p["id"], p["incident"], p["status"], p["impact"], p["name"]) for p in items],
        ["id", "incident", "status", "impact", "name"],
    )


# --- maintenance ------------------------------------------------------------------------


@status.group("maintenance")
def maintenance() -> None:
    """Scheduled maintenance."""


@maintenance.command("schedule")
@click.argument("name")
@click.option("--start", required=True, help="e.g. 2026-03-02T22:00Z (UTC if no offset)")
@click.option("--end", required=True)
@click.option("--body", required=True, help="what happens and what users will notice")
@click.option("--component", "components", multiple=True, help="affected component, repeatable")
@click.option("--no-auto", is_flag=True, help="do not start and complete it on time")
@json_flag
def maintenance_schedule(
    name: str,
    start: str,
    end: str,
    body: str,
    components: tuple[str, ...],
    no_auto: bool,
    as_json: bool,
) -> None:
    """Schedule maintenance. By default the engine starts it at --start (components go
    under_maintenance) and completes it at --end."""
    p = Client().post(
        "/api/v1/status/maintenances",
        {
            "name": name,
            "body": body,
            "scheduled_for": _when(start),
            "scheduled_until": _when(end),
            "components": list(components),
            "auto_transition": not no_auto,
        },
    )
    emit_json(p) if as_json else _show(p)


@maintenance.command("list")
@json_flag
def maintenance_list(as_json: bool) -> None:
    """Scheduled maintenance, newest first."""
    items = Client().get("/api/v1/status/maintenances")
    if as_json:
        emit_json(items)
        return
    table(
        [
            (p["id"], p["status"], p["scheduled_for"], p["scheduled_until"], p["name"])
            for p in items
        ],
        ["id", "status", "from", "until", "name"],
    )


@maintenance.command("update")
@click.argument("code", metavar="ID")
@click.option(
    "--status",
    "status_",
    required=True,
    type=click.Choice(["scheduled", "in_progress", "verifying", "completed"]),
)
@click.option("--body", default="")
@json_flag
def maintenance_update(code: str, status_: str, body: str, as_json: bool) -> None:
    """Move maintenance on by hand."""
    p = Client().post(
        f"/api/v1/status/maintenances/{code}/updates", {"status": status_, "body": body}
    )
    emit_json(p) if as_json else _show(p)


@maintenance.command("complete")
@click.argument("code", metavar="ID")
@click.option("--body", default="")
@json_flag
def maintenance_complete(code: str, body: str, as_json: bool) -> None:
    """Complete maintenance; its components go back to operational."""
    p = Client().post(
        f"/api/v1/status/maintenances/{code}/updates", {"status": "completed", "body": body}
    )
    emit_json(p) if as_json else _show(p)
