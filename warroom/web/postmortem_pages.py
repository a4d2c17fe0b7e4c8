"""Web pages for postmortems (the list and the editor, with live preview and lint) and
for action items. Forms post back with the session's CSRF token; every change goes
through the postmortems service, so roles and the gate are the API's."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from warroom.core.errors import DomainError, NotFound
from warroom.http import clock, db
from warroom.incidents import queries as incident_queries
from warroom.postmortems import actions, export, queries, rules, service, similar, stars
from warroom.web.routes import back, csrf_ok, csrf_rejected, current, templates

router = APIRouter(include_in_schema=False)
SECTIONS = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("timeline", "Timeline"),
    ("phases", "Phase durations"),
    ("root_cause", "Root cause"),
    ("factors_text", "Contributing factors (free text)"),
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("lucky", "Where we got lucky"),
    ("lessons", "Lessons learned"),
    ("no_actions_reason", "No actions, because ... (only when there are none)"),
)
MAX_WHYS_SHOWN = 5


@router.get("/postmortems", response_class=HTMLResponse)
def postmortem_list(request: Request, status: str = "", overdue: str = "") -> Response:
    who, csrf = current(request)
    error = ""
    with db(request).read() as s:
        try:
            rows = queries.list_postmortems(
                s, clock(request), who, status=status or None, overdue=bool(overdue)
            )
        except DomainError as exc:
            rows, error = [], exc.message
    return templates.TemplateResponse(
        request,
        "postmortems.html",
        {
            "user": who,
            "csrf": csrf,
            "rows": rows,
            "error": error,
            "status": status,
            "overdue": bool(overdue),
            "statuses": rules.STATUSES,
        },
    )


@router.get("/postmortems/{ref}", response_class=HTMLResponse)
def editor(request: Request, ref: str, error: str = "") -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, ref)
        pm = service.for_incident(s, inc.id)
        d = queries.detail(s, clock(request), pm) if pm else None
        users = list(service.names(s))
        incident = {"title": inc.title, "status": inc.status}
        repeats = similar.similar(s, who, inc)
    whys = list((d or {}).get("content", {}).get("whys") or [])
    whys += [{"why": "", "because": ""}] * max(0, MAX_WHYS_SHOWN - len(whys))
    return templates.TemplateResponse(
        request,
        "postmortem.html",
        {
            "user": who,
            "csrf": csrf,
            "ref": ref,
            "incident": incident,
            "similar": repeats,
            "pm": d,
            "sections": SECTIONS,
            "whys": whys,
            "patterns": rules.PATTERNS,
            "priorities": rules.PRIORITIES,
            "kinds": rules.KINDS,
            "users": users,
            "error": error,
            "preview": export.render_markdown(export.markdown(d)) if d else "",
        },
    )


def _content(form: dict[str, Any], factors: list[str]) -> dict[str, Any]:
    content: dict[str, Any] = {k: form[k] for k, _ in SECTIONS if k in form}
    if "title" in form:
        content["title"] = form["title"]
    whys = []
    for n in range(service.MAX_WHYS):
        why = str(form.get(f"why_{n}", "")).strip()
        because = str(form.get(f"because_{n}", "")).strip()
        if why or because:
            whys.append({"why": why, "because": because})
    if any(f"why_{n}" in form for n in range(service.MAX_WHYS)):
        content["whys"] = whys
    if form.get("factors_given"):
        content["factors"] = factors
    return content


@router.post("/postmortems/{ref}/{action}")
async def act(request: Request, ref: str, action: str) -> Response:
    who, csrf = current(request)
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items()}
    factors = [str(v) for v in raw.getlist("factors")]
    if not csrf_ok(csrf, form.get("csrf", "")):
        return csrf_rejected(request, who)
    url = f"/postmortems/{ref}"
    c = clock(request)

    def run() -> None:
        with db(request).session() as s:
            inc = incident_queries.get_incident(s, who, ref)
            if action == "start":
                service.start(s, c, who, inc)
                return
            if action == "action-item":
                actions.create(
                    s,
                    c,
                    who,
                    inc,
                    {
                        k: form[k]
                        for k in ("title", "owner", "due", "priority", "kind")
                        if form.get(k)
                    },
                )
                return
            pm = service.get(s, inc)
            if action == "save":
                service.edit(
                    s, c, who, pm, _content(form, factors), owner=form.get("owner") or None
                )
            elif action == "submit":
                service.submit(s, c, who, pm)
            elif action == "review":
                service.review(s, c, who, pm, form.get("verdict", ""), form.get("comment", ""))
            elif action == "override":
                service.override(s, c, who, pm, form.get("key", ""), form.get("reason", ""))
            elif action == "publish":
                service.publish(s, c, who, pm)
            elif action == "reopen":
                service.reopen(s, c, who, pm)
            else:
                raise DomainError(f"unknown action {action!r}")

    try:
        await anyio.to_thread.run_sync(run)
    except DomainError as exc:
        return back(url, exc.message)
    return back(url)


@router.post("/incidents/{ref}/stars/{event_id}")
async def star(request: Request, ref: str, event_id: int) -> Response:
    """The room's star toggle on a timeline event (`starred` 1 or 0), through the service
    that the API uses (responders only)."""
    who, csrf = current(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_ok(csrf, form.get("csrf", "")):
        return csrf_rejected(request, who)
    c = clock(request)
    url = f"/incidents/{ref}"

    def run() -> None:
        with db(request).session() as s:
            inc = incident_queries.get_incident(s, who, ref)
            if not 0 < event_id < 2**31:
                raise NotFound(f"no timeline event {event_id} in this incident", field="event")
            stars.set_star(s, c, who, inc, event_id, form.get("starred", "1") != "0")

    try:
        await anyio.to_thread.run_sync(run)
    except DomainError as exc:
        return back(url, exc.message)
    return back(url + f"#event-{event_id}")


@router.post("/postmortems-lint")
async def lint(request: Request) -> Response:
    """The live check and preview (fetched by postmortem.js): JSON, nothing is written."""
    who, csrf = current(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_ok(csrf, form.get("csrf", "")):
        return JSONResponse({"error": "this form has expired; reload the page"}, status_code=403)
    text = form.get("text", "")[: service.MAX_TEXT]
    with db(request).read() as s:
        people = service.names(s)
    return JSONResponse(
        {
            "findings": [f.to_dict() for f in rules.lint(text, names=people)],
            "html": export.render_markdown(text),
        }
    )


@router.get("/action-items", response_class=HTMLResponse)
def action_items(
    request: Request, owner: str = "me", overdue: str = "", incident: str = "", error: str = ""
) -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            incident_id = incident_queries.get_incident(s, who, incident).id if incident else None
            rows = queries.list_items(
                s,
                clock(request),
                who,
                owner=who.name if owner == "me" else (owner or None),
                overdue=bool(overdue),
                incident_id=incident_id,
            )
        except DomainError as exc:
            rows, error = [], exc.message
    return templates.TemplateResponse(
        request,
        "action_items.html",
        {
            "user": who,
            "csrf": csrf,
            "rows": rows,
            "owner": owner,
            "overdue": bool(overdue),
            "error": error,
        },
    )


@router.post("/action-items/{item_id}/done")
async def item_done(request: Request, item_id: int) -> Response:
    who, csrf = current(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_ok(csrf, form.get("csrf", "")):
        return csrf_rejected(request, who)
    c = clock(request)

    def run() -> None:
        with db(request).session() as s:
            item = actions.get(s, item_id)
            incident_queries.get_incident(s, who, item.incident_id)
            actions.change(s, c, who, item, {"status": "done"})

    try:
        await anyio.to_thread.run_sync(run)
    except DomainError as exc:
        return back("/action-items", exc.message)
    return back("/action-items")
