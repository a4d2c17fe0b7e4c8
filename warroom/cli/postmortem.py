"""`warroom postmortem ...` and `warroom action ...`: postmortems and action items."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from warroom.cli.client import ApiError, Client
from warroom.cli.output import emit_json, table
from warroom.postmortems.rules import TEXT_SECTIONS

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
SECTIONS = ("title", *TEXT_SECTIONS)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from exc


def _show(d: dict[str, Any]) -> None:
    inc = d["incident"]
    click.echo(f"Postmortem of {inc['id']} {inc['title']} ({inc['severity']})")
    click.echo(
        f"  {d['status']}, revision {d['revision']}, {d['requirement']}; owner "
        f"{d['owner'] or '-'}; due {d['due_at'] or '-'}{' (OVERDUE)' if d['overdue'] else ''}"
    )
    for key in ("summary", "impact", "root_cause"):
        text = str(d["content"].get(key, "")).strip()
        if text:
            click.echo(f"\n## {key}\n{text}")
    if d["content"].get("whys"):
        click.echo("\n## 5 Whys")
        for n, w in enumerate(d["content"]["whys"], 1):
            click.echo(f"{n}. {w['why']} -> {w['because']}")
    if d["action_items"]:
        click.echo("\n## Action items")
        for i in d["action_items"]:
            click.echo(f"  #{i['id']} [{i['priority'] or '-'}] {i['title']} ({i['status']})")
    if d["findings"]:
        click.echo("\n## Blameless findings")
        for f in d["findings"]:
            mark = " (overridden)" if f["overridden"] else ""
            click.echo(f'  {f["section"]}: "{f["phrase"]}" [{f["rule"]}]{mark}')
    if d["gate"]:
        click.echo("\n## Before it can be published")
        for p in d["gate"]:
            click.echo(f"  {p['field']}: {p['message']}")


@click.group("postmortem")
def postmortem() -> None:
    """Postmortems: show, edit, review, publish, export, lint."""


@postmortem.command("show")
@click.argument("incident")
@json_flag
def show(incident: str, as_json: bool) -> None:
    """Show a postmortem: status, owner, due time, content, findings and the gate."""
    d = Client().get(f"/api/v1/postmortems/{incident}")
    if as_json:
        emit_json(d)
    else:
        _show(d)


@postmortem.command("list")
@click.option("--status", type=click.Choice(["draft", "in_review", "published"]))
@click.option("--overdue", is_flag=True, help="only unpublished ones past their due time")
@click.option("--owner", default=None)
@json_flag
def list_(status: str | None, overdue: bool, owner: str | None, as_json: bool) -> None:
    """List postmortems."""
    rows = Client().get(
        "/api/v1/postmortems", status=status, overdue="true" if overdue else None, owner=owner
    )
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                r["incident"],
                r["status"],
                r["owner"],
                r["due_at"],
                "yes" if r["overdue"] else "",
                r["title"],
            )
            for r in rows
        ],
        ["incident", "status", "owner", "due", "overdue", "title"],
    )


@postmortem.command("edit")
@click.argument("incident")
@click.option("--set", "sets", multiple=True, metavar="SECTION=TEXT", help="replace a section")
@click.option(
    "--file", "files", multiple=True, metavar="SECTION=PATH", help="a section from a file (- stdin)"
)
@click.option("--why", "whys", multiple=True, metavar="WHY=>BECAUSE", help="the 5 Whys, in order")
@click.option("--factor", "factors", multiple=True, help="a recurring-pattern tag")
@click.option("--owner", default=None)
@click.option("--due", default=None, help="ISO 8601 time, e.g. 2026-03-05T12:00Z")
@json_flag
def edit(
    incident: str,
    sets: tuple[str, ...],
    files: tuple[str, ...],
    whys: tuple[str, ...],
    factors: tuple[str, ...],
    owner: str | None,
    due: str | None,
    as_json: bool,
) -> None:
    """Edit a postmortem (starting one first if the incident has none)."""
    client = Client()
    try:
        client.get(f"/api/v1/postmortems/{incident}")
    except ApiError as exc:
        if exc.status != 404 or "no postmortem" not in str(exc.body):
            raise
        client.post("/api/v1/postmortems", {"incident": incident})
    content: dict[str, Any] = {}
    for option, values, read in (("--set", sets, False), ("--file", files, True)):
        for v in values:
            name, sep, text = v.partition("=")
            if not sep or name not in SECTIONS:
                raise click.BadParameter(
                    f"{v!r}: use SECTION=... with one of {', '.join(SECTIONS)}", param_hint=option
                )
            content[name] = _read(text) if read else text
    if whys:
        chain = []
        for v in whys:
            why, sep, because = v.partition("=>")
            if not sep:
                raise click.BadParameter(f"{v!r} is not WHY=>BECAUSE", param_hint="--why")
            chain.append({"why": why.strip(), "because": because.strip()})
        content["whys"] = chain
    if factors:
        content["factors"] = list(factors)
    body: dict[str, Any] = {}
    if content:
        body["content"] = content
    if owner:
        body["owner"] = owner
    if due:
        body["due_at"] = due
    d = client.request("PATCH", f"/api/v1/postmortems/{incident}", json=body)
    if as_json:
        emit_json(d)
    else:
        _show(d)


def _step(incident: str, path: str, as_json: bool, body: dict[str, Any] | None = None) -> None:
    d = Client().post(f"/api/v1/postmortems/{incident}/{path}", body or {})
    if as_json:
        emit_json(d)
    else:
        click.echo(f"{d['incident']['id']}: postmortem {d['status']} (revision {d['revision']})")


@postmortem.command("submit")
@click.argument("incident")
@json_flag
def submit(incident: str, as_json: bool) -> None:
    """Send a draft to review."""
    _step(incident, "submit", as_json)


@postmortem.command("approve")
@click.argument("incident")
@click.option("--comment", default="")
@json_flag
def approve(incident: str, comment: str, as_json: bool) -> None:
    """Approve the revision in review (a reviewer other than the owner)."""
    _step(incident, "reviews", as_json, {"verdict": "approve", "comment": comment})


@postmortem.command("request-changes")
@click.argument("incident")
@click.option("--comment", required=True)
@json_flag
def request_changes(incident: str, comment: str, as_json: bool) -> None:
    """Send it back to draft with what to change."""
    _step(incident, "reviews", as_json, {"verdict": "request_changes", "comment": comment})


@postmortem.command("override")
@click.argument("incident")
@click.argument("key")
@click.option("--reason", required=True)
@json_flag
def override(incident: str, key: str, reason: str, as_json: bool) -> None:
    """Accept one blameless finding (its key from `show --json`) with a reason."""
    _step(incident, "overrides", as_json, {"key": key, "reason": reason})


@postmortem.command("publish")
@click.argument("incident")
@json_flag
def publish(incident: str, as_json: bool) -> None:
    """Publish (the owner or an admin; the review gate must pass)."""
    _step(incident, "publish", as_json)


@postmortem.command("reopen")
@click.argument("incident")
@json_flag
def reopen(incident: str, as_json: bool) -> None:
    """Reopen a published postmortem as a new revision."""
    _step(incident, "reopen", as_json)


@postmortem.command("export")
@click.argument("incident")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown")
@click.option("-o", "--output", default=None, help="write to a file instead of stdout")
def export(incident: str, fmt: str, output: str | None) -> None:
    """Export as Markdown or a printable HTML page."""
    text = Client().get(f"/api/v1/postmortems/{incident}/export", format=fmt)
    if output:
        Path(output).write_text(str(text), encoding="utf-8")
    else:
        click.echo(str(text))


@postmortem.command("lint")
@click.argument("file")
@json_flag
def lint(file: str, as_json: bool) -> None:
    """Check a text (FILE, or - for stdin) for blaming language; exit 1 on findings."""
    text = _read(file)
    found = Client().post("/api/v1/postmortems/lint", {"text": text})["findings"]
    if as_json:
        emit_json({"findings": found})
    else:
        for f in found:
            line = text.count("\n", 0, f["start"]) + 1
            col = f["start"] - (text.rfind("\n", 0, f["start"]) + 1) + 1
            click.echo(f'{file}:{line}:{col}: {f["rule"]}: "{f["phrase"]}"\n    {f["suggestion"]}')
        if not found:
            click.echo("no blaming language found")
    if found:
        sys.exit(1)


# --- action items ----------------------------------------------------------------------


@click.group("action")
def action() -> None:
    """Action items: create, list, done."""


def _item_line(i: dict[str, Any]) -> str:
    return (
        f"#{i['id']} [{i['priority'] or '-'}] {i['title']} ({i['status']}; owner "
        f"{i['owner'] or '-'}; due {i['due_at'] or '-'}{'; OVERDUE' if i['overdue'] else ''})"
    )


@action.command("create")
@click.argument("incident")
@click.argument("title")
@click.option("--owner", default=None)
@click.option("--due", default=None, help="YYYY-MM-DD or an ISO 8601 time")
@click.option("--priority", type=click.Choice(["P0", "P1", "P2", "P3"]), default=None)
@click.option(
    "--kind",
    type=click.Choice(["prevent", "detect", "mitigate", "process", "runbook"]),
    default="prevent",
)
@click.option("--description", default="")
@click.option("--tracker-url", default="")
@json_flag
def create(
    incident: str,
    title: str,
    owner: str | None,
    due: str | None,
    priority: str | None,
    kind: str,
    description: str,
    tracker_url: str,
    as_json: bool,
) -> None:
    """Create an action item for an incident."""
    body: dict[str, Any] = {
        "incident": incident,
        "title": title,
        "kind": kind,
        "description": description,
        "tracker_url": tracker_url,
    }
    for k, v in (("owner", owner), ("due", due), ("priority", priority)):
        if v:
            body[k] = v
    i = Client().post("/api/v1/action-items", body)
    if as_json:
        emit_json(i)
    else:
        click.echo(_item_line(i))


@action.command("list")
@click.option("--owner", default=None, help="a user name, or me")
@click.option("--team", default=None)
@click.option("--status", type=click.Choice(["open", "in_progress", "done", "wont_do"]))
@click.option("--overdue", is_flag=True)
@click.option("--incident", default=None)
@json_flag
def list_items(
    owner: str | None,
    team: str | None,
    status: str | None,
    overdue: bool,
    incident: str | None,
    as_json: bool,
) -> None:
    """List action items: mine (--owner me), a team's, overdue."""
    rows = Client().get(
        "/api/v1/action-items",
        owner=owner,
        team=team,
        status=status,
        overdue="true" if overdue else None,
        incident=incident,
    )
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                r["id"],
                r["incident"],
                r["priority"],
                r["status"],
                r["owner"],
                r["due_at"],
                "yes" if r["overdue"] else "",
                r["title"],
            )
            for r in rows
        ],
        ["id", "incident", "priority", "status", "owner", "due", "overdue", "title"],
    )


@action.command("done")
@click.argument("item_id", type=int)
@json_flag
def done(item_id: int, as_json: bool) -> None:
    """Mark an action item done."""
    i = Client().post(f"/api/v1/action-items/{item_id}/done", {})
    if as_json:
        emit_json(i)
    else:
        click.echo(_item_line(i))
