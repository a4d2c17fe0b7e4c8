"""The heartbeats page: each monitor's state, last ping, next expected ping and a
sparkline of the intervals between its last pings (inline SVG drawn here, no script)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from warroom.heartbeats import service
from warroom.http import clock, db
from warroom.web.routes import current, templates

router = APIRouter(include_in_schema=False)

WIDTH, HEIGHT, PAD = 120, 24, 2


def sparkline(intervals: list[int], expected: int) -> Markup:
    """An inline SVG polyline of `intervals` (seconds), with the expected interval dashed;
    taller is a longer gap. Empty for fewer than two intervals."""
    if len(intervals) < 2:
        return Markup("")
    top = max(max(intervals), expected) or 1
    step = (WIDTH - 2 * PAD) / (len(intervals) - 1)

    def y(v: int) -> float:
        return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top, 1)

    points = " ".join(f"{round(PAD + i * step, 1)},{y(v)}" for i, v in enumerate(intervals))
    label = f"intervals between the last {len(intervals) + 1} pings"
    return Markup(
        f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}"><title>{label}</title>'
        f'<line x1="0" x2="{WIDTH}" y1="{y(expected)}" y2="{y(expected)}" stroke="#999" '
        'stroke-dasharray="2 2" stroke-width="1"/>'
        f'<polyline points="{points}" fill="none" stroke="currentColor" stroke-width="1.5"/>'
        "</svg>"
    )


@router.get("/heartbeats", response_class=HTMLResponse)
def heartbeat_list(request: Request) -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        items: list[dict[str, Any]] = service.list_dicts(s, clock(request).now())
    for h in items:
        h["spark"] = sparkline(h["intervals_seconds"], h["interval_seconds"])
    counts: dict[str, int] = {}
    for h in items:
        counts[h["state"]] = counts.get(h["state"], 0) + 1
    return templates.TemplateResponse(
        request,
        "heartbeats.html",
        {"user": who, "csrf": csrf, "items": items, "counts": counts},
    )
