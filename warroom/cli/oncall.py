"""`warroom oncall now|show|override|overrides|report|feed|handoffs|handoff|remark|health`"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from warroom.cli.client import Client
from warroom.cli.output import emit_json, table
from warroom.core.clock import iso, parse_utc

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def _short(value: str | None) -> str:
    if not value:
        return "—"
    return parse_utc(value).strftime("%a %Y-%m-%d %H:%M UTC")


def _instant(value: str | None) -> str | None:
    """Accepts ISO 8601; a time without a zone is UTC."""
    if value is None:
        return None
    try:
        t = parse_utc(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time like 2026-03-02T09:00Z"
        ) from exc
    return iso(t)


@click.group()
def oncall() -> None:
    """On-call schedules: who is on call, overrides, calendar feeds, compensation."""


@oncall.command("now")
@click.option("--schedule", "-s", default=None, help="one schedule (default: all)")
@click.option("--at", default=None, help="an instant instead of now (ISO 8601)")
@json_flag
def now(schedule: str | None, at: str | None, as_json: bool) -> None:
    """Who is on call now (or at --at)."""
    body = Client().get("/api/v1/oncall", schedule=schedule, at=_instant(at))
    if as_json:
        emit_json(body)
        return
    table(
        [
            (
                r["schedule"],
                r["level_name"],
                r["user"] or "NOBODY",
                _short(r.get("end")) if r["user"] else "",
                (f"covering {r['covering']}" if r.get("covering") else "")
                + (" (override)" if r.get("override") is not None else ""),
            )
            for r in body["oncall"]
        ],
        ["schedule", "level", "on call", "until", "note"],
    )


@oncall.command("show")
@click.argument("schedule")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 400))
@click.option("--start", default=None, help="start instead of now (ISO 8601)")
@json_flag
def show(schedule: str, days: int, start: str | None, as_json: bool) -> None:
    """The final schedule over the next days: who, from when, until when."""
    body = Client().get(
        f"/api/v1/schedules/{quote(schedule, safe='')}/shifts", days=days, start=_instant(start)
    )
    if as_json:
        emit_json(body)
        return
    click.echo(f"{schedule}: {_short(body['start'])} → {_short(body['end'])}")
    keyed: list[tuple[str, int, tuple[Any, ...]]] = [
        (
            s["start"],
            s["level"],
            (
                s["level_name"],
                s["user"],
                _short(s["start"]),
                _short(s["end"]),
                s["layer"] or "",
                (f"override, covering {s['covering']}" if s["covering"] else "override")
                if s["override"] is not None
                else "",
            ),
        )
        for s in body["final"]
    ]
    keyed += [
        (g["start"], g["level"], ("GAP", "nobody", _short(g["start"]), _short(g["end"]), "", ""))
        for g in body["gaps"]
    ]
    rows = [row for _, _, row in sorted(keyed, key=lambda k: (k[0], k[1]))]
    table(rows, ["level", "on call", "from", "to", "layer", "note"])
    for w in body["warnings"]:
        click.echo(f"warning: {w['message']}")


@oncall.command("override")
@click.argument("schedule")
@click.argument("user")
@click.option("--start", required=True, help="ISO 8601; without a zone, UTC")
@click.option("--end", required=True, help="ISO 8601; without a zone, UTC")
@click.option("--covering", default=None, help="the person being covered (default: the primary)")
@click.option("--level", default=None, type=click.IntRange(1, 9), help="take this level")
@click.option("--note", default="")
@json_flag
def override(
    schedule: str,
    user: str,
    start: str,
    end: str,
    covering: str | None,
    level: int | None,
    note: str,
    as_json: bool,
) -> None:
    """USER covers for a span (for --covering USER, or the primary on call)."""
    body = Client().post(
        f"/api/v1/schedules/{quote(schedule, safe='')}/overrides",
        {
            "user": user,
            "start": _instant(start),
            "end": _instant(end),
            "covering": covering,
            "level": level,
            "note": note,
        },
    )
    if as_json:
        emit_json(body)
        return
    whom = f" covering {body['covering']}" if body["covering"] else ""
    click.echo(
        f"Override {body['id']}: {body['user']}{whom} on {schedule} "
        f"from {_short(body['start'])} to {_short(body['end'])}"
    )


@oncall.command("overrides")
@click.argument("schedule")
@json_flag
def overrides(schedule: str, as_json: bool) -> None:
    """Overrides of a schedule that have not ended."""
    body = Client().get(f"/api/v1/schedules/{quote(schedule, safe='')}/overrides")
    if as_json:
        emit_json(body)
        return
    table(
        [
            (o["id"], o["user"], o["covering"] or "", _short(o["start"]), _short(o["end"]))
            for o in body
        ],
        ["id", "user", "covering", "from", "to"],
    )


@oncall.command("remove-override")
@click.argument("schedule")
@click.argument("override_id", type=int)
@json_flag
def remove_override(schedule: str, override_id: int, as_json: bool) -> None:
    """Remove an override."""
    Client().request(
        "DELETE", f"/api/v1/schedules/{quote(schedule, safe='')}/overrides/{override_id}"
    )
    if as_json:
        emit_json({"removed": override_id, "schedule": schedule})
    else:
        click.echo(f"Removed override {override_id}")


@oncall.command("report")
@click.option("--from", "start", default=None, help="ISO 8601 (default: start of this month)")
@click.option("--to", "end", default=None, help="ISO 8601 (default: now)")
@click.option("--period", default="month", type=click.Choice(["week", "month"]), show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet or payroll")
@json_flag
def report(start: str | None, end: str | None, period: str, as_csv: bool, as_json: bool) -> None:
    """Hours on call per person and period (weekday, off-hours, weekend) and pay."""
    params = {"from": _instant(start), "to": _instant(end), "period": period}
    if as_csv:
        text = Client().get("/api/v1/oncall/report", format="csv", **params)
        click.echo(text, nl=False)
        return
    body = Client().get("/api/v1/oncall/report", **params)
    if as_json:
        emit_json(body)
        return
    table(
        [
            (
                r["period"],
                r["user"],
                r["weekday_hours"],
                r["off_hours_hours"],
                r["weekend_hours"],
                r["total_hours"],
                ", ".join(f"{v:.2f} {k}" for k, v in r["amounts"].items()),
            )
            for r in body["rows"]
        ],
        ["period", "user", "weekday h", "off-hours h", "weekend h", "total h", "pay"],
    )


@oncall.command("feed")
@click.option("--schedule", "-s", default=None, help="a schedule's feed (default: your own)")
@click.option("--user", "-u", default=None, help="another user's feed (admins)")
@json_flag
def feed(schedule: str | None, user: str | None, as_json: bool) -> None:
    """A new secret calendar (iCalendar) URL; the previous one stops working."""
    client = Client()
    if schedule:
        body = client.post(f"/api/v1/schedules/{quote(schedule, safe='')}/feed", {})
    else:
        path = "/api/v1/oncall/feed" + (f"?user={quote(user, safe='')}" if user else "")
        body = client.post(path, {})
    if as_json:
        emit_json(body)
        return
    click.echo(f"Calendar feed for {body['for']} (keep it secret, shown once):")
    click.echo(f"  {client.url}{body['path']}")


# --- handoffs -------------------------------------------------------------------------------


@oncall.command("handoffs")
@click.option("--schedule", "-s", default=None, help="one schedule (default: all)")
@click.option("--user", "-u", default=None, help="handoffs this person gave or took")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_flag
def handoffs(schedule: str | None, user: str | None, limit: int, as_json: bool) -> None:
    """Handoff notes, newest first: who handed over to whom, and what the note holds."""
    body = Client().get("/api/v1/oncall/handoffs", schedule=schedule, user=user, limit=limit)
    if as_json:
        emit_json(body)
        return
    table(
        [
            (
                h["id"],
                h["schedule"],
                h["level_name"],
                _short(h["at"]),
                f"{h['outgoing']} → {h['incoming']}",
                h["summary"]["open_incidents"],
                f"{h['summary']['alerts']} ({h['summary']['non_actionable_alerts']} non-act.)",
                f"{h['summary']['pages']} ({h['summary']['off_hours_pages']} off-hours)",
                h["summary"]["changes"],
                h["summary"]["remarks"],
            )
            for h in body
        ],
        [
            "id",
            "schedule",
            "level",
            "at",
            "handoff",
            "open inc.",
            "alerts",
            "pages",
            "changes",
            "remarks",
        ],
    )


_MARKS = {"ok": "[ok]", "check": "[ ]", "warning": "[!]"}


def _print_handoff(h: dict[str, Any]) -> None:
    note = h["note"]
    out = click.echo
    out(
        f"Handoff {h['id']}: {h['schedule']} ({h['level_name']}), "
        f"{h['outgoing']} → {h['incoming']} at {_short(h['at'])}"
    )
    out(
        f"{h['outgoing']}'s shift: {_short(note['shift']['start'])} → "
        f"{_short(note['shift']['end'])}"
    )
    out(f"Services: {', '.join(note['services']) or 'none'}")
    inc = note["incidents"]
    out("")
    out(f"Open incidents ({len(inc['open']) + inc['private_open']})")
    for i in inc["open"]:
        cmd = f"commander {i['commander']}" if i["commander"] else "no commander"
        out(f"  {i['id']}  {i['severity']}  {i['status']}  {cmd}  {i['title']}")
    if inc["private_open"]:
        out(f"  (and {inc['private_open']} private, visible to its participants)")
    out(f"  Declared during the shift: {inc['declared']}, resolved: {inc['resolved']}")
    al = note["alerts"]
    out("")
    out(
        f"Alerts ({al['total']}: {al['actionable']} actionable, "
        f"{al['non_actionable']} marked non-actionable)"
    )
    for g in al["top"]:
        extra = []
        if g["non_actionable"]:
            extra.append(f"{g['non_actionable']} non-actionable")
        if g["incidents"]:
            extra.append(", ".join(g["incidents"]))
        out(
            f"  {g['alerts']}×  {g['summary']}  [{g['service'] or '-'}]"
            + (f"  {'; '.join(extra)}" if extra else "")
        )
    pg = note["pages"]
    out("")
    out(
        f"Pages to {h['outgoing']} ({pg['count']}: {pg['off_hours']} off-hours, "
        f"{pg['non_actionable']} non-actionable)"
    )
    for p in pg["items"]:
        flags = [p["state"]]
        if p["acknowledged_by"]:
            flags.append(f"acknowledged by {p['acknowledged_by']}")
        if p["off_hours"]:
            flags.append("off-hours")
        if p["non_actionable"]:
            flags.append("non-actionable")
        out(f"  {_short(p['at'])}  {p['incident'] or ''}  {p['title']}  ({', '.join(flags)})")
    ch = note["changes"]
    out("")
    out(f"Changes ({ch['total']})")
    for c in ch["items"]:
        out(f"  {_short(c['at'])}  {c['kind']}  {c['service'] or '-'}  {c['summary']}")
    out("")
    out("Questions for the note")
    for q in note["prompts"]:
        out(f"  - {q}")
    out("")
    out(f"Start-of-shift checklist for {h['incoming']}")
    for item in h["checklist"]:
        out(f"  {_MARKS.get(item['status'], '[ ]')} {item['text']}")
        out(f"       {item['detail']}")
    out("")
    out(f"Remarks ({len(h['remarks'])})")
    for r in h["remarks"]:
        out(f"  {r['author']} ({r['role']}), {_short(r['at'])}:")
        for line in r["text"].splitlines() or [""]:
            out(f"    {line}")


@oncall.command("handoff")
@click.argument("handoff_id", type=int)
@json_flag
def handoff(handoff_id: int, as_json: bool) -> None:
    """One handoff: the outgoing note, the incoming checklist and the remarks."""
    body = Client().get(f"/api/v1/oncall/handoffs/{handoff_id}")
    if as_json:
        emit_json(body)
        return
    _print_handoff(body)


@oncall.command("remark")
@click.argument("handoff_id", type=int)
@click.argument("text")
@json_flag
def remark(handoff_id: int, text: str, as_json: bool) -> None:
    """Add your own words to a handoff note (you handed over, or took over)."""
    body = Client().post(f"/api/v1/oncall/handoffs/{handoff_id}/remarks", {"text": text})
    if as_json:
        emit_json(body)
        return
    click.echo(f"Remark added to handoff {handoff_id} ({body['summary']['remarks']} in all)")


# --- health ---------------------------------------------------------------------------------


def _share(n: int, share: float) -> str:
    return f"{n} ({round(share * 100)}%)"


HEALTH_COLUMNS = ["pages/shift", "off-hours", "non-actionable", "flags"]


def _health_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    """The columns a person's and a rotation's health rows share."""
    per_shift = row["pages_per_shift"]
    return (
        "—" if per_shift is None else per_shift,
        _share(row["off_hours_pages"], row["off_hours_share"]),
        _share(row["non_actionable_pages"], row["non_actionable_share"]),
        ", ".join(row["flags"]),
    )


@oncall.command("health")
@click.option("--schedule", "-s", default=None, help="one rotation (default: all)")
@click.option("--user", "-u", default=None, help="one person")
@click.option("--since", default="28d", show_default=True, help="how far back: 28d, 4w, 72h")
@json_flag
def health(schedule: str | None, user: str | None, since: str, as_json: bool) -> None:
    """On-call health per person and rotation: shifts, pages per shift, off-hours pages
    (in each person's zone), non-actionable pages, and flags."""
    body = Client().get("/api/v1/oncall/health", schedule=schedule, user=user, since=since)
    if as_json:
        emit_json(body)
        return
    click.echo(f"On-call health, {_short(body['start'])} → {_short(body['end'])}")
    click.echo("")
    table(
        [
            (
                p["user"],
                p["timezone"],
                p["shifts"],
                p["hours"],
                p["pages"],
                *_health_cells(p),
            )
            for p in body["people"]
        ],
        ["person", "timezone", "shifts", "hours", "pages", *HEALTH_COLUMNS],
    )
    click.echo("")
    table(
        [
            (
                r["schedule"],
                len(r["people"]),
                r["shifts"],
                r["pages"],
                *_health_cells(r),
            )
            for r in body["rotations"]
        ],
        ["rotation", "people", "shifts", "pages", *HEALTH_COLUMNS],
    )
    click.echo("")
    t = body["thresholds"]
    if body["flags"]:
        click.echo("Flags:")
        for f in body["flags"]:
            click.echo(f"  ! {f['message']}")
    else:
        click.echo(
            f"No flags: nobody above {round(t['non_actionable_share'] * 100)}% non-actionable "
            f"pages or at {t['off_hours_pages']} off-hours pages."
        )
