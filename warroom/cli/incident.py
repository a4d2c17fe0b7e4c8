"""`warroom incident ...`"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from warroom.cli.client import ApiError, Client
from warroom.cli.output import emit_json, table

ROLE_CHOICES = ["commander", "deputy", "scribe", "comms", "tech", "sme"]
json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def _ref(value: str) -> str:
    return value.strip()


def show_incident(inc: dict[str, Any]) -> None:
    click.echo(f"{inc['id']}  {inc['title']}")
    click.echo(f"  severity  {inc['severity']}    status  {inc['status']}")
    click.echo(f"  channel   {inc['channel']}")
    if inc.get("services"):
        click.echo(f"  services  {', '.join(inc['services'])}")
    if inc.get("impact_summary"):
        click.echo(f"  impact    {inc['impact_summary']}")
    flags = [f for f in ("private", "drill", "customer_facing") if inc.get(f)]
    if flags:
        click.echo(f"  flags     {', '.join(flags)}")
    if inc.get("repeat_of"):
        click.echo(f"  repeats   {inc['repeat_of']}")
    roles = inc.get("roles") or {}
    for role, holder in roles.items():
        if holder:
            click.echo(f"  {role:<9} {', '.join(holder) if isinstance(holder, list) else holder}")
    ms = inc.get("milestones") or {}
    set_ms = {k: v for k, v in ms.items() if v}
    if set_ms:
        click.echo("  milestones")
        for k, v in set_ms.items():
            click.echo(f"    {k:<13} {v}")
    if "timeline" in inc:
        click.echo("  timeline")
        for ev in inc["timeline"]:
            who = f"[{ev['role_title']}] {ev['actor']}" if ev.get("role_title") else ev["actor"]
            click.echo(f"    {ev['at']}  {ev['kind']:<13} {who}: {ev['text']}")


@click.group("incident")
def incident() -> None:
    """Declare, staff, log and resolve incidents."""


@incident.command("declare")
@click.argument("title")
@click.option("--severity", required=True, help="e.g. SEV-2")
@click.option("--service", "services", multiple=True, help="affected service (repeatable)")
@click.option("--impact", default="", help="impact summary")
@click.option(
    "--source",
    default="internal_report",
    type=click.Choice(
        [
            "automated_alert",
            "synthetic",
            "internal_report",
            "customer_report",
            "social_media",
            "other",
        ]
    ),
    help="how it was detected",
)
@click.option("--customer-facing", is_flag=True)
@click.option("--private", is_flag=True, help="visible to participants and admins only")
@click.option("--drill", is_flag=True, help="a practice incident")
@click.option(
    "--started-at",
    type=click.DateTime(
        [
            "%Y-%m-%dT%H:%M:%S%z",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M%z",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
        ]
    ),
    help="when impact began (ISO-8601, UTC unless an offset is given)",
)
@click.option("--commander", default=None, help="assign the Incident Commander at once")
@json_flag
def declare(
    title: str,
    severity: str,
    services: tuple[str, ...],
    impact: str,
    source: str,
    customer_facing: bool,
    private: bool,
    drill: bool,
    started_at: datetime | None,
    commander: str | None,
    as_json: bool,
) -> None:
    """Declare an incident."""
    body: dict[str, Any] = {
        "title": title,
        "severity": severity,
        "services": list(services),
        "impact_summary": impact,
        "detection_source": source,
        "customer_facing": customer_facing,
        "private": private,
        "drill": drill,
    }
    if started_at:
        body["started_at"] = started_at.isoformat()
    if commander:
        body["commander"] = commander
    inc = Client().post("/api/v1/incidents", body)
    if as_json:
        emit_json(inc)
    else:
        click.echo(f"Declared {inc['id']} ({inc['severity']}): {inc['title']}")
        click.echo(f"War room: {inc['channel']}")


@incident.command("list")
@click.option("--status", default=None)
@click.option("--severity", default=None)
@click.option("--search", "q", default=None, help="text in the title")
@click.option("--active", is_flag=True, default=None, help="only open incidents")
@click.option("--limit", default=50, show_default=True)
@click.option("--all", "fetch_all", is_flag=True, help="follow cursors to the end")
@json_flag
def list_(
    status: str | None,
    severity: str | None,
    q: str | None,
    active: bool | None,
    limit: int,
    fetch_all: bool,
    as_json: bool,
) -> None:
    """List incidents, newest first."""
    client = Client()
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/incidents",
            status=status,
            severity=severity,
            q=q,
            active=active,
            limit=limit,
            cursor=cursor,
        )
        items += page["items"]
        cursor = page["next_cursor"]
        if not fetch_all or not cursor:
            break
    if as_json:
        emit_json(items)
        return
    table(
        [
            (
                i["id"],
                i["severity"],
                i["status"],
                i["title"],
                ",".join(i["services"]),
                i["commander"],
                i["declared_at"],
            )
            for i in items
        ],
        ["id", "sev", "status", "title", "services", "commander", "declared"],
    )
    if cursor and not fetch_all:
        click.echo(f"(more: --all, or cursor {cursor})")


@incident.command("show")
@click.argument("incident_id")
@json_flag
def show(incident_id: str, as_json: bool) -> None:
    """Show an incident with its roles and timeline."""
    inc = Client().get(f"/api/v1/incidents/{_ref(incident_id)}")
    emit_json(inc) if as_json else show_incident(inc)


@incident.command("role")
@click.argument("incident_id")
@click.argument("role", type=click.Choice(ROLE_CHOICES))
@click.argument("user")
@json_flag
def role(incident_id: str, role: str, user: str, as_json: bool) -> None:
    """Assign ROLE to USER."""
    inc = Client().post(
        f"/api/v1/incidents/{_ref(incident_id)}/roles", {"role": role, "user": user}
    )
    if as_json:
        emit_json(inc)
    else:
        click.echo(f"{inc['id']}: {user} is {role}")


@incident.command("log")
@click.argument("incident_id")
@click.argument("text")
@click.option(
    "--kind", default="note", type=click.Choice(["note", "decision", "action", "communication"])
)
@click.option("--corrects", type=int, default=None, help="id of the event this one corrects")
@json_flag
def log(incident_id: str, text: str, kind: str, corrects: int | None, as_json: bool) -> None:
    """Add a note, decision or action to the timeline."""
    body: dict[str, Any] = {"text": text, "kind": kind}
    if corrects is not None:
        body["corrects"] = corrects
    ev = Client().post(f"/api/v1/incidents/{_ref(incident_id)}/events", body)
    emit_json(ev) if as_json else click.echo(f"Logged event {ev['id']} at {ev['at']}")


@incident.command("status")
@click.argument("incident_id")
@click.argument(
    "status", type=click.Choice(["investigating", "identified", "monitoring", "resolved", "closed"])
)
@click.option("--note", default="")
@json_flag
def status(incident_id: str, status: str, note: str, as_json: bool) -> None:
    """Move the incident to STATUS."""
    inc = Client().post(
        f"/api/v1/incidents/{_ref(incident_id)}/status", {"status": status, "note": note}
    )
    emit_json(inc) if as_json else click.echo(f"{inc['id']} is {inc['status']}")


@incident.command("severity")
@click.argument("incident_id")
@click.argument("severity")
@click.option("--reason", default="", help="required when downgrading")
@json_flag
def severity(incident_id: str, severity: str, reason: str, as_json: bool) -> None:
    """Escalate or downgrade."""
    try:
        inc = Client().post(
            f"/api/v1/incidents/{_ref(incident_id)}/severity",
            {"severity": severity, "reason": reason},
        )
    except ApiError as exc:
        if isinstance(exc.body, dict) and exc.body.get("field") == "reason":
            raise click.ClickException(f"{exc.body.get('error')}: pass --reason TEXT") from exc
        raise
    emit_json(inc) if as_json else click.echo(f"{inc['id']} is {inc['severity']}")


@incident.command("ack")
@click.argument("incident_id")
@json_flag
def ack(incident_id: str, as_json: bool) -> None:
    """Acknowledge the incident."""
    inc = Client().post(f"/api/v1/incidents/{_ref(incident_id)}/ack", {})
    emit_json(inc) if as_json else click.echo(f"{inc['id']} acknowledged")


@incident.command("resolve")
@click.argument("incident_id")
@click.option("--summary", default="")
@json_flag
def resolve(incident_id: str, summary: str, as_json: bool) -> None:
    """Resolve the incident."""
    inc = Client().post(f"/api/v1/incidents/{_ref(incident_id)}/resolve", {"summary": summary})
    if as_json:
        emit_json(inc)
    else:
        mins = inc["duration_seconds"] // 60
        click.echo(f"{inc['id']} resolved after {mins} min")


@incident.command("milestone")
@click.argument("incident_id")
@click.argument(
    "name",
    type=click.Choice(
        [
            "started",
            "detected",
            "acknowledged",
            "declared",
            "ic_assigned",
            "mitigation_started",
            "customers_informed",
            "mitigated",
            "resolved",
        ]
    ),
)
@click.argument("at")
@json_flag
def milestone(incident_id: str, name: str, at: str, as_json: bool) -> None:
    """Set or correct a milestone time (ISO-8601, or `unset`)."""
    value = None if at == "unset" else at
    inc = Client().post(
        f"/api/v1/incidents/{_ref(incident_id)}/milestones", {"milestone": name, "at": value}
    )
    emit_json(inc) if as_json else click.echo(f"{inc['id']}: {name} = {inc['milestones'][name]}")


@incident.command("repeat")
@click.argument("incident_id")
@click.option("--of", "of", metavar="INC-m", help="the earlier incident this one repeats")
@click.option("--clear", is_flag=True, help="remove the repeat mark")
@json_flag
def repeat(incident_id: str, of: str | None, clear: bool, as_json: bool) -> None:
    """Mark an incident as a repeat of an earlier one (--of INC-m), or clear the mark."""
    if (of is None) == (not clear):
        raise click.UsageError("give either --of INC-m or --clear")
    inc = Client().request(
        "PATCH", f"/api/v1/incidents/{_ref(incident_id)}/repeat", json={"of": of}
    )
    if as_json:
        emit_json(inc)
    elif inc.get("repeat_of"):
        click.echo(f"{inc['id']} repeats {inc['repeat_of']}")
    else:
        click.echo(f"{inc['id']} is not marked as a repeat")


TEMPLATE_CHOICES = [
    "declaration",
    "status",
    "resolution",
    "statuspage_investigating",
    "statuspage_identified",
    "statuspage_monitoring",
    "statuspage_resolved",
    "customer_email",
    "executive_summary",
]


@incident.command("update")
@click.argument("incident_id")
@click.option(
    "--template", default="status", show_default=True, type=click.Choice(TEMPLATE_CHOICES)
)
@click.option(
    "--audience",
    type=click.Choice(["internal", "external"]),
    default=None,
    help="default: the template's own audience",
)
@click.option("--text", "extra", default="", help="extra text to include in the update")
@click.option("--preview", is_flag=True, help="render only; post nothing")
@json_flag
def update(
    incident_id: str,
    template: str,
    audience: str | None,
    extra: str,
    preview: bool,
    as_json: bool,
) -> None:
    """Render an update from recorded facts and post it to the timeline."""
    body: dict[str, Any] = {"template": template, "extra": extra, "preview": preview}
    if audience:
        body["audience"] = audience
    out = Client().post(f"/api/v1/incidents/{_ref(incident_id)}/updates", body)
    if as_json:
        emit_json(out)
        return
    click.echo(out["text"])
    for warning in out["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if preview:
        click.echo("(preview: nothing was posted)", err=True)
    else:
        click.echo(f"Posted to the timeline ({out['audience']}); {out['delivery_note']}", err=True)
