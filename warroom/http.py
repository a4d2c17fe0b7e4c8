"""Request plumbing shared by the API routers: the store, the clock, the caller, and
the guard that bounds request bodies and checks API tokens before a body is read.

Knows no domain: the app factory puts the store, the clock and the function that turns
a bearer token into a Principal on `app.state`, so every router below it depends only
on this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import orjson
from fastapi import Request

from warroom.core.clock import Clock
from warroom.core.errors import Forbidden, Unauthorized
from warroom.core.principal import Principal
from warroom.db.session import Database


def db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def clock(request: Request) -> Clock:
    c: Clock = request.app.state.clock
    return c


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    return token.strip()


def caller(request: Request) -> Principal:
    """The principal of the request's bearer token (401 without a valid one)."""
    token = bearer(request)
    resolve: Callable[[Any, str], Principal] = request.app.state.principal_for_token
    with db(request).read() as s:
        return resolve(s, token)


def needs(role: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = caller(request)
        if not principal.can(role):
            raise Forbidden(f"this action needs the {role} role; the token has {principal.role}")
        return principal

    return dependency


MAX_BODY = 1 << 20  # 1 MiB: every JSON request and web form
MAX_CONFIG_BODY = 8 << 20  # 8 MiB: a config-as-code document of a large organisation
_WRITES = (b"POST", b"PUT", b"PATCH", b"DELETE")


def body_limit(path: str) -> int:
    """The largest request body accepted on `path`, in bytes (the alert intake has its
    own limit, WARROOM_MAX_ALERT_BODY, and never reaches this)."""
    return MAX_CONFIG_BODY if path == "/api/v1/config/apply" else MAX_BODY


class RequestGuard:
    """ASGI middleware in front of every route but the alert intake.

    Invariants:
    - A request body over `body_limit` is answered 413 before it is read when its
      Content-Length says so, and as soon as it grows past the limit otherwise.
    - A write to the API (`/api/...`, POST/PUT/PATCH/DELETE) is answered 401 before its
      body is read unless its bearer token is valid, so that an anonymous caller cannot
      make the server read, buffer or parse anything.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = body_limit(path)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"request body is larger than {limit} bytes")
            return
        if path.startswith("/api/") and scope["method"].encode() in _WRITES:
            problem = await _auth_problem(scope)
            if problem is not None:
                await _answer(send, 401, problem, {"www-authenticate": "Bearer"})
                return
        seen = 0
        started = refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    # Answered here, whatever the route makes of the missing rest.
                    refused = True
                    await _answer(send, 413, f"request body is larger than {limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Any) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except Exception:
            if not refused:
                raise


async def _auth_problem(scope: Any) -> str | None:
    header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "missing bearer token (Authorization: Bearer <token>)"
    state = scope["app"].state

    def check() -> str | None:
        try:
            with state.db.read() as s:
                state.principal_for_token(s, token.strip())
        except Unauthorized as exc:
            return exc.message
        return None

    result: str | None = await anyio.to_thread.run_sync(check)
    return result


async def _answer(
    send: Any, status: int, error: str, headers: dict[str, str] | None = None
) -> None:
    body = orjson.dumps({"error": error})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
