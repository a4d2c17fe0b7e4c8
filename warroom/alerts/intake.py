"""The alert intake: PagerDuty Events v2, change events and integration webhooks.

It is the storm path, so the app answers these paths before the web framework sees
the request (`warroom.app.WarroomApp`): it reads the body and answers from the parsers
and the group-committing ingestor. Per request this skips routing, dependency
injection and the framework's middleware, which cost more than the work itself.

So the checks the middleware makes for the rest of the app happen here and in the
parsers: a body over MAX_BODY is a 413 before it is read; a body with a NUL character or
nested deeper than `warroom.core.text.MAX_DEPTH` levels is a 400 naming the field
(`warroom.alerts.parsers.refuse_bad_text`); a signature header that is not ASCII is a wrong
signature (401). No bad input is a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import orjson

from warroom import settings
from warroom.alerts import integrations
from warroom.alerts.parsers import (
    InvalidEvent,
    NormalizedEvent,
    key_error,
    parse_alertmanager,
    parse_pagerduty,
    parse_pagerduty_change,
    parse_webhook,
)
from warroom.alerts.writer import Ingestor, IntegrationRef
from warroom.core import text

MAX_BODY = settings.max_alert_body()  # read once, at import
WEBHOOK_KINDS = ("alertmanager", "grafana", "webhook")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Reply = tuple[int, dict[str, Any], dict[str, str]]


class TooLarge(Exception):
    pass


def _pd_error(
    errors: list[str], status: int = 400, message: str = "Event object is invalid"
) -> Reply:
    return status, {"status": "invalid event", "message": message, "errors": errors}, {}


TOO_LARGE = _pd_error([f"request body is larger than {MAX_BODY} bytes"], 413, "Request too large")
BAD_SIGNATURE = "X-Warroom-Signature is missing or wrong"


def _decode(raw: bytes) -> tuple[Any, Reply | None]:
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            return None, _pd_error([f"'body' {text.DEPTH_MESSAGE}"])
        return None, _pd_error([f"request body is not valid JSON: {exc}"], 400, "Invalid JSON")


def _signed(secret: str | None, raw: bytes, signature: str | None) -> bool:
    """Whether the signature header passes the integration's check. A header that is not
    ASCII cannot be `sha256=<hex>`: it is wrong (401) where signatures are checked and
    ignored, like any header, where they are not."""
    if signature is not None and not signature.isascii():
        return not secret
    return integrations.verify_signature(secret, raw, signature)


def _limited(ing: Ingestor, ref: IntegrationRef, cost: int = 1) -> Reply | None:
    wait = ing.limiter.retry_after(ref, cost)
    if wait is None:
        return None
    body = {
        "status": "throttle event",
        "message": f"Requests for integration {ref.name!r} exceed {ref.rate_per_minute} per minute",
        "errors": ["rate limit exceeded"],
    }
    return 429, body, {"retry-after": str(wait)}


async def _lookup(ing: Ingestor, key: str) -> IntegrationRef | None:
    found, ref = ing.cached(key)
    if found:
        return ref
    return await anyio.to_thread.run_sync(ing.lookup, key)


async def pd_event(ing: Ingestor, raw: bytes, signature: str | None) -> Reply | bytes:
    """The reply, or the JSON body of a 202 as bytes."""
    body, err = _decode(raw)
    if err:
        return err
    try:
        key, event = parse_pagerduty(body)
    except InvalidEvent as exc:
        return _pd_error(exc.errors)
    found, ref = ing.cached(key)
    if not found:
        ref = await anyio.to_thread.run_sync(ing.lookup, key)
    if ref is None or ref.kind != "pagerduty":
        return _pd_error(["'routing_key' does not match a pagerduty integration"])
    if ref.hmac_secret and not _signed(ref.hmac_secret, raw, signature):
        return _pd_error([BAD_SIGNATURE], 401, "Signature check failed")
    if ref.rate_per_minute:
        limited = _limited(ing, ref)
        if limited:
            return limited
    await ing.submit(ref, [event], incident_refs=False)
    # The reply of every accepted event, assembled from bytes: the storm path's
    # commonest answer.
    return _PD_ACCEPTED + orjson.dumps(event.dedup_key) + b"}"


_PD_ACCEPTED = b'{"status":"success","message":"Event processed","dedup_key":'


async def pd_change(ing: Ingestor, raw: bytes, signature: str | None) -> Reply:
    body, err = _decode(raw)
    if err:
        return err
    try:
        key, change = parse_pagerduty_change(body)
    except InvalidEvent as exc:
        return _pd_error(exc.errors)
    ref = await _lookup(ing, key)
    if ref is None:
        return _pd_error(["'routing_key' does not match an integration"])
    if not _signed(ref.hmac_secret, raw, signature):
        return _pd_error([BAD_SIGNATURE], 401, "Signature check failed")
    limited = _limited(ing, ref)
    if limited:
        return limited
    await ing.submit(ref, change=change)
    return 202, {"status": "success", "message": "Change event processed"}, {}


async def webhook(ing: Ingestor, kind: str, key: str, raw: bytes, signature: str | None) -> Reply:
    if kind not in WEBHOOK_KINDS:
        body = {
            "error": f"unknown integration kind {kind!r}",
            "field": "kind",
            "allowed": list(WEBHOOK_KINDS),
        }
        return 404, body, {}
    if key_error(key, "key"):
        return 404, {"error": "unknown integration key", "field": "key"}, {}
    ref = await _lookup(ing, key)
    if ref is None or ref.kind != kind:
        return 404, {"error": f"unknown {kind} integration key", "field": "key"}, {}
    if not _signed(ref.hmac_secret, raw, signature):
        return 401, {"error": BAD_SIGNATURE, "field": "signature"}, {}
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
        return 400, {"error": exc.errors[0], "errors": exc.errors, "field": "body"}, {}
    beat = False
    if ref.heartbeat_alert is not None:
        events, beat = _split_heartbeat(events, ref.heartbeat_alert)
    limited = _limited(ing, ref, max(1, len(events)))
    if limited:
        return limited
    outcomes = await ing.submit(ref, events, heartbeat=beat) if events or beat else []
    results = [
        {"dedup_key": o.dedup_key, "action": o.action, "alert": o.alert_id, "incident": o.incident}
        for o in outcomes
    ]
    return (
        202,
        {"status": "success", "alerts": len(events), "truncated": truncated, "results": results},
        {},
    )


def _split_heartbeat(
    events: list[NormalizedEvent], alert: str
) -> tuple[list[NormalizedEvent], bool]:
    """The events other than the integration's heartbeat alert, and whether that alert was
    there still firing (a ping). Its resolution is dropped too: only its silence pages."""
    rest = [e for e in events if e.labels.get("alertname") != alert]
    if len(rest) == len(events):
        return events, False
    beat = any(e.action == "trigger" and e.labels.get("alertname") == alert for e in events)
    return rest, beat


def ingestor_for(app_state: Any) -> Ingestor:
    ing: Ingestor | None = getattr(app_state, "ingestor", None)
    if ing is None:
        ing = Ingestor(app_state.db, app_state.clock)
        app_state.ingestor = ing
    return ing


def intake_route(path: str) -> tuple[str, ...] | None:
    """The intake's route for a POST to `path`, or None when it is not an intake path."""
    if path in ("/v2/enqueue", "/v2/change/enqueue"):
        return (path,)
    if path.startswith("/integrations/") and path.count("/") == 3:
        _, _, kind, key = path.split("/")
        return ("webhook", kind, key)
    return None


