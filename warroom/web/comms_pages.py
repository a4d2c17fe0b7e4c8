"""The update composer in the incident room: preview (page or JSON) and post."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from warroom.comms import service as comms
from warroom.comms import templates as tpl
from warroom.core.errors import DomainError
from warroom.http import clock, db
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules
from warroom.web.routes import back, csrf_ok, csrf_rejected, current, render_room, templates

router = APIRouter(include_in_schema=False)
templates.env.globals["COMMS_TEMPLATES"] = tpl.NAMES


def _fields(form: Any) -> dict[str, str]:
    return {k: str(v) for k, v in form.items()}


def _run(request: Request, ref: str, f: dict[str, str], preview: bool) -> dict[str, Any]:
    who, _ = current(request)
    c = clock(request)
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, ref)
        return comms.post_update(
            s,
            c,
            who,
            inc,
            template=f.get("template", "status") or "status",
            audience=f.get("audience") or None,
            extra=f.get("extra", ""),
            preview=preview,
        )


@router.post("/incidents/{ref}/updates/preview")
async def preview_json(request: Request, ref: str) -> Response:
    """The live preview (fetched by composer.js): JSON, nothing is recorded."""
    who, csrf = current(request)
    f = _fields(await request.form())
    if not csrf_ok(csrf, f.get("csrf", "")):
        return JSONResponse({"error": "this form has expired; reload the page"}, status_code=403)
    try:
        out = await anyio.to_thread.run_sync(lambda: _run(request, ref, f, True))
    except DomainError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)
    return JSONResponse({"text": out["text"], "warnings": out["warnings"]})


@router.post("/incidents/{ref}/updates")
async def compose(request: Request, ref: str) -> Response:
    who, csrf = current(request)
    f = _fields(await request.form())
    if not csrf_ok(csrf, f.get("csrf", "")):
        return csrf_rejected(request, who)
    url = f"/incidents/{rules.parse_incident_ref(ref) or ref}"
    preview = f.get("op") != "post"
    composer: dict[str, Any] = {
        "template": f.get("template", "status"),
        "audience": f.get("audience", ""),
        "extra": f.get("extra", ""),
    }
    try:
        out = await anyio.to_thread.run_sync(lambda: _run(request, ref, f, preview))
    except DomainError as exc:
        if preview:
            return render_room(request, ref, exc.message, composer)
        return back(url, exc.message)
    if preview:
        composer["preview"] = out
        return render_room(request, ref, "", composer)
    return back(url + "#timeline")
