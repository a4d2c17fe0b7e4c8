"""`warroom user|service|token|audit|apply|export`"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

import click

from warroom.cli.client import ApiError, Client
from warroom.cli.output import emit_json, table
from warroom.config.loader import ConfigFileError, load

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


@click.group("user")
def user() -> None:
    """People who respond to incidents."""


@user.command("create")
@click.argument("name")
@click.option("--email", required=True)
@click.option("--full-name", default="")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone, e.g. Europe/Berlin")
@click.option("--role", default="responder", type=click.Choice(["viewer", "responder", "admin"]))
@click.option("--password", default=None, help="web login password (at least 8 characters)")
@json_flag
def user_create(
    name: str,
    email: str,
    full_name: str,
    timezone: str,
    role: str,
    password: str | None,
    as_json: bool,
) -> None:
    """Create a user."""
    body = {
        "name": name,
        "email": email,
        "full_name": full_name,
        "timezone": timezone,
        "role": role,
    }
    if password:
        body["password"] = password
    u = Client().post("/api/v1/users", body)
    emit_json(u) if as_json else click.echo(f"Created user {u['name']} ({u['role']})")


@user.command("list")
@json_flag
def user_list(as_json: bool) -> None:
    """List users."""
    users = Client().get("/api/v1/users")
    if as_json:
        emit_json(users)
    else:
        table(
            [(u["name"], u["email"], u["timezone"], u["role"], u["active"]) for u in users],
            ["name", "email", "timezone", "role", "active"],
        )


@click.group("service")
def service() -> None:
    """Services, their owners, dependencies and runbooks."""


@service.command("list")
@json_flag
def service_list(as_json: bool) -> None:
    """List services."""
    svcs = Client().get("/api/v1/services")
    if as_json:
        emit_json(svcs)
    else:
        table(
            [(s["name"], s["owner"], s["tier"], ",".join(s["depends_on"])) for s in svcs],
            ["name", "owner", "tier", "depends on"],
        )


@service.command("show")
@click.argument("name")
@json_flag
def service_show(name: str, as_json: bool) -> None:
    """Show a service."""
    s = Client().get(f"/api/v1/services/{name}")
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['name']}  (tier {s['tier']}, owner {s['owner'] or '—'})")
    if s["description"]:
        click.echo(f"  {s['description']}")
    click.echo(f"  depends on  {', '.join(s['depends_on']) or '—'}")
    click.echo(f"  used by     {', '.join(s['dependents']) or '—'}")
    for rb in s["runbooks"]:
        click.echo(f"  runbook     {rb}")


@click.command("apply")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="print the plan, change nothing")
@json_flag
def apply(path: Path, dry_run: bool, as_json: bool) -> None:
    """Validate, plan and apply config as code from a YAML file or folder."""
    try:
        loaded = load(path)
    except ConfigFileError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        data = json.loads(json.dumps(loaded.data, default=str))  # YAML dates -> ISO text
        result = Client().post("/api/v1/config/apply", {"config": data, "dry_run": dry_run})
    except ApiError as exc:
        problems = exc.body.get("problems") if isinstance(exc.body, dict) else None
        if not problems:
            raise
        lines = []
        for p in problems:
            where = loaded.locate(tuple(p["path"]))
            prefix = f"{where[0]}:{where[1]}" if where else str(path)
            lines.append(f"{prefix}: {p['location']}: {p['message']}")
        raise click.ClickException(
            "config is invalid, nothing was changed:\n" + "\n".join(lines)
        ) from exc
    if as_json:
        emit_json(result)
        return
    for warning in result.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    changes = result["changes"]
    if not changes:
        click.echo("No changes: the live config matches.")
        return
    for ch in changes:
        sign = {"create": "+", "update": "~", "delete": "-"}[ch["action"]]
        extra = f" ({', '.join(ch['fields'])})" if ch["fields"] else ""
        what = {
            "severities": "severity",
            "sso": "single sign-on",
            "slos": "SLO",
            "triage": "triage",
        }.get(ch["kind"], ch["kind"][:-1])
        click.echo(f"  {sign} {ch['action']} {what} {ch['name']}{extra}")
    for ch in changes:
        if ch.get("key"):
            what = "heartbeat ping secret" if ch["kind"] == "heartbeats" else "key for integration"
            click.echo(f"  {what} {ch['name']} (shown once): {ch['key']}")
    counts = {
        a: sum(1 for c in changes if c["action"] == a) for a in ("create", "update", "delete")
    }
    summary = ", ".join(f"{n} to {a}" for a, n in counts.items() if n)
    click.echo(("Plan: " if dry_run else "Applied: ") + summary)


@click.command("export")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="write to a file"
)
def export(output: Path | None) -> None:
    """Write the live config as YAML that `warroom apply` accepts unchanged."""
    text = Client().get("/api/v1/config/export")
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}")
    else:
        click.echo(text, nl=False)


@click.command("example")
@click.argument(
    "folder", required=False, type=click.Path(path_type=Path, file_okay=False, writable=True)
)
def example(folder: Path | None) -> None:
    """The demo organisation's config files (what `serve --demo` applies). With FOLDER,
    copy them there, to read, change and `warroom apply FOLDER`; without, print where the
    installed copy is."""
    from warroom.demo import DemoMissing, copy_example, example_files, example_folder

    try:
        if folder is None:
            example_files()
            click.echo(str(example_folder()))
            return
        written = copy_example(folder)
    except (DemoMissing, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {', '.join(p.name for p in written)} to {folder}")
    click.echo(f"Apply them with: warroom apply {folder}")


def _set_active(name: str, active: bool, as_json: bool) -> None:
    u = Client().post(f"/api/v1/users/{quote(name, safe='')}/active", {"active": active})
    if as_json:
        emit_json(u)
    else:
        state = "active" if u["active"] else "deactivated"
        click.echo(f"{u['name']} is {state}")


@user.command("deactivate")
@click.argument("name")
@json_flag
def user_deactivate(name: str, as_json: bool) -> None:
    """Deactivate a user: their tokens and web sessions stop at once (admin)."""
    _set_active(name, False, as_json)


@user.command("reactivate")
@click.argument("name")
@json_flag
def user_reactivate(name: str, as_json: bool) -> None:
    """Reactivate a deactivated user; their unrevoked tokens work again (admin)."""
    _set_active(name, True, as_json)


@user.command("password")
@click.argument("name")
@click.option(
    "--password",
    default=None,
    help="the new password; without it, read from standard input (first line)",
)
def user_password(name: str, password: str | None) -> None:
    """Set a user's password (admins: anyone's; others: their own). Ends their web
    sessions."""
    if password is None:
        stdin = sys.stdin
        if stdin.isatty():
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        else:
            password = stdin.readline().rstrip("\r\n")
    Client().post(f"/api/v1/users/{quote(name, safe='')}/password", {"password": password})
    click.echo(f"Password of {name} set; their web sessions were signed out.")


@user.command("reset-link")
@click.argument("name")
@json_flag
def user_reset_link(name: str, as_json: bool) -> None:
    """Make a one-time link with which the user sets a password (admin). Shown once."""
    r = Client().post(f"/api/v1/users/{quote(name, safe='')}/reset-link", {})
    if as_json:
        emit_json(r)
    else:
        click.echo(f"Send this link to {name}; it works once, until {r['expires_at']}:")
        click.echo(f"  {r['url']}")


@click.command("list")
@click.option("--user", "user_name", default=None, help="only this user's tokens (admin)")
@click.option("--revoked", is_flag=True, help="include revoked tokens")
@json_flag
def token_list(user_name: str | None, revoked: bool, as_json: bool) -> None:
    """List API tokens, never their secrets (admins: everyone's; others: their own)."""
    rows = Client().get("/api/v1/tokens", user=user_name, revoked="true" if revoked else None)
    if as_json:
        emit_json(rows)
        return
    table(
        [
            (
                t["id"],
                t["user"] or "-",
                t["name"] or "-",
                t["role"],
                t["created_at"],
                t["revoked_at"] or "-",
            )
            for t in rows
        ],
        ["id", "user", "name", "role", "created", "revoked"],
    )


@click.command("revoke")
@click.argument("token_id", type=int)
@json_flag
def token_revoke(token_id: int, as_json: bool) -> None:
    """Revoke an API token by its id (see `warroom token list`); it stops at once."""
    t = Client().delete(f"/api/v1/tokens/{token_id}")
    emit_json(t) if as_json else click.echo(f"Token {t['id']} revoked at {t['revoked_at']}")


@click.command("audit")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--action", default=None, help="only this action, e.g. token.revoked")
@json_flag
def audit(limit: int, action: str | None, as_json: bool) -> None:
    """The audit log of admin and security actions, newest first (admin)."""
    rows = Client().get("/api/v1/audit", limit=limit, action=action)
    if as_json:
        emit_json(rows)
        return
    table(
        [(e["at"], e["actor"], e["action"], e["target"]) for e in rows],
        ["at", "actor", "action", "target"],
    )