async def serve_intake(
    app_state: Any, route: tuple[str, ...], scope: Scope, receive: Receive, send: Send
) -> None:
    """Answers one intake request (see `intake_route`)."""
    length = signature = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"x-warroom-signature":
            signature = value.decode("latin-1")
    try:
        raw = await _read(receive, length)
    except TooLarge:
        await _send(send, TOO_LARGE)
        return
    ing = ingestor_for(app_state)
    if route[0] == "/v2/enqueue":
        reply = await pd_event(ing, raw, signature)
        if isinstance(reply, bytes):
            await _send_json(send, 202, reply)
            return
    elif route[0] == "/v2/change/enqueue":
        reply = await pd_change(ing, raw, signature)
    else:
        reply = await webhook(ing, route[1], route[2], raw, signature)
    await _send(send, reply)


async def _read(receive: Receive, length: bytes | None) -> bytes:
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        if len(body) > MAX_BODY:
            raise TooLarge
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    return b"".join(chunks)


_JSON = (b"content-type", b"application/json")


async def _send_json(
    send: Send, status: int, payload: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(payload))]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send(send: Send, reply: Reply) -> None:
    status, body, extra = reply
    headers = [(k.encode(), v.encode()) for k, v in extra.items()]
    await _send_json(send, status, orjson.dumps(body), headers)


