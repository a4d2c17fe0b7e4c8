"""Renders every public status page body at once, from one read of the store.

Outputs: the HTML page and incident history, RSS and Atom feeds, and the Atlassian
Statuspage v2 JSON documents (same paths, field names and enum values).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc
from warroom.incidents.models import Incident
from warroom.statuspage import rules
from warroom.statuspage.models import (
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentUpdate,
    StatusComponent,
    StatusPage,
)
from warroom.statuspage.page import HISTORY_LIMIT, default_page_name, default_page_url

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

JSON_PATHS = (
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
)
PAGE_PATHS = ("/status", "/status/history", "/status/history.rss", "/status/history.atom")


def ts(value: datetime | None) -> str | None:
    """Statuspage's timestamp shape: ISO 8601 with milliseconds and an offset."""
    if value is None:
        return None
    v = ensure_utc(value)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def dumps(data: Any) -> bytes:
    """JSON whose bytes never contain <, > or & (escaped as \\u003c...): the parsed text
    is unchanged, but no HTML sniffing or embedding can turn it into markup."""
    raw = orjson.dumps(data)
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


@dataclass
class Snapshot:
    now: datetime
    version: int
    page: dict[str, Any]
    components: list[StatusComponent]
    history: dict[int, list[tuple[datetime, str]]]
    incidents: list[PublicIncident]
    maintenances: list[PublicIncident]
    updates: dict[int, list[PublicIncidentUpdate]]
    hidden: set[int] = field(default_factory=set)


