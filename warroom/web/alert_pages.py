"""Web pages for alerts: the alerts list with filters and responder actions."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from warroom.alerts import service as alerts
from warroom.core.errors import DomainError
from warroom.http import clock, db
from warroom.org import service as org
from warroom.web.routes import back, csrf_ok, csrf_rejected, current, templates

router = APIRouter(include_in_schema=False)


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    status: str = "open",
    service: str = "",
    noise: str = "",
    cursor: str = "",
    error: str = "",
) -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        try:
            items, nxt = alerts.list_alerts(
                s,
                who,
                status=status or None,
                service=service or None,
                noise={"yes": True, "no": False}.get(noise),
                cursor=cursor or None,
            )
        except DomainError as exc:
            items, nxt, error = [], None, exc.message
        services = [v.service.name for v in org.list_services(s)]
        report = alerts.noise_by_rule(s)
    return templates.TemplateResponse(
        request,
        "alerts.html",
        {
            "user": who,
            "csrf": csrf,
            "items": items,
            "next_cursor": nxt,
            "services": services,
            "statuses": ["open", "triggered", "acknowledged", "resolved"],
            "filters": {"status": status, "service": service, "noise": noise},
            "report": report,
            "error": error,
        },
    )


@router.post("/alerts/{alert_id}/{action}")
async def alert_action(request: Request, alert_id: int, action: str) -> Response:
    if action not in ("ack", "resolve", "noise"):
        return HTMLResponse("unknown action", status_code=404)
    who, csrf = current(request)
    form = await request.form()
    if not csrf_ok(csrf, str(form.get("csrf", ""))):
        return csrf_rejected(request, who)
    reason = str(form.get("reason", "not_actionable"))
    back_to = str(form.get("back", "/alerts"))
    if not back_to.startswith("/") or back_to.startswith("//"):
        back_to = "/alerts"

    def work() -> None:
        c = clock(request)
        with db(request).session() as s:
            alert = alerts.get_alert(s, alert_id)
            if alert.incident_id is not None:
                from warroom.incidents import queries as incident_queries

                incident_queries.get_incident(s, who, alert.incident_id)
            if action == "ack":
                alerts.acknowledge(s, c, who, alert)
            elif action == "resolve":
                alerts.resolve(s, c, who, alert)
            else:
                alerts.mark_noise(s, c, who, alert, reason, str(form.get("note", "")))

    try:
        await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(back_to, exc.message)
    return back(back_to)
