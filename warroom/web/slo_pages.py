"""The SLO pages: every service's gate at a glance (/slos), and a page per service
(/slos/<service>) with each SLO's budget, a burn-down chart across its window with the
incidents that spent it, the gate and its exceptions. Server-rendered SVG, no script."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from warroom.http import clock, db
from warroom.slos import rules, service
from warroom.web.routes import current, templates

router = APIRouter(include_in_schema=False)

WIDTH, HEIGHT, PAD = 640, 160, 28


def burndown_svg(v: service.SloView, now: datetime) -> Markup:
    """Remaining budget (percent, 100 at the top) across the window so far; each incident
    that spent it is a shaded band at its impact, labelled with its id."""
    s = v.status
    if s is None or v.row.source != "incidents":
        return Markup("")
    points = rules.burndown(v.spec, [sp.interval for sp in v.spends], now, points=90)
    start, end = s.window_start, s.window_end
    span = (end - start).total_seconds() or 1.0
    low = min(0.0, min(p for _, p in points))

    def x(at: datetime) -> float:
        frac = max(0.0, min(1.0, (at - start).total_seconds() / span))
        return round(PAD + (WIDTH - 2 * PAD) * frac, 1)

    def y(pct: float) -> float:
        return round(PAD / 2 + (HEIGHT - PAD) * (100.0 - pct) / (100.0 - low), 1)

    bands = []
    for sp in v.spends:
        a, b = x(sp.interval.start), x(sp.interval.end or now)
        ref = f"INC-{sp.incident_id}"
        bands.append(
            f'<a href="/incidents/{sp.incident_id}"><rect x="{a}" y="{PAD / 2}" '
            f'width="{max(4.0, b - a)}" height="{HEIGHT - PAD}" fill="#f3c4c4">'
            f"<title>{escape(ref)}</title></rect>"
            f'<text x="{a}" y="{HEIGHT - 4}" font-size="10">{escape(ref)}</text></a>'
        )
    line = " ".join(f"{x(at)},{y(p)}" for at, p in points)
    label = (
        f"{s.remaining_percent:.1f}% of the budget left on "
        f"{now:%Y-%m-%d %H:%M} UTC; window {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    )
    return Markup(
        f'<svg class="burndown" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        + "".join(bands)
        + f'<g pointer-events="none"><line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(0)}" y2="{y(0)}" '
        'stroke="#c00" stroke-dasharray="4 3" stroke-width="1"/>'
        f'<text x="2" y="{y(100) + 4}" font-size="10">100%</text>'
        f'<text x="2" y="{y(0) + 4}" font-size="10">0%</text>'
        f'<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="2"/>'
        f'<text x="{PAD}" y="{HEIGHT - 16}" font-size="10">{start:%b %d}</text>'
        f'<text x="{WIDTH - PAD - 40}" y="{HEIGHT - 16}" font-size="10">{end:%b %d}</text>'
        "</g></svg>"
    )


@router.get("/slos", response_class=HTMLResponse)
def slo_index(request: Request) -> Response:
    who, csrf = current(request)
    now = clock(request).now()
    with db(request).read() as s:
        by_service: dict[str, list[Any]] = {}
        for row, svc in service.list_slos(s):
            by_service.setdefault(svc, []).append(row)
        gates = [service.gate(s, svc, now) for svc in sorted(by_service)]
    return templates.TemplateResponse(
        request, "slos.html", {"user": who, "csrf": csrf, "gates": gates}
    )


@router.get("/slos/{service_name}", response_class=HTMLResponse)
def slo_service(service_name: str, request: Request) -> Response:
    who, csrf = current(request)
    now = clock(request).now()
    with db(request).read() as s:
        gate = service.gate(s, service_name, now)
        views = service.statuses(s, service.list_slos(s, service_name), now)
        charts = {v.row.name: burndown_svg(v, now) for v in views}
        slos = [service.view_dict(v, now) for v in views]
        exceptions = service.exceptions(s, service_name)
    return templates.TemplateResponse(
        request,
        "slo_service.html",
        {
            "user": who,
            "csrf": csrf,
            "gate": gate,
            "slos": slos,
            "charts": charts,
            "exceptions": exceptions,
            "now": now,
        },
    )
