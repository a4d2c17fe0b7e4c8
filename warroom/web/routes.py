"""Server-rendered web pages: login, incident list, the incident room, live timeline (SSE)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from warroom.alerts import changes as alert_changes
from warroom.alerts import service as alerts
from warroom.auth import accounts
from warroom.auth import service as auth
from warroom.config import sso as sso_config
from warroom.core.clock import ensure_utc, parse_utc
from warroom.core.errors import DomainError, TooManyRequests
from warroom.core.principal import Principal
from warroom.core.security import constant_equals
from warroom.core.urls import web_url
from warroom.http import clock, db
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules
from warroom.incidents import service as incidents
from warroom.incidents import timeline as incident_timeline
from warroom.org import service as org
from warroom.paging import policies as paging_policies
from warroom.paging import queries as paging_queries
from warroom.postmortems import queries as postmortem_queries
from warroom.postmortems import room as postmortem_room
from warroom.slos import service as slo_service

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Links from people and monitoring are clickable only when they are web URLs.
templates.env.filters["web_url"] = web_url
SESSION_COOKIE = "wr_session"
PRE_CSRF_COOKIE = "wr_login_csrf"
router = APIRouter(include_in_schema=False)


class WebRedirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url

    def response(self) -> Response:
        return RedirectResponse(self.url, status_code=303)


def _fmt_dt(value: str | datetime | None) -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        value = parse_utc(value)
    return ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_duration(seconds: int) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["duration"] = _fmt_duration
templates.env.globals["ROLE_TITLES"] = rules.ROLE_TITLES


def current(request: Request) -> tuple[Principal, str]:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        with db(request).read() as s:
            found = auth.principal_for_session(s, clock(request), secret)
        if found:
            return found
    raise WebRedirect("/login?next=" + quote(str(request.url.path)))


def secure_cookies(request: Request) -> bool:
    """Whether cookies are sent only over HTTPS (WARROOM_SECURE_COOKIES; on by default when
    warroom serves HTTPS or its public URL is https)."""
    return bool(getattr(request.app.state, "secure_cookies", False))


def csrf_ok(expected: str, got: str) -> bool:
    return bool(got) and constant_equals(expected, got)


def error_page(
    request: Request, message: str, status_code: int, user: Principal | None = None
) -> Response:
    """A readable HTML page for web errors (the API's JSON errors are for machines)."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {"user": user, "csrf": "", "error": message, "status_code": status_code},
        status_code=status_code,
    )


def csrf_rejected(request: Request, user: Principal) -> Response:
    return error_page(
        request,
        "This form has expired or did not come from warroom; nothing was changed. "
        "Go back, reload the page and try again.",
        403,
        user,
    )


def back(url: str, error: str | None = None) -> RedirectResponse:
    if error:
        url += ("&" if "?" in url else "?") + "error=" + quote(error)
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/incidents", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/incidents", error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    with db(request).read() as s:
        sso = sso_config.settings(s)
    resp = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "next": next,
            "error": error,
            "user": None,
            "sso_name": sso.display_name if sso else "",
        },
    )
    resp.set_cookie(
        PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request)
    )
    return resp


