"""Heartbeat routes: /api/v1/heartbeats (admin writes, viewer reads) and the ping URL.

The ping URL (`GET` or `POST /ping/<secret>`) is unauthenticated but for its secret,
reads no body, and answers a few bytes; a wrong secret is a 404 like a missing page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from warroom import settings
from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal
from warroom.heartbeats import rules, service
from warroom.http import clock, db, needs

router = APIRouter(prefix="/api/v1/heartbeats", tags=["heartbeats"])
ping_router = APIRouter(tags=["heartbeats"])
viewer = Depends(needs("viewer"))
admin = Depends(needs("admin"))


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["nightly-backup"])
    service: str = Field(min_length=1, max_length=100)
    interval: str = Field(
        min_length=1, max_length=32, examples=["5m"], description="90s, 5m, 2h, 1d or seconds"
    )
    grace: str = Field(default="0s", min_length=1, max_length=32, examples=["2m"])
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    description: str = Field(default="", max_length=500)


class HeartbeatOutageOut(BaseModel):
    started_at: str
    ended_at: str | None
    ended_by: str | None


class HeartbeatOut(BaseModel):
    name: str
    service: str | None
    interval: str
    interval_seconds: int
    grace: str
    grace_seconds: int
    severity: str
    description: str
    paused: bool
    state: Literal["new", "up", "late", "down", "paused", "maintenance"]
    created_at: str
    last_ping_at: str | None
    last_ping_source: str | None
    next_expected_at: str | None
    deadline_at: str | None
    late_by_seconds: int
    url_hint: str
    pings: list[str]
    intervals_seconds: list[int]


class HeartbeatDetailOut(HeartbeatOut):
    outages: list[HeartbeatOutageOut]


class HeartbeatCreatedOut(HeartbeatOut):
    url: str = Field(description="The ping URL, with its secret: shown this once")


class PingOut(BaseModel):
    status: Literal["ok"]


def duration(text: str, field: str) -> timedelta:
    """A duration field of a request; 422 naming the field when it does not parse."""
    try:
        return rules.parse_duration(text)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from exc


@router.post(
    "",
    status_code=201,
    response_model=HeartbeatCreatedOut,
    summary="Create a heartbeat monitor (its ping URL is shown once)",
)
def create(body: HeartbeatIn, request: Request, who: Principal = admin) -> dict[str, Any]:
    interval = duration(body.interval, "interval")
    grace = duration(body.grace, "grace")
    with db(request).session() as s:
        hb, token = service.create(
            s,
            clock(request),
            who,
            name=body.name,
            service=body.service,
            interval=interval,
            grace=grace,
            severity=body.severity,
            description=body.description,
        )
        out = service.heartbeat_dict(s, hb, clock(request).now())
    out["url"] = settings.public_url(str(request.base_url)) + service.ping_path(token)
    return out


@router.get("", response_model=list[HeartbeatOut], summary="List heartbeat monitors")
def list_all(request: Request, _: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.list_dicts(s, clock(request).now())


@router.get(
    "/{name}",
    response_model=HeartbeatDetailOut,
    summary="A heartbeat monitor: last ping, next expected, state, recent pings and outages",
)
def show(name: str, request: Request, _: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return service.heartbeat_dict(s, service.get(s, name), clock(request).now(), history=True)


@router.post("/{name}/pause", response_model=HeartbeatOut, summary="Pause a monitor")
def pause(name: str, request: Request, who: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        hb = service.pause(s, clock(request), who, name)
        return service.heartbeat_dict(s, hb, clock(request).now())


@router.post("/{name}/resume", response_model=HeartbeatOut, summary="Resume a paused monitor")
def resume(name: str, request: Request, who: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        hb = service.resume(s, clock(request), who, name)
        return service.heartbeat_dict(s, hb, clock(request).now())


@router.delete("/{name}", status_code=204, summary="Delete a monitor (its open alert resolves)")
def delete(name: str, request: Request, who: Principal = admin) -> None:
    with db(request).session() as s:
        service.delete(s, clock(request), who, name)


_NOT_FOUND = {"error": "unknown heartbeat URL", "field": "token"}


def _ping(token: str, request: Request, source: str) -> Any:
    with db(request).session() as s:
        found = service.ping(s, clock(request), token, source)
    if not found:
        return JSONResponse(_NOT_FOUND, status_code=404)
    return {"status": "ok"}


_PING_DOC: dict[str, Any] = {
    "response_model": PingOut,
    "responses": {404: {"description": "No monitor has this secret"}},
}


@ping_router.get("/ping/{token}", summary="Ping a heartbeat monitor (from cron, CI)", **_PING_DOC)
def ping_get(token: str, request: Request) -> Any:
    return _ping(token, request, "GET")


@ping_router.post("/ping/{token}", summary="Ping a heartbeat monitor (body ignored)", **_PING_DOC)
def ping_post(token: str, request: Request) -> Any:
    return _ping(token, request, "POST")
