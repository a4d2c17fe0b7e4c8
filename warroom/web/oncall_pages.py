"""Web pages for on-call: a two-week timeline per schedule, overrides marked, gaps and
burnout warnings shown, recent handoffs and the rotation's health; one page per handoff
note with its checklist and remarks. Server-rendered bars (positioned by percentage),
no scripts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from warroom.core.errors import DomainError, NotFound
from warroom.http import clock, db
from warroom.oncall import rules, service
from warroom.org.models import Team
from warroom.shifts import handoff_service, health, health_service
from warroom.web.routes import back, csrf_ok, csrf_rejected, current, error_page, templates

router = APIRouter(include_in_schema=False)
RECENT_HANDOFFS = 6


@dataclass
class Bar:
    left: float
    width: float
    label: str
    title: str
    css: str
    color: str


@dataclass
class Row:
    label: str
    kind: str  # layer | final
    bars: list[Bar]


def _color(user: str) -> str:
    hue = int(hashlib.sha256(user.encode()).hexdigest()[:4], 16) % 360
    return f"hsl({hue} 55% 78%)"


def _bars(
    spans: list[rules.Span],
    gaps: list[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    tz: Any,
) -> list[Bar]:
    total = (end - start).total_seconds()

    def pos(a: datetime, b: datetime) -> tuple[float, float]:
        return (
            round((a - start).total_seconds() / total * 100, 3),
            round((b - a).total_seconds() / total * 100, 3),
        )

    def when(a: datetime, b: datetime) -> str:
        return f"{a.astimezone(tz):%a %d %b %H:%M} – {b.astimezone(tz):%a %d %b %H:%M}"

    out = []
    for sp in spans:
        left, width = pos(sp.start, sp.end)
        title = f"{sp.user}: {when(sp.start, sp.end)}"
        css = "bar"
        if sp.override is not None:
            css += " override"
            title += " (override" + (f", covering {sp.covering}" if sp.covering else "") + ")"
        elif sp.layer:
            title += f" · layer {sp.layer}"
        out.append(Bar(left, width, sp.user, title, css, _color(sp.user)))
    for a, b in gaps:
        left, width = pos(a, b)
        out.append(Bar(left, width, "gap", f"Nobody on call: {when(a, b)}", "bar gap", ""))
    return out


def _layer_label(layer: rules.Layer) -> str:
    level = rules.level_name(layer.level)
    return f"{layer.name} · {layer.zone}" + ("" if layer.name == level else f" · {level}")


def schedule_view(
    s: Any, row: Any, now: datetime, days: int, pages: list[health_service.PageRow]
) -> dict[str, Any]:
    tz = rules.zone(row.timezone)
    start = rules.localize(datetime.combine(now.astimezone(tz).date(), datetime.min.time()), tz)
    end = rules.localize(
        datetime.combine(now.astimezone(tz).date() + timedelta(days=days), datetime.min.time()), tz
    )
    model = service.model(s, row, start, end)
    tl = rules.shifts_between(model, start, end)
    levels = {x.level for x in model.layers}
    rows = [
        Row(
            _layer_label(x),
            "layer",
            _bars(tl.layers[x.name], [], start, end, tz),
        )
        for x in model.layers
    ]
    for lv in sorted(tl.final):
        if lv not in levels and not tl.final[lv]:
            continue
        gaps = tl.gaps[lv] if lv in levels else []
        rows.append(
            Row(
                f"On call: {rules.level_name(lv)}",
                "final",
                _bars(tl.final[lv], gaps, start, end, tz),
            )
        )
    total = (end - start).total_seconds()
    ticks = []
    for d in range(days):
        day = now.astimezone(tz).date() + timedelta(days=d)
        at = rules.localize(datetime.combine(day, datetime.min.time()), tz)
        ticks.append(
            {
                "left": round((at - start).total_seconds() / total * 100, 3),
                "label": f"{day:%a %d}",
                "weekend": day.weekday() >= 5,
            }
        )
    team = s.get(Team, row.team_id)
    current_now = [sp for sp in rules.on_call_at(model, now) if start <= now < end]
    return {
        "name": row.name,
        "team": team.name if team else "",
        "description": row.description,
        "timezone": row.timezone,
        "rows": rows,
        "ticks": ticks,
        "now_left": round((now - start).total_seconds() / total * 100, 3),
        "now": current_now,
        "warnings": [w.message for w in rules.health(model, now, end)],
        "overrides": [
            service.override_dict(s, o, row.name) for o in service.list_overrides(s, row, now)
        ],
        "handoffs": handoff_service.handoff_list(
            s, handoff_service.list_handoffs(s, schedule=row.name, limit=RECENT_HANDOFFS)
        ),
        "health": health_service.report(s, now, schedule=row.name, pages=pages),
        "business_hours": "–".join(t.strftime("%H:%M") for t in health_service.business_hours(row)),
        "start": start,
        "end": end,
    }


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, schedule: str = "", error: str = "") -> Response:
    who, csrf = current(request)
    now = clock(request).now()
    with db(request).read() as s:
        rows = service.list_schedules(s)
        if schedule:
            rows = [r for r in rows if r.name == schedule]
        # The health sections of every schedule share the last 28 days of pages.
        pages = health_service.load_pages(s, now - health.DEFAULT_PERIOD, now) if rows else []
        views = [schedule_view(s, r, now, service.PAGE_DAYS, pages) for r in rows]
        users = sorted(u for u in service._user_names(s).values())
    return templates.TemplateResponse(
        request,
        "oncall.html",
        {
            "user": who,
            "csrf": csrf,
            "schedules": views,
            "error": error,
            "users": users,
            "level_name": rules.level_name,
        },
    )


@router.post("/oncall/{name}/overrides")
async def override_form(request: Request, name: str) -> Response:
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    if not who.can("responder"):
        return back("/oncall", "adding an override needs the responder role")

    def work() -> None:
        c = clock(request)
        with db(request).session() as s:
            row = service.get_schedule(s, name)
            tz = rules.zone(row.timezone)
            start = _local(str(form.get("start", "")), tz, "start")
            end = _local(str(form.get("end", "")), tz, "end")
            service.create_override(
                s,
                c,
                who,
                row,
                user=str(form.get("user", "")),
                start=start,
                end=end,
                covering=str(form.get("covering", "")) or None,
                note=str(form.get("note", "")),
            )

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back("/oncall", exc.message)
    return back("/oncall")


@router.post("/oncall/{name}/overrides/{override_id}/delete")
async def override_delete(request: Request, name: str, override_id: int) -> Response:
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    if not who.can("responder"):
        return back("/oncall", "removing an override needs the responder role")

    def work() -> None:
        with db(request).session() as s:
            service.delete_override(
                s, clock(request), who, service.get_schedule(s, name), override_id
            )

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back("/oncall", exc.message)
    return back("/oncall")


def _local(text: str, tz: Any, field: str) -> datetime:
    from warroom.core.errors import ValidationFailed

    try:
        naive = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {text!r} is not a date and time", field=field) from exc
    service.bounded(naive, field)
    if naive.tzinfo is not None:
        return naive
    return rules.localize(naive, tz)


@router.get("/oncall/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_page(request: Request, handoff_id: int, error: str = "") -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            row = handoff_service.get_handoff(s, handoff_id)
        except NotFound as exc:
            return error_page(request, exc.message, 404, who)
        h = handoff_service.handoff_dict(s, row, who=who)
    return templates.TemplateResponse(
        request,
        "oncall_handoff.html",
        {"user": who, "csrf": csrf, "h": h, "error": error},
    )


@router.post("/oncall/handoffs/{handoff_id}/remarks")
async def handoff_remark(request: Request, handoff_id: int) -> Response:
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    url = f"/oncall/handoffs/{handoff_id}"

    def work() -> None:
        with db(request).session() as s:
            row = handoff_service.get_handoff(s, handoff_id)
            handoff_service.add_remark(s, clock(request), who, row, str(form.get("text", "")))

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(url, exc.message)
    return back(url + "#remarks")
