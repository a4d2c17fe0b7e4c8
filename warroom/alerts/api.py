"""Alert routes: the ingestion endpoints (keyed by integration) and /api/v1 management."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from warroom import settings
from warroom.alerts import changes, integrations, service, silences
from warroom.alerts.matching import parse_matcher
from warroom.alerts.models import Integration
from warroom.alerts.parsers import (
    ChangePayload,
)
from warroom.alerts.writer import Ingestor
from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.incidents import queries as incident_queries
from warroom.org.models import Service

router = APIRouter(prefix="/api/v1", tags=["alerts"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))
admin = Depends(needs("admin"))


# --- management API --------------------------------------------------------------------


class IntegrationHeartbeatIn(BaseModel):
    """An always-firing alert whose notifications ping a heartbeat monitor instead of
    being ingested (Alertmanager's Watchdog)."""

    model_config = ConfigDict(extra="forbid")
    alert: str = Field(min_length=1, max_length=100, examples=["Watchdog"])
    monitor: str = Field(min_length=1, max_length=100, examples=["prometheus-eu"])


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["pagerduty", "alertmanager", "grafana", "webhook"]
    service: str | None = None
    hmac_secret: str | None = Field(default=None, min_length=16, max_length=200)
    mapping: dict[str, Any] = {}
    rate_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)
    heartbeat: IntegrationHeartbeatIn | None = None


def _endpoint_for(request: Request, kind: str, key: str) -> str:
    base = settings.public_url(str(request.base_url))
    return f"{base}/v2/enqueue" if kind == "pagerduty" else f"{base}/integrations/{kind}/{key}"


@router.post("/integrations", status_code=201, summary="Create an integration (key shown once)")
def create_integration(
    body: IntegrationIn, request: Request, _: Principal = admin
) -> dict[str, Any]:
    with db(request).session() as s:
        row, key = integrations.create_integration(s, clock(request), **body.model_dump())
        out = integrations.integration_dict(s, row)
    out["key"] = key
    out["endpoint"] = _endpoint_for(request, body.kind, key)
    return out


@router.get("/integrations", summary="List integrations (keys are never shown again)")
def list_integrations(request: Request, _: Principal = admin) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [
            integrations.integration_dict(s, r)
            for r in s.scalars(
                select(Integration)
                .where(Integration.kind != integrations.INTERNAL_KIND)
                .order_by(Integration.name)
            )
        ]


@router.post("/integrations/{name}/rotate", summary="Replace an integration's key (shown once)")
def rotate(name: str, request: Request, _: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        key = integrations.rotate_key(s, clock(request), name)
        row = integrations.integration_by_name(s, name)
        out = integrations.integration_dict(s, row)
    ing: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if ing is not None:
        ing.forget_keys()
    out["key"] = key
    out["endpoint"] = _endpoint_for(request, row.kind, key)
    return out


@router.get("/alerts", summary="List alerts, newest first")
def list_alerts(
    request: Request,
    status: str | None = None,
    service_name: str | None = Query(default=None, alias="service"),
    incident: str | None = None,
    noise: bool | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    who: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        items, nxt = service.list_alerts(
            s,
            who,
            status=status,
            service=service_name,
            incident=incident,
            noise=noise,
            cursor=cursor,
            limit=limit,
        )
        return {"items": items, "next_cursor": nxt}


@router.get("/alerts/noise", summary="Per routing rule: alerts and non-actionable marks")
def noise_report(request: Request, _: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.noise_by_rule(s)


def _visible_alert(s: Any, who: Principal, alert_id: int) -> Any:
    alert = service.get_alert(s, alert_id)
    if alert.incident_id is not None:
        incident_queries.get_incident(
            s, who, alert.incident_id
        )  # private incidents hide their alerts
    return alert


@router.get("/alerts/{alert_id}", summary="Show an alert")
def show_alert(alert_id: int, request: Request, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return service.alert_dict(_visible_alert(s, who, alert_id), service.names(s))


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
def ack_alert(alert_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        alert = _visible_alert(s, who, alert_id)
        service.acknowledge(s, clock(request), who, alert)
        return service.alert_dict(alert, service.names(s))


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert")
def resolve_alert(alert_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        alert = _visible_alert(s, who, alert_id)
        service.resolve(s, clock(request), who, alert)
        return service.alert_dict(alert, service.names(s))


class NoiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal["false_positive", "noise", "duplicate", "not_actionable"] = "not_actionable"
    note: str = ""


@router.post("/alerts/{alert_id}/noise", summary="Mark an alert non-actionable")
def mark_noise(
    alert_id: int, body: NoiseIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        alert = _visible_alert(s, who, alert_id)
        service.mark_noise(s, clock(request), who, alert, body.reason, body.note)
        return service.alert_dict(alert, service.names(s))


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["silence", "maintenance"] = "silence"
    matchers: list[str] = []
    services: list[str] = []
    starts_at: datetime | None = None
    ends_at: datetime
    comment: str


@router.post("/silences", status_code=201, summary="Add a silence or a maintenance window")
def add_silence(body: SilenceIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    parsed = []
    for i, text in enumerate(body.matchers):
        try:
            parsed.append(parse_matcher(text))
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=f"matchers.{i}") from exc
    c = clock(request)
    with db(request).session() as s:
        row = silences.add_silence(
            s,
            c,
            who,
            matchers=parsed,
            services=body.services,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            comment=body.comment,
            kind=body.kind,
        )
        return silences.silence_dict(row, c.now())


@router.get("/silences", summary="List silences and maintenance windows")
def list_silences(
    request: Request, all: bool = False, _: Principal = viewer
) -> list[dict[str, Any]]:
    c = clock(request)
    with db(request).read() as s:
        return [silences.silence_dict(r, c.now()) for r in silences.list_silences(s, c, not all)]


@router.post("/silences/{silence_id}/expire", summary="End a silence now")
def expire_silence(silence_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        return silences.silence_dict(silences.expire_silence(s, c, who, silence_id), c.now())


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=1024)
    service: str | None = None
    kind: Literal["deploy", "config", "feature_flag", "other"] = "deploy"
    source: str = ""
    at: datetime | None = None
    links: list[dict[str, str]] = []


@router.post("/changes", status_code=201, summary="Record a deploy, config change or flag flip")
def record_change(body: ChangeIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        row = changes.record_change(
            s,
            clock(request),
            change=ChangePayload(
                summary=body.summary,
                source=body.source,
                timestamp=body.at,
                links=body.links,
                kind=body.kind,
            ),
            recorded_by=who.name,
            service=body.service,
        )
        return changes.change_dict(row, service.id_names(s, Service))


@router.get("/changes", summary="List changes, newest first")
def list_changes(
    request: Request,
    service_name: str | None = Query(default=None, alias="service"),
    since: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    _: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return changes.list_changes(s, service=service_name, since=since, limit=limit)


@router.get(
    "/incidents/{incident_id}/changes",
    summary="Changes to the incident's services and dependencies in the 2 h before detection",
)
def incident_changes(
    incident_id: str, request: Request, who: Principal = viewer
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return changes.recent_changes(s, incident_queries.get_incident(s, who, incident_id))


@router.get("/incidents/{incident_id}/alerts", summary="The incident's alerts")
def incident_alerts(
    incident_id: str, request: Request, who: Principal = viewer
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        items, _ = service.list_alerts(s, who, incident=incident_id, limit=500)
        return items
