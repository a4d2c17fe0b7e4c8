"""The analytics page: incident metrics with server-drawn SVG charts and a CSV per chart.

Invariants:
- Readable without JavaScript: the filters are a GET form, every chart is inline SVG drawn
  here with its values written on it, and each chart's data is a CSV link with the same
  filters (`/analytics/<chart>.csv`).
- No script and no external asset; every text in an SVG is escaped.
- The figures are the API's (analytics.queries): same incident set, drills left out.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from warroom.analytics import queries
from warroom.analytics.rules import METRICS
from warroom.core.errors import DomainError
from warroom.http import clock, db
from warroom.web.routes import current, error_page, templates

router = APIRouter(include_in_schema=False)
CHARTS = ("trend", "mttr_trend", "severity", "service", "team", "source", "durations")
W, BAR_H, GAP, LABEL_W = 640, 18, 6, 150


def hbar_chart(rows: list[tuple[str, float | None]], title: str, unit: str = "") -> Markup:
    """A horizontal bar chart of (label, value) as inline SVG; the value is written beside
    each bar, and a missing value reads "no data"."""
    top = max([v for _, v in rows if v is not None] or [0]) or 1
    height = max(1, len(rows)) * (BAR_H + GAP) + GAP
    parts = [
        f'<svg class="chart" width="{W}" height="{height}" viewBox="0 0 {W} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        length = 0 if value is None else round((W - LABEL_W - 90) * value / top, 1)
        text = "no data" if value is None else f"{value:g}{unit}"
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
            f'<rect x="{LABEL_W}" y="{y}" width="{length}" height="{BAR_H}" fill="#3b6fb6"/>'
            f'<text x="{LABEL_W + length + 4}" y="{y + 13}" font-size="12">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(points: list[tuple[str, float | None]], title: str, unit: str = "") -> Markup:
    """A column chart over time as inline SVG: one column per bucket, its value above it
    when there are few enough to read, the first and last bucket's dates below."""
    height, base, n = 180, 150, max(1, len(points))
    top = max([v for _, v in points if v is not None] or [0]) or 1
    step = (W - 20) / n
    parts = [
        f'<svg class="chart" width="{W}" height="{height}" viewBox="0 0 {W} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<line x1="10" x2="{W - 10}" y1="{base}" y2="{base}" stroke="#999"/>'
    ]
    for i, (label, value) in enumerate(points):
        h = 0 if value is None else round((base - 20) * value / top, 1)
        x = round(10 + i * step, 1)
        tip = f"{label}: {'no data' if value is None else f'{value:g}{unit}'}"
        parts.append(
            f'<rect x="{x}" y="{base - h}" width="{max(1.0, round(step * 0.8, 1))}" '
            f'height="{h}" fill="#3b6fb6"><title>{escape(tip)}</title></rect>'
        )
        if n <= 31 and value is not None:
            parts.append(
                f'<text x="{x}" y="{base - h - 3}" font-size="10">{escape(f"{value:g}")}</text>'
            )
    if points:
        parts.append(
            f'<text x="10" y="{base + 16}" font-size="11">{escape(points[0][0])}</text>'
            f'<text x="{W - 10}" y="{base + 16}" font-size="11" text-anchor="end">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _params(request: Request) -> dict[str, str]:
    keep = ("from", "to", "severity", "service", "team", "interval")
    return {k: v for k in keep if (v := request.query_params.get(k, "").strip())}


def _data(request: Request, principal: Any) -> dict[str, Any]:
    p = _params(request)
    interval = p.get("interval", "week")
    with db(request).read() as s:
        f = queries.filters(
            s,
            clock(request),
            start=p.get("from"),
            end=p.get("to"),
            severity=p.get("severity"),
            service=p.get("service"),
            team=p.get("team"),
        )
        summary = queries.summary(s, principal, f)
        trend = queries.timeseries(s, principal, f, "count", interval)
        mttr = queries.timeseries(s, principal, f, "mttr", interval)
    return {"params": p, "interval": interval, "summary": summary, "trend": trend, "mttr": mttr}


def chart_rows(data: dict[str, Any], chart: str) -> tuple[list[str], list[list[Any]]]:
    """Returns (header, rows) of one chart's data: what its CSV holds."""
    s = data["summary"]
    if chart == "trend":
        return ["start", "incidents"], [[p["start"], p["count"]] for p in data["trend"]["points"]]
    if chart == "mttr_trend":
        return ["start", "n", "mttr_mean_minutes"], [
            [p["start"], p["n"], p["mean_minutes"]] for p in data["mttr"]["points"]
        ]
    if chart == "severity":
        return ["severity", "incidents"], [[r["severity"], r["count"]] for r in s["by_severity"]]
    if chart == "service":
        return ["service", "incidents", "mtbf_hours"], [
            [r["service"], r["count"], r["mtbf_hours"]] for r in s["by_service"]
        ]
    if chart == "team":
        return ["team", "incidents"], [[r["team"], r["count"]] for r in s["by_team"]]
    if chart == "source":
        return ["detection_source", "incidents"], [
            [r["detection_source"], r["count"]] for r in s["by_detection_source"]
        ]
    head = ["metric", "n", "mean_minutes", "median_minutes", "p90_minutes", "target_minutes", "met"]
    return head, [
        [
            k,
            m["n"],
            m["mean_minutes"],
            m["median_minutes"],
            m["p90_minutes"],
            m["target_minutes"],
            m["met"],
        ]
        for k, m in s["metrics"].items()
    ]


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request) -> Response:
    who, csrf = current(request)
    try:
        data = _data(request, who)
    except DomainError as exc:
        return error_page(request, str(exc), exc.status_code, who)
    s = data["summary"]
    unit = data["interval"]
    charts = {
        "trend": column_chart(
            [(p["start"], p["count"]) for p in data["trend"]["points"]], f"Incidents per {unit}"
        ),
        "mttr_trend": column_chart(
            [(p["start"], p["mean_minutes"]) for p in data["mttr"]["points"]],
            f"Mean MTTR per {unit} (minutes)",
            " min",
        ),
        "severity": hbar_chart(
            [(r["severity"], r["count"]) for r in s["by_severity"]], "Incidents by severity"
        ),
        "service": hbar_chart(
            [(r["service"], r["count"]) for r in s["by_service"]], "Incidents by service"
        ),
        "team": hbar_chart([(r["team"], r["count"]) for r in s["by_team"]], "Incidents by team"),
        "source": hbar_chart(
            [(r["detection_source"], r["count"]) for r in s["by_detection_source"]],
            "Incidents by detection source",
        ),
        "durations": hbar_chart(
            [
                (f"{k.upper()} {stat}", s["metrics"][k][f"{stat}_minutes"])
                for k in METRICS
                for stat in ("median", "p90")
            ],
            "Median and p90 of each duration (minutes)",
            " min",
        ),
    }
    query = urlencode(data["params"])
    return templates.TemplateResponse(
        request,
        "analytics.html",
        {
            "user": who,
            "csrf": csrf,
            "s": s,
            "charts": charts,
            "params": data["params"],
            "interval": unit,
            "trend": data["trend"]["trend"],
            "csv_query": f"?{query}" if query else "",
        },
    )


@router.get("/analytics/{chart}.csv")
def analytics_csv(request: Request, chart: str) -> Response:
    who, _ = current(request)
    if chart not in CHARTS:
        return error_page(request, f"no chart {chart!r}", 404, who)
    try:
        data = _data(request, who)
    except DomainError as exc:
        return error_page(request, str(exc), exc.status_code, who)
    head, rows = chart_rows(data, chart)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="warroom-{chart}.csv"'},
    )


def _cell(value: Any) -> Any:
    # A cell a spreadsheet would run as a formula gets a leading apostrophe.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
