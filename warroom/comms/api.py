"""REST routes for incident updates: templates, preview, post."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from warroom.comms import service
from warroom.comms import templates as tpl
from warroom.core.clock import iso
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.incidents import queries as incident_queries

router = APIRouter(prefix="/api/v1/incidents", tags=["communications"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(default="status", max_length=64)
    audience: Literal["internal", "external"] | None = None
    extra: str = Field(default="", max_length=service.MAX_EXTRA)
    preview: bool = False


@router.get("/{incident_id}/updates/templates", summary="Templates available for updates")
def templates(incident_id: str, request: Request, who: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        out = []
        for name in tpl.NAMES:
            audience, _, source = service.choose(s, name, inc)
            out.append({"name": name, "audience": audience, "source": source})
        return out


@router.get("/{incident_id}/updates/cadence", summary="When the next updates are due")
def cadence(incident_id: str, request: Request, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        return {
            aud: {
                "interval_minutes": service.interval_minutes(s, inc.severity, aud),
                "last_update_at": iso(service.last_update_at(s, inc, aud)),
                "next_update_due": iso(service.next_update_due(s, inc, aud)),
            }
            for aud in tpl.AUDIENCES
        }


@router.post("/{incident_id}/updates", summary="Render an update; post it unless preview")
def post_update(
    incident_id: str, body: UpdateIn, request: Request, who: Principal = responder
) -> JSONResponse:
    """201 with the recorded event; 200 for a preview (nothing recorded)."""
    c = clock(request)
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        out = service.post_update(
            s,
            c,
            who,
            inc,
            template=body.template,
            audience=body.audience,
            extra=body.extra,
            preview=body.preview,
        )
    return JSONResponse(out, status_code=200 if body.preview else 201)
