"""`warroom report`: the operational review of the last complete week, month or quarter."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from warroom.analytics.report import FORMATS, render
from warroom.analytics.rules import PERIODS, period_range
from warroom.cli.client import Client
from warroom.cli.output import emit_json
from warroom.core.clock import parse_utc


@click.command("report")
@click.option(
    "--period",
    type=click.Choice(PERIODS),
    default="week",
    show_default=True,
    help="the last complete week (from Monday, UTC), calendar month or quarter",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True)
@click.option("--severity", default=None, help="only this severity")
@click.option("--service", default=None, help="only incidents affecting this service")
@click.option("--team", default=None, help="only incidents affecting this team's services")
@click.option(
    "--before",
    default=None,
    metavar="DATE",
    help="the last complete period before this date or time (default: now)",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary (same as --format json)")
def report(
    period: str,
    fmt: str,
    severity: str | None,
    service: str | None,
    team: str | None,
    before: str | None,
    as_json: bool,
) -> None:
    """Print the operational review: MTTD, MTTA, MTTM and MTTR (n, mean, median, p90 against
    their targets), rates and breakdowns of the incidents declared in the period."""
    now = datetime.now(UTC)
    if before:
        try:
            now = parse_utc(before)
        except ValueError as exc:
            raise click.BadParameter(
                f"{before!r} is not a date or time", param_hint="--before"
            ) from exc
    start, end = period_range(now, period)
    summary = Client().get(
        "/api/v1/analytics/summary",
        **{
            "from": start.isoformat(),
            "to": end.isoformat(),
            "severity": severity,
            "service": service,
            "team": team,
        },
    )
    if as_json:
        emit_json(summary)
        return
    title = f"Operational review: {period} of {start.date().isoformat()}"
    click.echo(render(summary, fmt, title), nl=False)
