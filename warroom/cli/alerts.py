"""`warroom alert|silence|change|integration ...`"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from warroom.cli.client import Client
from warroom.cli.output import emit_json, table

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def _alert_rows(items: list[dict[str, Any]]) -> None:
    table(
        [
            (
                a["id"],
                a["status"],
                a["severity"],
                a["service"],
                a["summary"],
                a["occurrences"],
                a["incident"],
                "silenced"
                if a["suppressed_by"]
                else "flapping"
                if a["flapping"]
                else a["noise"] or "",
                a["last_seen"],
            )
            for a in items
        ],
        ["id", "status", "sev", "service", "summary", "count", "incident", "flags", "last seen"],
    )


@click.group("alert")
def alert() -> None:
    """Alerts received from monitoring."""


@alert.command("list")
@click.option("--status", type=click.Choice(["open", "triggered", "acknowledged", "resolved"]))
@click.option("--service", default=None)
@click.option("--incident", default=None, help="alerts of one incident")
@click.option("--noise", is_flag=True, default=None, help="only alerts marked non-actionable")
@click.option("--limit", default=50, show_default=True)
@json_flag
def alert_list(
    status: str | None,
    service: str | None,
    incident: str | None,
    noise: bool | None,
    limit: int,
    as_json: bool,
) -> None:
    """List alerts, newest first."""
    page = Client().get(
        "/api/v1/alerts",
        status=status,
        service=service,
        incident=incident,
        noise=noise,
        limit=limit,
    )
    emit_json(page["items"]) if as_json else _alert_rows(page["items"])


@alert.command("show")
@click.argument("alert_id", type=int)
@json_flag
def alert_show(alert_id: int, as_json: bool) -> None:
    """Show one alert with labels, annotations and links."""
    a = Client().get(f"/api/v1/alerts/{alert_id}")
    if as_json:
        emit_json(a)
        return
    click.echo(f"alert {a['id']}  {a['summary']}")
    for key in (
        "status",
        "severity",
        "source_severity",
        "service",
        "integration",
        "rule",
        "incident",
        "dedup_key",
        "occurrences",
        "first_seen",
        "last_seen",
        "suppressed_by",
        "flapping",
        "noise",
    ):
        if a.get(key) not in (None, "", False):
            click.echo(f"  {key:<16} {a[key]}")
    for k, v in a["labels"].items():
        click.echo(f"  label {k}={v}")
    for k, v in a["annotations"].items():
        click.echo(f"  annotation {k}: {v}")
    for link in a["links"]:
        click.echo(f"  link {link['text']}: {link['href']}")


@alert.command("ack")
@click.argument("alert_id", type=int)
@json_flag
def alert_ack(alert_id: int, as_json: bool) -> None:
    """Acknowledge an alert."""
    a = Client().post(f"/api/v1/alerts/{alert_id}/ack", {})
    emit_json(a) if as_json else click.echo(f"alert {a['id']} {a['status']}")


@alert.command("resolve")
@click.argument("alert_id", type=int)
@json_flag
def alert_resolve(alert_id: int, as_json: bool) -> None:
    """Resolve an alert."""
    a = Client().post(f"/api/v1/alerts/{alert_id}/resolve", {})
    emit_json(a) if as_json else click.echo(f"alert {a['id']} {a['status']}")


@alert.command("mark-noise")
@click.argument("alert_id", type=int)
@click.option(
    "--reason",
    default="not_actionable",
    show_default=True,
    type=click.Choice(["false_positive", "noise", "duplicate", "not_actionable"]),
)
@click.option("--note", default="")
@json_flag
def alert_noise(alert_id: int, reason: str, note: str, as_json: bool) -> None:
    """Mark an alert non-actionable (counts against its routing rule)."""
    a = Client().post(f"/api/v1/alerts/{alert_id}/noise", {"reason": reason, "note": note})
    emit_json(a) if as_json else click.echo(f"alert {a['id']} marked {a['noise']}")


@alert.command("noise-report")
@json_flag
def noise_report(as_json: bool) -> None:
    """Alerts and non-actionable marks per routing rule."""
    rows = Client().get("/api/v1/alerts/noise")
    if as_json:
        emit_json(rows)
    else:
        table(
            [
                (r["rule"] or "(no rule)", r["alerts"], r["non_actionable"], f"{r['share']:.0%}")
                for r in rows
            ],
            ["rule", "alerts", "non-actionable", "share"],
        )


def _duration(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=int(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError) as exc:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 2h or 1d") from exc


@click.group("silence")
def silence() -> None:
    """Silences and maintenance windows: matching alerts are kept but page no one."""


@silence.command("add")
@click.argument("matchers", nargs=-1)
@click.option("--service", "services", multiple=True, help="maintenance window for a service")
@click.option("--duration", default="2h", show_default=True, help="e.g. 30m, 2h, 1d")
@click.option("--comment", required=True, help="why")
@json_flag
def silence_add(
    matchers: tuple[str, ...], services: tuple[str, ...], duration: str, comment: str, as_json: bool
) -> None:
    """Silence alerts matching MATCHERS (name=value, name!=value, name=~regex), or with
    --service open a maintenance window."""
    if not matchers and not services:
        raise click.UsageError("give matchers (alertname=Foo) or --service")
    ends = datetime.now(UTC) + _duration(duration)
    body = {
        "kind": "maintenance" if services and not matchers else "silence",
        "matchers": list(matchers),
        "services": list(services),
        "ends_at": ends.isoformat(),
        "comment": comment,
    }
    s = Client().post("/api/v1/silences", body)
    emit_json(s) if as_json else click.echo(f"{s['kind']} {s['id']} active until {s['ends_at']}")


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="include expired ones")
@json_flag
def silence_list(show_all: bool, as_json: bool) -> None:
    """List silences and maintenance windows."""
    rows = Client().get("/api/v1/silences", all=show_all or None)
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                s["id"],
                s["kind"],
                s["state"],
                ",".join(f"{m['name']}{m['op']}{m['value']}" for m in s["matchers"])
                or ",".join(s["services"]),
                s["ends_at"],
                s["created_by"],
                s["comment"],
            )
            for s in rows
        ],
        ["id", "kind", "state", "matches", "ends", "by", "comment"],
    )


@silence.command("expire")
@click.argument("silence_id", type=int)
@json_flag
def silence_expire(silence_id: int, as_json: bool) -> None:
    """End a silence now."""
    s = Client().post(f"/api/v1/silences/{silence_id}/expire", {})
    emit_json(s) if as_json else click.echo(f"silence {s['id']} {s['state']}")


@click.group("change")
def change() -> None:
    """Deploys, config changes and feature-flag flips."""


@change.command("record")
@click.argument("summary")
@click.option("--service", default=None)
@click.option(
    "--kind",
    default="deploy",
    show_default=True,
    type=click.Choice(["deploy", "config", "feature_flag", "other"]),
)
@click.option("--source", default="cli")
@click.option("--at", default=None, help="when (ISO-8601); default now")
@click.option("--link", default=None, help="a URL (e.g. the pull request)")
@json_flag
def change_record(
    summary: str,
    service: str | None,
    kind: str,
    source: str,
    at: str | None,
    link: str | None,
    as_json: bool,
) -> None:
    """Record a change."""
    body: dict[str, Any] = {"summary": summary, "service": service, "kind": kind, "source": source}
    if at:
        body["at"] = at
    if link:
        body["links"] = [{"href": link, "text": "link"}]
    c = Client().post("/api/v1/changes", body)
    emit_json(c) if as_json else click.echo(f"Recorded change {c['id']} at {c['at']}")


@change.command("list")
@click.option("--service", default=None)
@click.option("--since", default=None, help="ISO-8601")
@click.option("--limit", default=50, show_default=True)
@json_flag
def change_list(service: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """List changes, newest first."""
    rows = Client().get("/api/v1/changes", service=service, since=since, limit=limit)
    if as_json:
        emit_json(rows)
    else:
        table(
            [
                (c["id"], c["at"], c["kind"], c["service"], c["summary"], c["recorded_by"])
                for c in rows
            ],
            ["id", "at", "kind", "service", "summary", "by"],
        )


@click.group("integration")
def integration() -> None:
    """Alert sources and their keys."""


@integration.command("create")
@click.argument("name")
@click.option("--service", default=None, help="the service its alerts belong to")
@click.option(
    "--kind", required=True, type=click.Choice(["pagerduty", "alertmanager", "grafana", "webhook"])
)
@click.option(
    "--hmac-secret", default=None, help="require X-Warroom-Signature: sha256=<HMAC of body>"
)
@click.option("--rate-per-minute", type=int, default=None, help="answer 429 above this rate")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    help="webhook field mapping, e.g. --map title=check.name --map dedup_key=check.id",
)
@click.option(
    "--heartbeat",
    default=None,
    metavar="ALERT:MONITOR",
    help="an always-firing alert that pings a heartbeat monitor, e.g. Watchdog:prometheus-eu",
)
@json_flag
def integration_create(
    name: str,
    service: str | None,
    kind: str,
    hmac_secret: str | None,
    rate_per_minute: int | None,
    mapping: tuple[str, ...],
    heartbeat: str | None,
    as_json: bool,
) -> None:
    """Create an integration; prints its key once."""
    fields: dict[str, str] = {}
    for item in mapping:
        k, sep, v = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not FIELD=path", param_hint="--map")
        fields[k] = v
    body = {
        "name": name,
        "kind": kind,
        "service": service,
        "hmac_secret": hmac_secret,
        "rate_per_minute": rate_per_minute,
        "mapping": fields,
    }
    if heartbeat is not None:
        alert, sep, monitor = heartbeat.partition(":")
        if not sep or not alert or not monitor:
            raise click.BadParameter(
                f"{heartbeat!r} is not ALERT:MONITOR", param_hint="--heartbeat"
            )
        body["heartbeat"] = {"alert": alert, "monitor": monitor}
    out = Client().post("/api/v1/integrations", body)
    if as_json:
        emit_json(out)
        return
    click.echo(f"Created {kind} integration {name!r}. Its key is shown this once:")
    click.echo(f"  key:      {out['key']}")
    click.echo(f"  endpoint: {out['endpoint']}")


@integration.command("list")
@json_flag
def integration_list(as_json: bool) -> None:
    """List integrations."""
    rows = Client().get("/api/v1/integrations")
    if as_json:
        emit_json(rows)
    else:
        table(
            [
                (
                    i["name"],
                    i["kind"],
                    i["service"],
                    i["key_hint"],
                    i["signed"],
                    i["rate_per_minute"],
                )
                for i in rows
            ],
            ["name", "kind", "service", "key", "signed", "rate/min"],
        )


@integration.command("rotate")
@click.argument("name")
@json_flag
def integration_rotate(name: str, as_json: bool) -> None:
    """Replace an integration's key; the old key stops working."""
    out = Client().post(f"/api/v1/integrations/{name}/rotate", {})
    emit_json(out) if as_json else click.echo(f"New key for {name}: {out['key']}")
