"""Request plumbing shared by the API routers: the store, the clock and the caller.

Knows no domain: the app factory puts the store, the clock and the function that turns
a bearer token into a Principal on `app.state`, so every router below it depends only
on this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
