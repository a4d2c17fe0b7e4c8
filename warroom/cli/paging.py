"""`warroom page|escalation|contact ...`"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from warroom.cli.client import ApiError, Client
from warroom.cli.output import emit_json, table
from warroom.core.clock import parse_utc

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
STATES = ["active", "triggered", "acknowledged", "exhausted", "resolved"]


def _short(value: str | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    if not value:
        return ""
    return parse_utc(value).strftime(fmt)


def _subject(p: dict[str, Any]) -> str:
    if p["incident"]:
        return f"{p['incident']} {p['title']}"
    if p["alert_id"]:
        return f"alert {p['alert_id']} {p['title']}"
    return str(p["title"])


def _step(p: dict[str, Any]) -> str:
    return f"{p['level']}/{p['levels']} pass {p['pass']}/{p['passes']}"


def _state(p: dict[str, Any]) -> str:
    if p["state"] == "acknowledged" and p["acknowledged_by"]:
        return f"acknowledged by {p['acknowledged_by']}"
    return str(p["state"])


def _page_rows(items: list[dict[str, Any]]) -> None:
    table(
        [
            (p["id"], _state(p), _subject(p), p["policy"], _step(p), _short(p["next_step_at"]))
            for p in items
        ],
        ["id", "state", "paged for", "policy", "level", "next step"],
    )


@click.group("page")
def page() -> None:
    """Pages: who was paged for what, acknowledging, paging people during an incident."""


@page.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="default: every state")
@click.option("--incident", default=None, help="pages of one incident (INC-42)")
@click.option("--user", default=None, help="pages that notified this person")
@click.option("--limit", default=100, show_default=True)
@json_flag
def page_list(
    state: str | None, incident: str | None, user: str | None, limit: int, as_json: bool
) -> None:
    """List pages, newest first."""
    rows = Client().get("/api/v1/pages", state=state, incident=incident, user=user, limit=limit)
    emit_json(rows) if as_json else _page_rows(rows)


@page.command("show")
@click.argument("page_id", type=int)
@json_flag
def page_show(page_id: int, as_json: bool) -> None:
    """Show one page: its steps and every notification with each delivery attempt."""
    p = Client().get(f"/api/v1/pages/{page_id}")
    if as_json:
        emit_json(p)
        return
    click.echo(f"page {p['id']}  {_subject(p)}")
    click.echo(f"  {'state':<16} {_state(p)}")
    click.echo(f"  {'policy':<16} {p['policy']}")
    click.echo(f"  {'level':<16} {_step(p)}")
    for key in ("started_at", "next_step_at", "acknowledged_at", "exhausted_at", "resolved_at"):
        if p.get(key):
            click.echo(f"  {key:<16} {_short(p[key])}")
    if not p["notifications"]:
        click.echo("  nobody notified yet")
    for n in p["notifications"]:
        who = n["user"] or "team channel"
        click.echo(f"  notification {n['id']}: {who} by {n['kind']} [{n['state']}] {n['reason']}")
        for a in n["log"]:
            mark = "ok" if a["ok"] else "failed"
            at = _short(a["at"], "%Y-%m-%d %H:%M:%S UTC")
            click.echo(f"    attempt {a.get('attempt', '?')} {at} {mark}: {a['detail']}")
        if n["state"] == "skipped" and n["last_error"]:
            click.echo(f"    skipped: {n['last_error']}")


@page.command("ack")
@click.argument("page_id", type=int)
@json_flag
def page_ack(page_id: int, as_json: bool) -> None:
    """Acknowledge a page (and what it was for); nobody else is paged."""
    p = Client().post(f"/api/v1/pages/{page_id}/ack", {})
    emit_json(p) if as_json else click.echo(f"page {p['id']} {_state(p)}: {_subject(p)}")


@page.command("resolve")
@click.argument("page_id", type=int)
@json_flag
def page_resolve(page_id: int, as_json: bool) -> None:
    """Resolve a page and what it was for (the incident or the alert)."""
    p = Client().post(f"/api/v1/pages/{page_id}/resolve", {})
    emit_json(p) if as_json else click.echo(f"page {p['id']} {_state(p)}: {_subject(p)}")


@page.command("incident")
@click.argument("incident_id")
@click.option("--policy", default=None, help="page this escalation policy")
@click.option("--user", "users", multiple=True, help="page this person (repeatable)")
@click.option(
    "--timeout",
    "timeout_minutes",
    default=5,
    show_default=True,
    type=click.IntRange(1, 24 * 60),
    help="minutes before paging the people again (with --user)",
)
@json_flag
def page_incident(
    incident_id: str,
    policy: str | None,
    users: tuple[str, ...],
    timeout_minutes: int,
    as_json: bool,
) -> None:
    """Page an escalation policy or people for an incident."""
    if bool(policy) == bool(users):
        raise click.UsageError("give either --policy or --user (one or more)")
    body: dict[str, Any] = (
        {"policy": policy} if policy else {"users": list(users), "timeout_minutes": timeout_minutes}
    )
    p = Client().post(f"/api/v1/incidents/{quote(incident_id, safe='')}/page", body)
    if as_json:
        emit_json(p)
        return
    who = policy if policy else ", ".join(users)
    click.echo(f"Paging {who} for {p['incident']} (page {p['id']})")


@click.group("escalation")
def escalation() -> None:
    """Escalation policies (declared in config as code)."""


@escalation.command("list")
@json_flag
def escalation_list(as_json: bool) -> None:
    """List escalation policies."""
    rows = Client().get("/api/v1/escalation-policies")
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                p["name"],
                len(p["levels"]),
                p["repeat"],
                p["fallback"],
                ", ".join(p["services"]),
                p["description"],
            )
            for p in rows
        ],
        ["name", "levels", "repeat", "fallback", "services", "description"],
    )


def _target(t: dict[str, Any]) -> str:
    if t["type"] == "schedule" and t.get("level", 1) != 1:
        return f"schedule {t['name']} (level {t['level']})"
    return f"{t['type']} {t['name']}"


@escalation.command("show")
@click.argument("name")
@json_flag
def escalation_show(name: str, as_json: bool) -> None:
    """Show a policy's levels, repeats, fallback and services."""
    p = Client().get(f"/api/v1/escalation-policies/{quote(name, safe='')}")
    if as_json:
        emit_json(p)
        return
    click.echo(
        f"escalation policy {p['name']}" + (f": {p['description']}" if p["description"] else "")
    )
    for i, lv in enumerate(p["levels"], 1):
        targets = ", ".join(_target(t) for t in lv["targets"])
        click.echo(f"  level {i}: {targets}; after {lv['timeout_minutes']} min escalate")
    click.echo(f"  repeat           {p['repeat']} more pass(es) after the last level")
    click.echo(f"  fallback         {p['fallback'] or '(none)'}")
    click.echo(f"  services         {', '.join(p['services']) or '(none)'}")