def load(session: Session, clock: Clock) -> Snapshot:
    now = clock.now()
    row = session.get(StatusPage, 1)
    page = {
        "id": row.code if row else "warroom",
        "name": (row.name if row else "") or default_page_name(),
        "url": (row.url if row else "") or default_page_url(),
        "time_zone": row.time_zone if row else "Etc/UTC",
        "updated_at": row.updated_at if row else now,
    }
    components = list(
        session.scalars(
            select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)
        )
    )
    first_day = now.date() - timedelta(days=rules.UPTIME_DAYS - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=now.tzinfo)
    history: dict[int, list[tuple[datetime, str]]] = {c.id: [] for c in components}
    # The status each component had when the window opened, then every change since.
    before = (
        select(func.max(ComponentStatusChange.id))
        .where(ComponentStatusChange.at < start)
        .group_by(ComponentStatusChange.component_id)
    )
    for ch in session.scalars(
        select(ComponentStatusChange)
        .where((ComponentStatusChange.at >= start) | ComponentStatusChange.id.in_(before))
        .order_by(ComponentStatusChange.id)
    ):
        history.setdefault(ch.component_id, []).append((ch.at, ch.status))
    incidents = list(
        session.scalars(
            select(PublicIncident)
            .where(PublicIncident.kind == "incident")
            .order_by(PublicIncident.created_at.desc(), PublicIncident.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )
    seen = {p.id for p in incidents}
    incidents += [
        p
        for p in session.scalars(
            select(PublicIncident).where(
                PublicIncident.kind == "incident", PublicIncident.status.in_(rules.UNRESOLVED)
            )
        )
        if p.id not in seen
    ]
    maintenances = list(
        session.scalars(
            select(PublicIncident)
            .where(PublicIncident.kind == "maintenance")
            .order_by(PublicIncident.scheduled_for.desc(), PublicIncident.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )
    seen = {p.id for p in maintenances}
    maintenances += [
        p
        for p in session.scalars(
            select(PublicIncident).where(
                PublicIncident.kind == "maintenance",
                PublicIncident.status.in_(("scheduled", *rules.MAINTENANCE_ACTIVE)),
            )
        )
        if p.id not in seen
    ]
    # Never show an incident that has become private since it was published.
    linked = [p.incident_id for p in incidents if p.incident_id is not None]
    private = set()
    if linked:
        private = set(
            session.scalars(
                select(Incident.id).where(Incident.id.in_(linked), Incident.private.is_(True))
            )
        )
    incidents = [p for p in incidents if p.incident_id not in private]
    ids = [p.id for p in incidents + maintenances]
    updates: dict[int, list[PublicIncidentUpdate]] = {i: [] for i in ids}
    if ids:
        for upd in session.scalars(
            select(PublicIncidentUpdate)
            .where(PublicIncidentUpdate.public_incident_id.in_(ids))
            .order_by(PublicIncidentUpdate.display_at.desc(), PublicIncidentUpdate.id.desc())
        ):
            updates[upd.public_incident_id].append(upd)
    return Snapshot(
        now=now,
        version=row.version if row else 0,
        page=page,
        components=components,
        history=history,
        incidents=incidents,
        maintenances=maintenances,
        updates=updates,
    )


# --- Statuspage v2 JSON ----------------------------------------------------------------


class V2:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.page_id = snap.page["id"]
        self.by_id = {c.id: c for c in snap.components}
        children: dict[int, list[StatusComponent]] = {}
        for c in snap.components:
            if c.group_id is not None and c.group_id in self.by_id:
                children.setdefault(c.group_id, []).append(c)
        self.children = children

    def page(self) -> dict[str, Any]:
        p = self.snap.page
        return {
            "id": p["id"],
            "name": p["name"],
            "url": p["url"],
            "time_zone": p["time_zone"],
            "updated_at": ts(p["updated_at"]),
        }

    def status_of(self, c: StatusComponent) -> str:
        if not c.is_group:
            return c.status
        kids = [k.status for k in self.children.get(c.id, [])]
        return max(kids, key=lambda s: rules.SEVERITY_ORDER[s], default="operational")

    def component(self, c: StatusComponent) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": c.code,
            "name": c.name,
            "status": self.status_of(c),
            "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at),
            "position": c.position,
            "description": c.description or None,
            "showcase": c.showcase,
            "start_date": ensure_utc(c.created_at).date().isoformat(),
            "group_id": self.by_id[c.group_id].code
            if c.group_id is not None and c.group_id in self.by_id
            else None,
            "page_id": self.page_id,
            "group": c.is_group,
            "only_show_if_degraded": c.only_show_if_degraded,
        }
        if c.is_group:
            out["components"] = [k.code for k in self.children.get(c.id, [])]
        return out

    def components(self) -> list[dict[str, Any]]:
        return [self.component(c) for c in self.snap.components]

    def update(self, u: PublicIncidentUpdate, pub: PublicIncident) -> dict[str, Any]:
        return {
            "id": u.code,
            "status": u.status,
            "body": u.body,
            "incident_id": pub.code,
            "created_at": ts(u.created_at),
            "updated_at": ts(u.created_at),
            "display_at": ts(u.display_at),
            "affected_components": [
                {
                    "code": a["code"],
                    "name": a["name"],
                    "old_status": a["old_status"],
                    "new_status": a["new_status"],
                }
                for a in u.affected_components
            ]
            or None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }

    def incident(self, p: PublicIncident) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": p.code,
            "name": p.name,
            "status": p.status,
            "created_at": ts(p.created_at),
            "updated_at": ts(p.updated_at),
            "monitoring_at": ts(p.monitoring_at),
            "resolved_at": ts(p.resolved_at),
            "impact": p.impact,
            "shortlink": shortlink(self.snap, p),
            "started_at": ts(p.started_at),
            "page_id": self.page_id,
            "incident_updates": [self.update(u, p) for u in self.snap.updates.get(p.id, [])],
            "components": [
                self.component(self.by_id[cid]) for cid in p.components or [] if cid in self.by_id
            ],
        }
        if p.kind == "maintenance":
            out["scheduled_for"] = ts(p.scheduled_for)
            out["scheduled_until"] = ts(p.scheduled_until)
        return out

    def status(self) -> dict[str, str]:
        indicator = overall(self.snap)
        return {"indicator": indicator, "description": rules.INDICATOR_DESCRIPTIONS[indicator]}


def overall(snap: Snapshot) -> str:
    return rules.page_indicator(
        [c.status for c in snap.components if not c.is_group],
        [p.impact for p in snap.incidents if p.status in rules.UNRESOLVED],
        any(m.status in rules.MAINTENANCE_ACTIVE for m in snap.maintenances),
    )


def shortlink(snap: Snapshot, p: PublicIncident) -> str:
    return f"{snap.page['url'].rstrip('/')}/history#{p.code}"


def render_json(snap: Snapshot) -> dict[str, bytes]:
    v2 = V2(snap)
    page = v2.page()
    unresolved = [p for p in snap.incidents if p.status in rules.UNRESOLVED]
    upcoming = sorted(
        (m for m in snap.maintenances if m.status == "scheduled"),
        key=lambda m: (m.scheduled_for or m.created_at, m.id),
    )
    active = [m for m in snap.maintenances if m.status in rules.MAINTENANCE_ACTIVE]
    incidents = [v2.incident(p) for p in snap.incidents[:HISTORY_LIMIT]]
    maint = [v2.incident(m) for m in snap.maintenances[:HISTORY_LIMIT]]
    components = v2.components()
    status = v2.status()
    return {
        "/api/v2/summary.json": dumps(
            {
                "page": page,
                "components": components,
                "incidents": [v2.incident(p) for p in unresolved],
                "scheduled_maintenances": [v2.incident(m) for m in active + upcoming],
                "status": status,
            }
        ),
        "/api/v2/status.json": dumps({"page": page, "status": status}),
        "/api/v2/components.json": dumps({"page": page, "components": components}),
        "/api/v2/incidents.json": dumps({"page": page, "incidents": incidents}),
        "/api/v2/incidents/unresolved.json": dumps(
            {"page": page, "incidents": [v2.incident(p) for p in unresolved]}
        ),
        "/api/v2/scheduled-maintenances.json": dumps(
            {"page": page, "scheduled_maintenances": maint}
        ),
        "/api/v2/scheduled-maintenances/upcoming.json": dumps(
            {"page": page, "scheduled_maintenances": [v2.incident(m) for m in upcoming]}
        ),
        "/api/v2/scheduled-maintenances/active.json": dumps(
            {"page": page, "scheduled_maintenances": [v2.incident(m) for m in active]}
        ),
    }


# --- HTML and feeds --------------------------------------------------------------------

COLORS = {
    "operational": "#1f9d55",
    "degraded_performance": "#d9a400",
    "partial_outage": "#e0701b",
    "major_outage": "#c8322a",
    "under_maintenance": "#2f6fd0",
    "none": "#c3c9d1",
}
INCIDENT_STATUS_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
}
IMPACT_LABELS = {
    "none": "No impact",
    "minor": "Minor impact",
    "major": "Major impact",
    "critical": "Critical impact",
    "maintenance": "Maintenance",
}


def human(value: datetime | None) -> str:
    if value is None:
        return ""
    return ensure_utc(value).strftime("%b %d, %Y %H:%M UTC").replace(" 0", " ")


BAR_PITCH = 5  # SVG units per day: a 3.4-wide bar and a gap
_bar_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def _day_label(d: rules.Day) -> tuple[str, str]:
    if not d.known:
        return "none", "No data"
    worst = d.worst
    if d.uptime is not None and d.downtime > 0:
        return worst, f"{d.uptime * 100:.2f}% uptime, worst: {rules.COMPONENT_LABELS[worst]}"
    if worst not in ("none", "operational"):
        return worst, rules.COMPONENT_LABELS[worst]
    return "operational", "No downtime"


def _short(d: date) -> str:
    return d.strftime("%b %d, %Y").replace(" 0", " ")


def bar_patterns() -> Markup:
    """One SVG pattern per status: a run of equal days is one rect filled with it."""
    out = []
    for status, color in COLORS.items():
        out.append(
            f'<pattern id="bar-{status}" width="{BAR_PITCH}" height="34" '
            f'patternUnits="userSpaceOnUse"><rect width="3.4" height="34" rx="1" '
            f'fill="{color}"/></pattern>'
        )
    return Markup(
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true" '
        'focusable="false"><defs>' + "".join(out) + "</defs></svg>"
    )


def _bars(snap: Snapshot, c: StatusComponent) -> dict[str, Any]:
    """The 90-day bar as SVG markup. Cached per (component, history, 10-minute slot):
    a re-render after an unrelated change reuses it."""
    slot = snap.now.replace(minute=snap.now.minute // 10 * 10, second=0, microsecond=0)
    history = snap.history.get(c.id, [])
    key = (c.id, c.name, tuple(history), slot)
    hit = _bar_cache.get(key)
    if hit is not None:
        return hit
    days = rules.uptime_days(history, slot)
    share = rules.uptime_share(days)
    uptime = None if share is None else f"{share * 100:.2f}%"
    runs: list[tuple[int, int, str, str]] = []  # first day, count, status, label
    for i, d in enumerate(days):
        status, label = _day_label(d)
        run_able = label in ("No data", "No downtime")
        if runs and run_able and runs[-1][2] == status and runs[-1][3] == label:
            first, n, _, _ = runs[-1]
            runs[-1] = (first, n + 1, status, label)
        else:
            runs.append((i, 1, status, label))
    rects = []
    for first, n, status, label in runs:
        when = _short(days[first].day)
        if n > 1:
            when += " – " + _short(days[first + n - 1].day)
        rects.append(
            f'<rect x="{first * BAR_PITCH}" width="{n * BAR_PITCH}" height="34" '
            f'fill="url(#bar-{status})"><title>{escape(when)}: {escape(label)}</title></rect>'
        )
    aria = (
        f"{c.name}: {uptime} uptime over the last 90 days"
        if uptime
        else f"{c.name}: no recorded history yet"
    )
    svg = (
        f'<svg class="bars" viewBox="0 0 {rules.UPTIME_DAYS * BAR_PITCH} 34" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(aria)}">'
        + "".join(rects)
        + "</svg>"
    )
    out = {"svg": Markup(svg), "uptime": uptime}
    if len(_bar_cache) > 5000:
        _bar_cache.clear()
    _bar_cache[key] = out
    return out


def _view(snap: Snapshot) -> dict[str, Any]:
    v2 = V2(snap)
    indicator = overall(snap)

    def shown(c: StatusComponent) -> bool:
        return not (c.only_show_if_degraded and v2.status_of(c) == "operational")

    def comp(c: StatusComponent) -> dict[str, Any]:
        status = v2.status_of(c)
        return {
            "name": c.name,
            "description": c.description,
            "status": status,
            "label": rules.COMPONENT_LABELS[status],
            "color": COLORS[status],
            "bars": None if c.is_group else _bars(snap, c),
            "children": [comp(k) for k in v2.children.get(c.id, []) if shown(k)],
        }

    top = [
        comp(c)
        for c in snap.components
        if (c.group_id is None or c.group_id not in v2.by_id) and shown(c)
    ]

    def inc(p: PublicIncident) -> dict[str, Any]:
        comps = [v2.by_id[i].name for i in p.components or [] if i in v2.by_id]
        return {
            "code": p.code,
            "name": p.name,
            "status": p.status,
            "status_label": INCIDENT_STATUS_LABELS.get(p.status, p.status),
            "impact": p.impact,
            "impact_label": IMPACT_LABELS.get(p.impact, p.impact),
            "components": comps,
            "started": human(p.started_at),
            "resolved": human(p.resolved_at),
            "scheduled_for": human(p.scheduled_for),
            "scheduled_until": human(p.scheduled_until),
            "updates": [
                {
                    "status_label": INCIDENT_STATUS_LABELS.get(u.status, u.status),
                    "body": u.body,
                    "at": human(u.display_at),
                    "iso": ts(u.display_at),
                }
                for u in snap.updates.get(p.id, [])
            ],
        }

    return {
        "page": snap.page,
        "indicator": indicator,
        "description": rules.INDICATOR_DESCRIPTIONS[indicator],
        "components": top,
        "active": [inc(p) for p in snap.incidents if p.status in rules.UNRESOLVED],
        "maintenance_active": [
            inc(m) for m in snap.maintenances if m.status in rules.MAINTENANCE_ACTIVE
        ],
        "maintenance_upcoming": [
            inc(m)
            for m in sorted(
                (m for m in snap.maintenances if m.status == "scheduled"),
                key=lambda m: (m.scheduled_for or m.created_at, m.id),
            )
        ],
        "recent": [
            inc(p)
            for p in snap.incidents
            if p.status not in rules.UNRESOLVED
            and p.resolved_at is not None
            and ensure_utc(p.resolved_at) >= snap.now - timedelta(days=14)
        ],
        "history": [inc(p) for p in snap.incidents if p.status not in rules.UNRESOLVED],
        "maintenance_history": [inc(m) for m in snap.maintenances if m.status == "completed"],
        "rendered_at": human(snap.now),
        "rendered_iso": ts(snap.now),
        "colors": COLORS,
        "bar_patterns": bar_patterns(),
    }


def _entries(snap: Snapshot) -> list[tuple[PublicIncident, list[PublicIncidentUpdate]]]:
    items = [(p, snap.updates.get(p.id, [])) for p in snap.incidents + snap.maintenances]
    items.sort(key=lambda e: ensure_utc(e[0].updated_at), reverse=True)
    return items[:HISTORY_LIMIT]


def _entry_html(p: PublicIncident, updates: list[PublicIncidentUpdate]) -> str:
    parts = []
    for u in updates:
        label = INCIDENT_STATUS_LABELS.get(u.status, u.status)
        parts.append(
            f"<p><small>{escape(human(u.display_at))}</small><br>"
            f"<strong>{escape(label)}</strong> - {escape(u.body)}</p>"
        )
    return "".join(parts)


def render_rss(snap: Snapshot) -> bytes:
    base = snap.page["url"].rstrip("/")
    items = []
    for p, updates in _entries(snap):
        link = shortlink(snap, p)
        items.append(
            "<item>"
            f"<title>{escape(p.name)}</title>"
            f"<description>{escape(_entry_html(p, updates))}</description>"
            f"<pubDate>{format_datetime(ensure_utc(p.created_at), usegmt=True)}</pubDate>"
            f"<link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{escape(p.code)}</guid>'
            "</item>"
        )
    title = escape(f"{snap.page['name']} status - incident history")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{title}</title>"
        f"<link>{escape(base)}</link>"
        f"<description>{title}</description>"
        f'<atom:link href="{escape(base)}/history.rss" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{format_datetime(ensure_utc(snap.page['updated_at']), usegmt=True)}"
        "</lastBuildDate>" + "".join(items) + "</channel></rss>\n"
    )
    return body.encode()


def render_atom(snap: Snapshot) -> bytes:
    base = snap.page["url"].rstrip("/")
    entries = []
    for p, updates in _entries(snap):
        link = shortlink(snap, p)
        entries.append(
            "<entry>"
            f"<id>tag:warroom,2026:{escape(snap.page['id'])}:{escape(p.code)}</id>"
            f"<published>{ts(p.created_at)}</published>"
            f"<updated>{ts(p.updated_at)}</updated>"
            f'<link rel="alternate" type="text/html" href="{escape(link)}"/>'
            f"<title>{escape(p.name)}</title>"
            f'<content type="html">{escape(_entry_html(p, updates))}</content>'
            "</entry>"
        )
    title = escape(f"{snap.page['name']} status - incident history")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xml:lang="en" xmlns="http://www.w3.org/2005/Atom">'
        f"<id>tag:warroom,2026:{escape(snap.page['id'])}:history</id>"
        f'<link rel="alternate" type="text/html" href="{escape(base)}"/>'
        f'<link rel="self" type="application/atom+xml" href="{escape(base)}/history.atom"/>'
        f"<title>{title}</title>"
        f"<author><name>{escape(snap.page['name'])}</name></author>"
        f"<updated>{ts(snap.page['updated_at'])}</updated>" + "".join(entries) + "</feed>\n"
    )
    return body.encode()


@dataclass(frozen=True)
class Body:
    content: bytes
    media_type: str
    etag: str
    gzip: bytes | None = None  # compressed once at render time, for clients that accept it


def render_all(session: Session, clock: Clock) -> tuple[int, dict[str, Body]]:
    snap = load(session, clock)
    out: dict[str, bytes] = {}
    view = _view(snap)
    out["/status"] = env.get_template("status.html").render(**view).encode()
    out["/status/history"] = env.get_template("history.html").render(**view).encode()
    out["/status/history.rss"] = render_rss(snap)
    out["/status/history.atom"] = render_atom(snap)
    out.update(render_json(snap))
    types = {
        "/status/history.rss": "application/rss+xml; charset=utf-8",
        "/status/history.atom": "application/atom+xml; charset=utf-8",
    }
    bodies = {}
    for path, content in out.items():
        media = types.get(path) or (
            "application/json" if path.endswith(".json") else "text/html; charset=utf-8"
        )
        etag = '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'
        packed = gzip.compress(content, 6, mtime=0) if len(content) > 1024 else None
        bodies[path] = Body(content, media, etag, packed)
    return snap.version, bodies
