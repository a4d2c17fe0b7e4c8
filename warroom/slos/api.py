"""SLO routes: /api/v1/slos (viewer reads), the release gate for CI, and freeze exceptions.

`GET /api/v1/slos/gate?service=S` answers 200 with `go` true or false either way: the
decision is the body, not the status code, so a CI job can print the reasons. The CLI's
`warroom slo gate` turns it into an exit code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.slos import openslo, promrules, service

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))


class SloIncidentOut(BaseModel):
    incident: str
    impact_start: str
    impact_end: str | None
    weight_percent: float
    weighted: bool
    minutes: float
    percent: float


class SloOut(BaseModel):
    name: str
    service: str
    objective: float
    window: str
    source: Literal["incidents", "prometheus"]
    budgeting: str
    description: str
    evaluated_at: str | None
    alert: Literal["page", "ticket"] | None
    error: str | None
    window_start: str | None = None
    window_end: str | None = None
    budget_minutes: float | None
    consumed_minutes: float | None
    consumed_percent: float | None
    remaining_minutes: float | None
    remaining_percent: float | None
    burn_rates: dict[str, float]
    exhausted: bool | None
    unweighted: bool | None = Field(
        default=None,
        description="an incident in the window has no recorded affected share (counted at 100%)",
    )
    incident_count: int | None = Field(
        default=None, description="incidents that spent this window's budget"
    )
    incidents: list[SloIncidentOut] | None = Field(
        default=None,
        description="GET /slos/{name} only: the newest 100 of them, with what each spent",
    )


class SloExceptionOut(BaseModel):
    id: int
    service: str | None
    kind: Literal["p0", "security"]
    reason: str
    granted_by: str
    granted_at: str
    expires_at: str
    revoked_at: str | None
    revoked_by: str | None


class SloGateOut(BaseModel):
    service: str
    go: bool
    state: Literal["go", "warn", "freeze", "exception", "no-slo", "unknown"]
    reasons: list[str]
    exception: SloExceptionOut | None
    slos: list[SloOut]
    at: str


class SloExceptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=100)
    kind: Literal["p0", "security"]
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime = Field(description="when the exception ends (at most 30 days ahead)")


@router.get("", response_model=list[SloOut], summary="List SLOs with their budgets")
def list_all(
    request: Request, service_name: str | None = Query(None, alias="service"), _: Principal = viewer
) -> list[dict[str, Any]]:
    now = clock(request).now()
    with db(request).read() as s:
        views = service.statuses(s, service.list_slos(s, service_name), now)
        return [service.view_dict(v, now, with_incidents=False) for v in views]


@router.get("/gate", response_model=SloGateOut, summary="May this service release? (for CI)")
def gate(
    request: Request,
    service_name: str = Query(alias="service", min_length=1, max_length=100),
    _: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        return service.gate(s, service_name, clock(request).now())


@router.get(
    "/exceptions", response_model=list[SloExceptionOut], summary="A service's freeze exceptions"
)
def list_exceptions(
    request: Request,
    service_name: str = Query(alias="service", min_length=1, max_length=100),
    _: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.exceptions(s, service_name)


@router.post(
    "/exceptions",
    response_model=SloExceptionOut,
    status_code=201,
    summary="Grant an exception to a release freeze (P0 or security fix)",
)
def grant(body: SloExceptionIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        ex = service.grant_exception(
            s,
            c,
            who,
            service=body.service,
            kind=body.kind,
            reason=body.reason,
            expires_at=body.expires_at,
        )
        return service.exception_dict(s, ex.id)


@router.post(
    "/exceptions/{exception_id}/revoke",
    response_model=SloExceptionOut,
    summary="End a freeze exception now",
)
def revoke(exception_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        ex = service.revoke_exception(s, c, who, exception_id)
        return service.exception_dict(s, ex.id)


_YAML = {"content": {"application/yaml": {"schema": {"type": "string"}}}}


@router.get(
    "/{name}/rules",
    response_class=PlainTextResponse,
    summary="Prometheus recording and burn-rate alerting rules for a Prometheus SLO",
    responses={200: _YAML},
)
def prometheus_rules(name: str, request: Request, _: Principal = viewer) -> PlainTextResponse:
    with db(request).read() as s:
        row, svc = service.get_slo(s, name)
        text = promrules.rules_yaml([service.spec_of(row, svc)])
    return PlainTextResponse(text, media_type="application/yaml")


@router.get(
    "/{name}/openslo",
    response_class=PlainTextResponse,
    summary="The SLO as OpenSLO v1 YAML",
    responses={200: _YAML},
)
def export_openslo(name: str, request: Request, _: Principal = viewer) -> PlainTextResponse:
    with db(request).read() as s:
        row, svc = service.get_slo(s, name)
        url = (row.spec.get("prometheus") or {}).get("url")
        text = openslo.to_openslo([service.spec_of(row, svc)], {name: url} if url else None)
    return PlainTextResponse(text, media_type="application/yaml")


@router.get("/{name}", response_model=SloOut, summary="One SLO: budget, spend, burn rates")
def show(name: str, request: Request, _: Principal = viewer) -> dict[str, Any]:
    now = clock(request).now()
    with db(request).read() as s:
        return service.view_dict(service.view(s, name, now), now)