@click.group("contact")
def contact() -> None:
    """Contact methods and notification rules: how pages reach a person."""


def _me(client: Client) -> str:
    me = client.get("/api/v1/me")
    if me.get("user_id") is None:
        raise click.UsageError("this token acts for no user; name one (--user or USER)")
    return str(me["name"])


@contact.command("show")
@click.argument("user", required=False)
@json_flag
def contact_show(user: str | None, as_json: bool) -> None:
    """Show your (or, as admin, USER's) contact methods and notification rules."""
    client = Client()
    name = user or _me(client)
    c = client.get(f"/api/v1/users/{quote(name, safe='')}/contact")
    if as_json:
        emit_json(c)
        return
    click.echo(f"contact methods of {c['user']}:")
    table(
        [
            (
                m["name"],
                m["kind"],
                m["address"],
                ("signed" if m["signed"] else "unsigned") if "signed" in m else "",
            )
            for m in c["contact_methods"]
        ],
        ["name", "kind", "address", "signature"],
    )
    if c["default_email"]:
        click.echo(f"(no methods: pages go to the account email {c['default_email']})")
    if c["notification_rules"]:
        click.echo("notification rules:")
        for r in c["notification_rules"]:
            click.echo(f"  after {r['after_minutes']} min: {r['method']}")
    elif c["contact_methods"]:
        click.echo("notification rules: none, so a page goes to every method at once")


@contact.command("test")
@click.argument("method")
@click.option("--user", default=None, help="another user's method (admins)")
@json_flag
def contact_test(method: str, user: str | None, as_json: bool) -> None:
    """Send a test notification now through one of your contact methods.

    Says only "delivered", "failed: the receiver did not accept the message" or "refused:
    address not allowed" (the page log of a real page has the details); at most 5 tests a
    minute."""
    client = Client()
    name = user or _me(client)
    try:
        out = client.post(f"/api/v1/users/{quote(name, safe='')}/contact/test", {"method": method})
    except ApiError as exc:
        if exc.status == 502 and isinstance(exc.body, dict):
            if as_json:
                emit_json(exc.body)
            raise click.ClickException(
                f"test notification through {method!r}: {exc.body.get('error')}"
            ) from exc
        raise
    if as_json:
        emit_json(out)
        return
    click.echo(f"Sent a test notification to {out['user']} by {out['kind']} ({out['method']}):")
    click.echo(f"  {out['outcome']}")
    click.echo(f"  idempotency key: {out['idempotency_key']}")
