"""Web pages for paging: the one-click acknowledge/resolve link from a notification, the
list of active pages, and the paging actions of the incident room.

The link (/page/<token>) needs no login: its signed token is the authority, so the form
it shows carries no session CSRF token (the token in the URL is the secret). GET only
reads, since mail scanners and chat previews fetch links; only the button's POST acts.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from warroom.core.errors import Conflict, DomainError, ValidationFailed
from warroom.http import clock, db
from warroom.incidents import queries as incident_queries
from warroom.paging import queries
from warroom.paging import service as paging
from warroom.paging.models import Escalation
from warroom.web.routes import _fmt_dt, back, csrf_ok, csrf_rejected, current, templates

router = APIRouter(include_in_schema=False)

# The link page is for its recipient only: never cached, never indexed, and the token in
# its URL is not sent on as a Referer.
LINK_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
NOT_FOUND = (
    "This link is not valid: it may be mistyped or cut short, or it was made by another "
    "warroom installation. Nothing was changed."
)


def done_message(view: dict[str, Any]) -> str | None:
    """Why the link's action has nothing left to do, or None."""
    if view["state"] == "resolved":
        return f"This page was already resolved at {_fmt_dt(view['resolved_at'])}."
    if view["action"] == "ack" and view["state"] == "acknowledged":
        return (
            f"Already acknowledged by {view['acknowledged_by'] or 'someone'} "
            f"at {_fmt_dt(view['acknowledged_at'])}."
        )
    return None


def _link_page(
    request: Request,
    token: str,
    view: dict[str, Any] | None,
    *,
    result: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    if view is None:
        status_code, error = 404, NOT_FOUND
    resp = templates.TemplateResponse(
        request,
        "page_link.html",
        {
            "user": None,
            "csrf": "",
            "v": view,
            "token": token,
            "result": result,
            "error": error,
            "done": done_message(view) if view and result is None else None,
        },
        status_code=status_code,
    )
    resp.headers.update(LINK_HEADERS)
    return resp


@router.get("/page/{token}", response_class=HTMLResponse)
def link(request: Request, token: str) -> Response:
    with db(request).read() as s:
        found = queries.link_target(s, token)
        view = queries.link_view(s, *found) if found else None
    return _link_page(request, token, view)


@router.post("/page/{token}")
def link_act(request: Request, token: str) -> Response:
    c = clock(request)
    try:
        with db(request).session() as s:
            found = queries.link_target(s, token)
            if found is None:
                return _link_page(request, token, None)
            n, esc, action = found
            # Lock the page (PostgreSQL) so two clicks at once act once.
            s.refresh(esc, with_for_update=True)
            before = queries.link_view(s, n, esc, action)
            already = done_message(before)
            if already:
                return _link_page(request, token, before, result=already)
            who = queries.link_actor(s, c, n)
            paging.act(s, c, who, esc, action)
            s.flush()
            view = queries.link_view(s, n, esc, action)
    except DomainError as exc:
        with db(request).read() as s:
            again = queries.link_target(s, token)
            shown = queries.link_view(s, *again) if again else None
        return _link_page(request, token, shown, error=exc.message, status_code=exc.status_code)
    what = view["incident"] or (f"alert {view['alert_id']}" if view["alert_id"] else "the page")
    if action == "ack":
        result = f"Acknowledged by {view['for']}. Paging for {what} has stopped."
    else:
        result = f"Resolved by {view['for']}. Paging for {what} has ended."
    return _link_page(request, token, view, result=result)


# --- pages for people who are logged in -------------------------------------------------


@router.get("/pages", response_class=HTMLResponse)
def page_list(request: Request, state: str = "active", error: str = "") -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            items = queries.list_for(s, who, state=state or None, limit=200)
        except DomainError as exc:
            items, error = [], exc.message
        for item in items:
            item["notified"] = queries.notified(s, item["id"])
    return templates.TemplateResponse(
        request,
        "pages.html",
        {
            "user": who,
            "csrf": csrf,
            "items": items,
            "states": ["active", *paging.rules.STATES],
            "state": state,
            "error": error,
        },
    )


def _back_to(form: Any, default: str) -> str:
    url = str(form.get("back", default))
    return url if url.startswith("/") and not url.startswith("//") else default


@router.post("/pages/new")
async def page_someone(request: Request) -> Response:
    """The incident room's "Page someone" form: a policy, or people with a timeout."""
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    ref = str(form.get("incident", ""))
    back_to = _back_to(form, f"/incidents/{ref}")
    policy = str(form.get("policy", "")).strip() or None
    users = [str(u) for u in form.getlist("users") if str(u).strip()] or None
    timeout = str(form.get("timeout_minutes", "5")).strip()

    def work() -> None:
        c = clock(request)
        with db(request).session() as s:
            inc = incident_queries.get_incident(s, who, ref)
            if inc.status in ("resolved", "closed"):
                raise Conflict(f"{inc.status} incidents page nobody; reopen it first")
            if not timeout.isdigit():
                raise ValidationFailed(
                    "timeout must be a whole number of minutes", field="timeout_minutes"
                )
            paging.page_directly(
                s,
                c,
                who,
                inc.id,
                inc.title,
                policy=policy,
                users=users,
                timeout_minutes=int(timeout),
            )

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(back_to, exc.message)
    return back(back_to + "#paging")


@router.post("/pages/{page_id}/{action}")
async def page_action(request: Request, page_id: int, action: str) -> Response:
    if action not in ("ack", "resolve"):
        return HTMLResponse("unknown action", status_code=404)
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    back_to = _back_to(form, "/pages")

    def work() -> None:
        with db(request).session() as s:
            esc: Escalation = queries.get_visible(s, who, page_id)
            paging.act(s, clock(request), who, esc, action)

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(back_to, exc.message)
    return back(back_to)