@router.post("/login")
def login(
    request: Request,
    login: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/incidents"),
) -> Response:
    pre = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not pre or not csrf or not constant_equals(pre, csrf):
        return back("/login", "Your login form expired; please try again.")
    name = login.strip()[:254]
    try:
        with db(request).session() as s:
            secret, _ = auth.login(s, clock(request), name, password)
    except TooManyRequests as exc:
        return back("/login?next=" + quote(next), exc.message[0].upper() + exc.message[1:] + ".")
    except DomainError:
        with db(request).session() as s:
            accounts.login_failed(s, clock(request), name, "password")
        return back("/login?next=" + quote(next), "Unknown user or wrong password.")
    target = next if next.startswith("/") and not next.startswith("//") else "/incidents"
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    resp.delete_cookie(PRE_CSRF_COOKIE)
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    who, expected = current(request)
    if not csrf_ok(expected, csrf):
        return csrf_rejected(request, who)
    with db(request).session() as s:
        auth.logout(s, request.cookies.get(SESSION_COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    status: str = "",
    severity: str = "",
    q: str = "",
    cursor: str = "",
    error: str = "",
) -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            items, nxt = incident_queries.list_incidents(
                s,
                who,
                status=status or None,
                severity=severity or None,
                q=q or None,
                cursor=cursor or None,
            )
        except DomainError as exc:
            items, nxt, error = [], None, exc.message
        sevs = [org.severity_dict(v) for v in org.severities(s)]
        services = [v.service.name for v in org.list_services(s)]
        postmortems = postmortem_queries.states(s, [int(i["number"]) for i in items])
    return templates.TemplateResponse(
        request,
        "incidents.html",
        {
            "postmortems": postmortems,
            "user": who,
            "csrf": csrf,
            "items": items,
            "next_cursor": nxt,
            "severities": sevs,
            "services": services,
            "statuses": rules.STATUSES,
            "sources": rules.DETECTION_SOURCES,
            "filters": {"status": status, "severity": severity, "q": q},
            "error": error,
        },
    )


@router.post("/incidents")
async def declare(request: Request) -> Response:
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)

    def work() -> int:
        with db(request).session() as s:
            inc = incidents.declare(
                s,
                clock(request),
                who,
                title=str(form.get("title", "")),
                severity=str(form.get("severity", "")),
                services=[str(v) for v in form.getlist("services") if v],
                impact_summary=str(form.get("impact_summary", "")),
                detection_source=str(form.get("detection_source", "internal_report")),
                customer_facing=form.get("customer_facing") == "on",
                private=form.get("private") == "on",
                drill=form.get("drill") == "on",
            )
            return inc.id

    try:
        number = await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back("/incidents", exc.message)
    return back(f"/incidents/{number}")


@router.get("/incidents/{ref}", response_class=HTMLResponse)
def room(request: Request, ref: str, error: str = "") -> Response:
    return render_room(request, ref, error)


def render_room(
    request: Request, ref: str, error: str = "", composer: dict[str, Any] | None = None
) -> Response:
    """The incident room; `composer` carries the update composer's form and preview."""
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            inc = incident_queries.get_incident(s, who, ref)
        except DomainError as exc:
            return error_page(request, exc.message, exc.status_code, who)
        data = incident_queries.detail(s, clock(request), inc)
        changes = alert_changes.recent_changes(s, inc)
        incident_alerts, _ = alerts.list_alerts(s, who, incident=str(inc.id), limit=200)
        users = [u.name for u in org.list_users(s) if u.active]
        sevs = [org.severity_dict(v) for v in org.severities(s)]
        pages = [
            paging_queries.escalation_dict(s, e, with_notifications=True)
            for e in paging_queries.list_escalations(s, incident_id=inc.id, limit=20)
        ]
        policies = [p.name for p in paging_policies.list_policies(s)]
        pm_panel = postmortem_room.panel(s, clock(request), who, inc)
        slo_room = {
            "covered": slo_service.covers(s, inc),
            "spend": slo_service.incident_spend(s, inc, clock(request).now()),
        }
    return templates.TemplateResponse(
        request,
        "room.html",
        {
            "user": who,
            "csrf": csrf,
            "inc": data,
            "users": users,
            "severities": sevs,
            "roles": rules.ROLES,
            "kinds": rules.USER_EVENT_KINDS,
            "error": error,
            "last_event_id": data["timeline"][-1]["id"] if data["timeline"] else 0,
            "changes": changes,
            "alerts": incident_alerts,
            "composer": composer or {},
            "pages": pages,
            "policies": policies,
            "pm_panel": pm_panel,
            "slo_room": slo_room,
            "starred_ids": pm_panel["starred"],
            "star_csrf": csrf if who.can("responder") else "",
            "star_ref": data["number"],
        },
    )


