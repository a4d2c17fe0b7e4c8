"""Web pages for staff to run the public status page: component statuses, publishing
incidents, public updates, maintenance. Every form is CSRF-checked; writes go through
the status page modules (warroom.statuspage.components, incidents, maintenance), so their
rules (private incidents are never published) hold."""

from __future__ import annotations

from datetime import datetime

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from warroom.core.clock import parse_utc
from warroom.core.errors import DomainError, ValidationFailed
from warroom.http import clock, db
from warroom.statuspage import components as status_components
from warroom.statuspage import incidents as status_incidents
from warroom.statuspage import maintenance as status_maintenance
from warroom.statuspage import rules
from warroom.web.routes import back, csrf_ok, csrf_rejected, current, templates

router = APIRouter(include_in_schema=False)
PAGE = "/status-admin"


@router.get(PAGE, response_class=HTMLResponse)
def status_admin(request: Request, error: str = "", notice: str = "") -> Response:
    who, csrf = current(request)
    with db(request).read() as s:
        components = [
            status_components.component_dict(s, c) for c in status_components.list_components(s)
        ]
        incidents = [
            status_incidents.public_dict(s, p, who)
            for p in status_incidents.list_public(s, "incident", 20)
        ]
        maintenances = [
            status_incidents.public_dict(s, p, who)
            for p in status_incidents.list_public(s, "maintenance", 20)
        ]
    return templates.TemplateResponse(
        request,
        "status_admin.html",
        {
            "user": who,
            "csrf": csrf,
            "error": error,
            "notice": notice,
            "components": components,
            "leaf_components": [c for c in components if not c["is_group"]],
            "incidents": incidents,
            "maintenances": maintenances,
            "component_statuses": rules.COMPONENT_STATUSES,
            "incident_statuses": rules.INCIDENT_STATUSES,
            "maintenance_statuses": rules.MAINTENANCE_STATUSES,
            "unresolved": rules.UNRESOLVED,
        },
    )


def _when(text: str, field: str) -> datetime:
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {text!r} is not a date and time", field=field) from exc


@router.post(PAGE + "/{action}")
@router.post(PAGE + "/{action}/{target:path}")  # a component's name may contain "/"
async def status_action(request: Request, action: str, target: str = "") -> Response:
    if action not in ("component", "publish", "update", "schedule", "maintenance"):
        return HTMLResponse("unknown action", status_code=404)
    who, csrf = current(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_ok(csrf, form.get("csrf", "")):
        return csrf_rejected(request, who)

    def components_from_form() -> dict[str, str]:
        name, new = form.get("component", ""), form.get("component_status", "")
        return {name: new} if name and new else {}

    def work() -> str:
        c = clock(request)
        with db(request).session() as s:
            if action == "component":
                status_components.set_component_status(s, c, who, target, form.get("status", ""))
                return f"{target} is now {form.get('status')}"
            if action == "publish":
                pub = status_incidents.publish(
                    s,
                    c,
                    who,
                    incident=form.get("incident", ""),
                    name=form.get("name") or None,
                    body=form.get("body", ""),
                    components=components_from_form(),
                )
                return f"Published {pub.name!r}"
            if action == "update":
                status_incidents.post_update(
                    s,
                    c,
                    who,
                    target,
                    status=form.get("status", ""),
                    body=form.get("body", ""),
                    components=components_from_form() or None,
                )
                return "Update posted"
            if action == "schedule":
                names = [n for n in form.get("components", "").split(",") if n.strip()]
                status_maintenance.schedule_maintenance(
                    s,
                    c,
                    who,
                    name=form.get("name", ""),
                    body=form.get("body", ""),
                    scheduled_for=_when(form.get("start", ""), "start"),
                    scheduled_until=_when(form.get("end", ""), "end"),
                    components=[n.strip() for n in names],
                )
                return "Maintenance scheduled"
            status_maintenance.maintenance_update(
                s, c, who, target, status=form.get("status", ""), body=form.get("body", "")
            )
            return "Maintenance updated"

    try:
        notice = await anyio.to_thread.run_sync(work)
    except DomainError as exc:
        return back(PAGE, exc.message)
    from urllib.parse import quote

    return back(PAGE + "?notice=" + quote(notice))