def _schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


OPENAPI_SCHEMAS: dict[str, Any] = {
    "PagerDutyEvent": {
        "type": "object",
        "required": ["routing_key", "event_action"],
        "properties": {
            "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
            "event_action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string", "maxLength": 255},
            "payload": {
                "type": "object",
                "required": ["summary", "source", "severity"],
                "properties": {
                    "summary": {"type": "string", "maxLength": 1024},
                    "source": {"type": "string"},
                    "severity": {
                        "type": "string",
                        "enum": ["critical", "error", "warning", "info"],
                    },
                    "timestamp": {"type": "string", "format": "date-time"},
                    "component": {"type": "string"},
                    "group": {"type": "string"},
                    "class": {"type": "string"},
                    "custom_details": {"type": "object"},
                },
            },
            "links": {"type": "array", "items": {"type": "object"}},
            "images": {"type": "array", "items": {"type": "object"}},
            "client": {"type": "string"},
            "client_url": {"type": "string"},
        },
    },
    "PagerDutyChangeEvent": {
        "type": "object",
        "required": ["routing_key", "payload"],
        "properties": {
            "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
            "payload": {
                "type": "object",
                "required": ["summary"],
                "properties": {
                    "summary": {"type": "string", "maxLength": 1024},
                    "source": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "custom_details": {
                        "type": "object",
                        "description": "change_type: deploy | config | feature_flag | other",
                    },
                },
            },
            "links": {"type": "array", "items": {"type": "object"}},
        },
    },
    "IntakeReply": {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "message": {"type": "string"},
            "dedup_key": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def _op(
    summary: str, body: dict[str, Any], params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    reply = {"application/json": {"schema": _schema_ref("IntakeReply")}}
    return {
        "post": {
            "tags": ["alert ingestion"],
            "summary": summary,
            "parameters": params or [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "202": {"description": "Accepted and durably stored", "content": reply},
                "400": {"description": "Invalid event (errors name the fields)", "content": reply},
                "401": {"description": "Signature check failed"},
                "404": {"description": "Unknown integration key or kind"},
                "413": {"description": "Body larger than WARROOM_MAX_ALERT_BODY"},
                "429": {"description": "Rate limit exceeded; see Retry-After"},
            },
        }
    }


OPENAPI_PATHS: dict[str, Any] = {
    "/v2/enqueue": _op(
        "PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
        _schema_ref("PagerDutyEvent"),
    ),
    "/v2/change/enqueue": _op(
        "PagerDuty change events: deploys, config changes, flag flips",
        _schema_ref("PagerDutyChangeEvent"),
    ),
    "/integrations/{kind}/{key}": _op(
        "Alertmanager (webhook payload v4), Grafana or generic JSON webhook",
        {"type": "object"},
        [
            {
                "name": "kind",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": list(WEBHOOK_KINDS)},
            },
            {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
    ),
}
