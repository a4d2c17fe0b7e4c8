"""Alert routes: the ingestion endpoints (keyed by integration) and /api/v1 management."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Literal

import anyio
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from warroom.alerts import service
from warroom.alerts.ingest import Ingestor, IntegrationRef
from warroom.alerts.matching import parse_matcher
from warroom.alerts.models import Integration
from warroom.alerts.parsers import (
    ChangePayload,
    InvalidEvent,
    key_error,
    parse_alertmanager,
    parse_pagerduty,
    parse_pagerduty_change,
    parse_webhook,
)
from warroom.core.deps import clock, db, needs
from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal
from warroom.incidents import service as incidents
from warroom.org.models import Service

MAX_BODY = int(os.environ.get("WARROOM_MAX_ALERT_BODY", str(1024 * 1024)))

ingest_router = APIRouter(tags=["alert ingestion"])
router = APIRouter(prefix="/api/v1", tags=["alerts"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))
admin = Depends(needs("admin"))


def ingestor(request: Request) -> Ingestor:
    ing: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if ing is None:
        ing = Ingestor(db(request), clock(request))
        request.app.state.ingestor = ing
    return ing


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _pd_error(
    errors: list[str], status: int = 400, message: str = "Event object is invalid"
) -> Response:
    return _json({"status": "invalid event", "message": message, "errors": errors}, status)


async def _read(request: Request) -> tuple[bytes | None, Response | None]:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        return None, _pd_error(
            [f"request body is larger than {MAX_BODY} bytes"], 413, "Request too large"
        )
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return None, _pd_error(
            [f"request body is larger than {MAX_BODY} bytes"], 413, "Request too large"
        )
    return raw, None


def _decode(raw: bytes) -> tuple[Any, Response | None]:
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, _pd_error([f"request body is not valid JSON: {exc}"], 400, "Invalid JSON")


def _limited(ing: Ingestor, ref: IntegrationRef, cost: int = 1) -> Response | None:
    wait = ing.limiter.retry_after(ref, cost)
    if wait is None:
        return None
    return _json(
        {
            "status": "throttle event",
            "message": f"Requests for integration {ref.name!r} exceed {ref.rate_per_minute} per minute",
            "errors": ["rate limit exceeded"],
        },
        429,
        {"Retry-After": str(wait)},
    )


@ingest_router.post(
    "/v2/enqueue",
    status_code=202,
    summary="PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
)
async def pd_enqueue(request: Request) -> Response:
    raw, err = await _read(request)
    if err:
        return err
    assert raw is not None
    body, err = _decode(raw)
    if err:
        return err
    try:
        key, event = parse_pagerduty(body)
    except InvalidEvent as exc:
        return _pd_error(exc.errors)
    ing = ingestor(request)
    ref = await _lookup(ing, key)
    if ref is None or ref.kind != "pagerduty":
        return _pd_error(["'routing_key' does not match a pagerduty integration"])
    if not service.verify_signature(
        ref.hmac_secret, raw, request.headers.get("x-warroom-signature")
    ):
        return _pd_error(["X-Warroom-Signature is missing or wrong"], 401, "Signature check failed")
    limited = _limited(ing, ref)
    if limited:
        return limited
    await ing.submit(ref, [event])
    return _json(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, 202
    )


@ingest_router.post(
    "/v2/change/enqueue",
    status_code=202,
    summary="PagerDuty change events: deploys, config changes",
)
async def pd_change(request: Request) -> Response:
    raw, err = await _read(request)
    if err:
        return err
    assert raw is not None
    body, err = _decode(raw)
    if err:
        return err
    try:
        key, change = parse_pagerduty_change(body)
    except InvalidEvent as exc:
        return _pd_error(exc.errors)
    ing = ingestor(request)
    ref = await _lookup(ing, key)
    if ref is None:
        return _pd_error(["'routing_key' does not match an integration"])
    if not service.verify_signature(
        ref.hmac_secret, raw, request.headers.get("x-warroom-signature")
    ):
        return _pd_error(["X-Warroom-Signature is missing or wrong"], 401, "Signature check failed")
    limited = _limited(ing, ref)
    if limited:
        return limited
    await ing.submit(ref, change=change)
    return _json({"status": "success", "message": "Change event processed"}, 202)


async def _lookup(ing: Ingestor, key: str) -> IntegrationRef | None:
    found, ref = ing.cached(key)
    if found:
        return ref
    return await anyio.to_thread.run_sync(ing.lookup, key)


@ingest_router.post(
    "/integrations/{kind}/{key}",
    status_code=202,
    summary="Alertmanager (webhook v4), Grafana or generic JSON webhook",
)
async def integration_webhook(kind: str, key: str, request: Request) -> Response:
    if kind not in ("alertmanager", "grafana", "webhook"):
        return _json(
            {
                "error": f"unknown integration kind {kind!r}",
                "field": "kind",
                "allowed": ["alertmanager", "grafana", "webhook"],
            },
            404,
        )
    raw, err = await _read(request)
    if err:
        return err
    assert raw is not None
    if key_error(key, "key"):
        return _json({"error": "unknown integration key", "field": "key"}, 404)
    ing = ingestor(request)
    ref = await _lookup(ing, key)
    if ref is None or ref.kind != kind:
        return _json({"error": f"unknown {kind} integration key", "field": "key"}, 404)
    if not service.verify_signature(
        ref.hmac_secret, raw, request.headers.get("x-warroom-signature")
    ):
        return _json(
            {"error": "X-Warroom-Signature is missing or wrong", "field": "signature"}, 401
        )
    body, err = _decode(raw)
    if err:
        return err
    truncated = 0
    try:
        if kind == "webhook":
            events = [parse_webhook(body, ref.mapping)]
        else:
            grouped = parse_alertmanager(body, grafana=kind == "grafana")
            events, truncated = grouped.events, grouped.truncated
    except InvalidEvent as exc:
        return _json({"error": exc.errors[0], "errors": exc.errors, "field": "body"}, 400)
    limited = _limited(ing, ref, max(1, len(events)))
    if limited:
        return limited
    outcomes = await ing.submit(ref, events) if events else []
    return _json(
        {
            "status": "success",
            "alerts": len(events),
            "truncated": truncated,
            "results": [
                {
                    "dedup_key": o.dedup_key,
                    "action": o.action,
                    "alert": o.alert_id,
                    "incident": o.incident,
                }
                for o in outcomes
            ],
        },
        202,
    )


# --- management API --------------------------------------------------------------------


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["pagerduty", "alertmanager", "grafana", "webhook"]
    service: str | None = None
    hmac_secret: str | None = Field(default=None, min_length=16, max_length=200)
    mapping: dict[str, Any] = {}
    rate_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)


def _endpoint_for(request: Request, kind: str, key: str) -> str:
    base = str(request.base_url).rstrip("/")
    return f"{base}/v2/enqueue" if kind == "pagerduty" else f"{base}/integrations/{kind}/{key}"


@router.post("/integrations", status_code=201, summary="Create an integration (key shown once)")
def create_integration(
    body: IntegrationIn, request: Request, _: Principal = admin
) -> dict[str, Any]:
    with db(request).session() as s:
        row, key = service.create_integration(s, clock(request), **body.model_dump())
        out = service.integration_dict(s, row)
    out["key"] = key
    out["endpoint"] = _endpoint_for(request, body.kind, key)
    return out


@router.get("/integrations", summary="List integrations (keys are never shown again)")
def list_integrations(request: Request, _: Principal = admin) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [
            service.integration_dict(s, r)
            for r in s.scalars(select(Integration).order_by(Integration.name))
        ]


@router.post("/integrations/{name}/rotate", summary="Replace an integration's key (shown once)")
def rotate(name: str, request: Request, _: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        key = service.rotate_key(s, clock(request), name)
        row = service.integration_by_name(s, name)
        out = service.integration_dict(s, row)
    ing: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if ing:
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
        incidents.get_incident(s, who, alert.incident_id)  # private incidents hide their alerts
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
        row = service.add_silence(
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
        return service.silence_dict(row, c.now())


@router.get("/silences", summary="List silences and maintenance windows")
def list_silences(
    request: Request, all: bool = False, _: Principal = viewer
) -> list[dict[str, Any]]:
    c = clock(request)
    with db(request).read() as s:
        return [service.silence_dict(r, c.now()) for r in service.list_silences(s, c, not all)]


@router.post("/silences/{silence_id}/expire", summary="End a silence now")
def expire_silence(silence_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        return service.silence_dict(service.expire_silence(s, c, who, silence_id), c.now())


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
        row = service.record_change(
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
        return service.change_dict(row, service.id_names(s, Service))


@router.get("/changes", summary="List changes, newest first")
def list_changes(
    request: Request,
    service_name: str | None = Query(default=None, alias="service"),
    since: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    _: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.list_changes(s, service=service_name, since=since, limit=limit)


@router.get(
    "/incidents/{incident_id}/changes",
    summary="Changes to the incident's services and dependencies in the 2 h before detection",
)
def incident_changes(
    incident_id: str, request: Request, who: Principal = viewer
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.recent_changes(s, incidents.get_incident(s, who, incident_id))


@router.get("/incidents/{incident_id}/alerts", summary="The incident's alerts")
def incident_alerts(
    incident_id: str, request: Request, who: Principal = viewer
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        items, _ = service.list_alerts(s, who, incident=incident_id, limit=500)
        return items
