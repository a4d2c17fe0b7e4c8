"""`warroom triage suggest`: the severity matrix and the blast-radius ladder, answered."""

from __future__ import annotations

import click

from warroom.cli.client import Client
from warroom.cli.output import emit_json


@click.group("triage")
def triage() -> None:
    """The first minutes: what severity, and who to page."""


@triage.command("suggest")
@click.option(
    "--impact", type=click.Choice(["complete_loss", "degraded", "inconvenience"]), default=None
)
@click.option("--scope", type=click.Choice(["widespread", "limited", "minimal"]), default=None)
@click.option(
    "--blast-radius",
    "blast_radius",
    type=click.Choice(
        [
            "single_user",
            "single_feature",
            "single_region",
            "core_workflow",
            "all_users",
            "data_integrity",
            "security_breach",
        ]
    ),
    default=None,
)
@click.option("--service", default=None, help="the affected service: names who is on call")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def suggest(
    impact: str | None,
    scope: str | None,
    blast_radius: str | None,
    service: str | None,
    as_json: bool,
) -> None:
    """Suggest a severity (impact x scope, and/or the blast radius) and who to page."""
    out = Client().get(
        "/api/v1/triage/suggest",
        impact=impact,
        scope=scope,
        blast_radius=blast_radius,
        service=service,
    )
    if as_json:
        emit_json(out)
        return
    click.echo(f"Suggested severity: {out['severity']}  ({out['nudge']})")
    click.echo(f"  why: {out['why']}")
    click.echo("  page:")
    for p in out["page"]:
        who = ", ".join(
            ([f"policy {p['escalation_policy']}"] if p.get("escalation_policy") else [])
            + (p.get("users") or [])
        )
        click.echo(f"    {p['label']:<24} {who or '(' + str(p.get('missing')) + ')'}")
    if out.get("dependents"):
        click.echo("  services that depend on it: " + ", ".join(out["dependents"]))
