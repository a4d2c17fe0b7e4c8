"""Request plumbing shared by the API routers: store, clock, caller."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from warroom.auth.service import principal_for_token
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
    token = bearer(request)
    with db(request).read() as s:
        return principal_for_token(s, token)


def needs(role: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = caller(request)
        if not principal.can(role):
            raise Forbidden(f"this action needs the {role} role; the token has {principal.role}")
        return principal

    return dependency