async def _room_action(request: Request, ref: str, action: str) -> Response:
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    f = {k: str(v) for k, v in form.items()}

    def work() -> None:
        c = clock(request)
        with db(request).session() as s:
            inc = incident_queries.get_incident(s, who, ref)
            if action == "roles":
                incidents.assign_role(
                    s, c, who, inc, role=f.get("role", ""), user_name=f.get("user", "")
                )
            elif action == "status":
                incidents.change_status(
                    s, c, who, inc, status=f.get("status", ""), note=f.get("note", "")
                )
            elif action == "severity":
                incidents.change_severity(
                    s, c, who, inc, severity=f.get("severity", ""), reason=f.get("reason", "")
                )
            elif action == "events":
                incidents.log_event(
                    s, c, who, inc, kind=f.get("kind", "note"), text=f.get("text", "")
                )
            elif action == "resolve":
                incidents.resolve(s, c, who, inc, summary=f.get("summary", ""))
            elif action == "ack":
                incidents.acknowledge(s, c, who, inc)
            elif action == "affected":
                raw = f.get("affected_percent", "").strip().rstrip("%").strip()
                value: Any = None
                if raw:
                    try:
                        value = float(raw)
                    except ValueError:
                        value = raw  # the service names the field
                incidents.update_fields(s, c, who, inc, {"affected_percent": value})

    url = f"/incidents/{rules.parse_incident_ref(ref) or ref}"
    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(url, exc.message)
    return back(url)


@router.post("/incidents/{ref}/{action}")
async def room_action(request: Request, ref: str, action: str) -> Response:
    if action not in ("roles", "status", "severity", "events", "resolve", "ack", "affected"):
        return HTMLResponse("unknown action", status_code=404)
    return await _room_action(request, ref, action)


def _event_payload(
    request: Request, who: Principal, ref: str, after: int, csrf: str = ""
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, ref)
        events = incident_timeline.timeline(s, inc.id, after)
        if not events:
            return []
        head = incident_queries.detail(s, clock(request), inc, with_timeline=False)
        out = []
        for ev in events:
            d = incident_timeline.event_dict(ev)
            d["html"] = templates.get_template("_event.html").render(
                ev=d,
                starred_ids=(),
                star_csrf=csrf if who.can("responder") else "",
                star_ref=head["number"],
            )
            out.append(d)
        out[-1]["incident"] = {
            "status": head["status"],
            "severity": head["severity"],
            "roles": head["roles"],
            "resolved_at": head["resolved_at"],
            "allowed_statuses": head["allowed_statuses"],
        }
        return out


def _last_event_id(request: Request, after: int) -> int:
    header = (request.headers.get("last-event-id") or "").strip()
    return int(header) if header.isdigit() else max(after, 0)


@router.get("/incidents/{ref}/stream")
async def stream(request: Request, ref: str, after: int = 0) -> Response:
    """Server-sent events: every new timeline event, read from the store so that any
    replica sees what any other wrote.

    Each stream ends by itself after `sse_max_seconds` (the browser's EventSource then
    reconnects with Last-Event-ID, so nothing is lost): an open room can then never keep
    a server from shutting down, nor hold on to a session that has since logged out."""
    who, csrf = current(request)
    last = _last_event_id(request, after)
    poll = float(getattr(request.app.state, "sse_poll_seconds", 0.5))
    lifetime = float(getattr(request.app.state, "sse_max_seconds", 55.0))
    keepalive = float(getattr(request.app.state, "sse_keepalive_seconds", 15.0))

    def visible() -> None:
        with db(request).read() as s:
            incident_queries.get_incident(s, who, ref)

    try:  # refuse at once (EventSource does not retry a 404) rather than mid-stream
        await anyio.to_thread.run_sync(visible)
    except DomainError as exc:
        return HTMLResponse(exc.message, status_code=exc.status_code)

    async def events() -> AsyncIterator[str]:
        nonlocal last
        ends_at = anyio.current_time() + lifetime
        quiet_since = anyio.current_time()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            try:
                batch = await anyio.to_thread.run_sync(
                    _event_payload, request, who, ref, last, csrf
                )
            except DomainError:
                return  # the incident went away (or out of sight): end the stream
            for ev in batch:
                last = ev["id"]
                yield f"id: {ev['id']}\nevent: timeline\ndata: {json.dumps(ev)}\n\n"
            now = anyio.current_time()
            if batch:
                quiet_since = now
            elif now - quiet_since >= keepalive:
                quiet_since = now
                yield ": keep-alive\n\n"
            if now >= ends_at:
                return
            await asyncio.sleep(min(poll, max(ends_at - now, 0.0)))

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
