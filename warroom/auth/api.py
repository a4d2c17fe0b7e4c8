"""REST routes for API tokens, accounts (activation, passwords, reset links) and the
audit log. Role checks are in `warroom.auth.accounts`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from warroom import settings
from warroom.auth import accounts, service
from warroom.core.clock import iso
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.org.service import user_by_name, user_dict

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["viewer", "responder", "admin"]
    user: str | None = None
    name: str = ""


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(
    body: TokenIn, request: Request, who: Principal = Depends(needs("admin"))
) -> dict[str, Any]:
    with db(request).session() as s:
        user = user_by_name(s, body.user) if body.user else None
        token = service.create_token(s, clock(request), role=body.role, user=user, name=body.name)
        accounts.audit(
            s,
            clock(request),
            who,
            "token.created",
            user.name if user else body.name,
            role=body.role,
        )
        return {"token": token, "role": body.role, "user": user.name if user else None}


@router.get("/me", summary="Who the token belongs to")
def me(who: Principal = Depends(needs("viewer"))) -> dict[str, Any]:
    return {"name": who.name, "role": who.role, "user_id": who.user_id}


@router.get("/tokens", summary="List API tokens (admins: all; others: their own)")
def list_tokens(
    request: Request,
    user: str | None = None,
    revoked: bool = False,
    who: Principal = Depends(needs("viewer")),
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return accounts.list_tokens(s, who, user=user, revoked=revoked)


@router.delete("/tokens/{token_id}", summary="Revoke an API token (admins: any; others: own)")
def revoke_token(
    token_id: int, request: Request, who: Principal = Depends(needs("viewer"))
) -> dict[str, Any]:
    with db(request).session() as s:
        return accounts.revoke_token(s, clock(request), who, token_id)


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


@router.post("/users/{name}/active", summary="Deactivate or reactivate a user (admin)")
def set_active(
    name: str, body: ActiveIn, request: Request, who: Principal = Depends(needs("viewer"))
) -> dict[str, Any]:
    with db(request).session() as s:
        user = accounts.set_active(s, clock(request), who, name, body.active)
        return user_dict(user)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str


@router.post(
    "/users/{name}/password",
    status_code=204,
    summary="Set a password (admins: anyone's; others: their own); ends the user's web sessions",
)
def set_password(
    name: str, body: PasswordIn, request: Request, who: Principal = Depends(needs("viewer"))
) -> None:
    with db(request).session() as s:
        accounts.change_password(s, clock(request), who, name, body.password)


@router.post(
    "/users/{name}/reset-link",
    status_code=201,
    summary="Make a one-time link with which the user sets a password (admin; shown once)",
)
def reset_link(
    name: str, request: Request, who: Principal = Depends(needs("viewer"))
) -> dict[str, Any]:
    with db(request).session() as s:
        secret, expires = accounts.make_reset_link(s, clock(request), who, name)
        return {
            "url": settings.public_url(str(request.base_url)) + f"/password/reset/{secret}",
            "expires_at": iso(expires),
        }


@router.get("/audit", summary="The audit log of admin and security actions, newest first (admin)")
def audit_log(
    request: Request,
    limit: int = 100,
    action: str | None = None,
    before: int | None = None,
    who: Principal = Depends(needs("viewer")),
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return accounts.list_audit(s, who, limit=limit, action=action, before_id=before)
