"""Shift routes: handoff notes (list, preview, show, remarks) and on-call health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.oncall import service
from warroom.shifts import handoff_service, health_service

router = APIRouter(prefix="/api/v1", tags=["on-call"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))


@router.get(
    "/oncall/handoffs",
    summary="Handoff notes, newest first (user: as the outgoing or incoming person)",
)
def handoffs(
    request: Request,
    schedule: str | None = None,
    user: str | None = None,
    before: int | None = Query(default=None, ge=1, le=2**31 - 1),
    limit: int = Query(default=50, ge=1, le=500),
    _: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        rows = handoff_service.list_handoffs(
            s, schedule=schedule, user=user, before=before, limit=limit
        )
        return handoff_service.handoff_list(s, rows)


@router.get(
    "/oncall/handoffs/preview",
    summary="The note the person on call would get if they handed over now (not kept)",
)
def handoff_preview(
    request: Request,
    schedule: str,
    level: int = Query(default=1, ge=1, le=9),
    _: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        row = service.get_schedule(s, schedule)
        return handoff_service.preview(s, clock(request), row, level)


@router.get(
    "/oncall/handoffs/{handoff_id}",
    summary="One handoff: the outgoing note, the incoming checklist and the remarks",
)
def handoff(
    request: Request, handoff_id: int = Path(ge=1, le=2**31 - 1), who: Principal = viewer
) -> dict[str, Any]:
    with db(request).read() as s:
        row = handoff_service.get_handoff(s, handoff_id)
        return handoff_service.handoff_dict(s, row, who=who)


class RemarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=handoff_service.MAX_REMARK)


@router.post(
    "/oncall/handoffs/{handoff_id}/remarks",
    status_code=201,
    summary="Add your own words to a handoff note (the outgoing or incoming person)",
)
def handoff_remark(
    request: Request,
    body: RemarkIn,
    handoff_id: int = Path(ge=1, le=2**31 - 1),
    who: Principal = responder,
) -> dict[str, Any]:
    with db(request).session() as s:
        row = handoff_service.get_handoff(s, handoff_id)
        handoff_service.add_remark(s, clock(request), who, row, body.text)
        return handoff_service.handoff_dict(s, row, who=who)


@router.get(
    "/oncall/health",
    summary="On-call health per person and rotation: shifts, pages per shift, off-hours "
    "and non-actionable pages, with flags",
)
def health(
    request: Request,
    schedule: str | None = None,
    user: str | None = None,
    start: str | None = None,
    end: str | None = None,
    since: str | None = Query(default=None, description="a length before end, e.g. 28d, 4w"),
    _: Principal = viewer,
) -> dict[str, Any]:
    now = clock(request).now()
    t1 = service.parse_instant(end, now, "end")
    if since and start:
        raise ValidationFailed("give start or since, not both", field="since")
    if since:
        t0 = t1 - health_service.parse_since(since)
    else:
        t0 = service.parse_instant(start, t1 - health_service.health.DEFAULT_PERIOD, "start")
    with db(request).read() as s:
        return health_service.report(s, now, start=t0, end=t1, schedule=schedule, user=user)
