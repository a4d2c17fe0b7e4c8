"""REST routes for API tokens."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from warroom.auth import service
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.org.service import user_by_name

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["viewer", "responder", "admin"]
    user: str | None = None
    name: str = ""


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(
    body: TokenIn, request: Request, _: Principal = Depends(needs("admin"))
) -> dict[str, Any]:
    with db(request).session() as s:
        user = user_by_name(s, body.user) if body.user else None
        token = service.create_token(s, clock(request), role=body.role, user=user, name=body.name)
        return {"token": token, "role": body.role, "user": user.name if user else None}


@router.get("/me", summary="Who the token belongs to")
def me(who: Principal = Depends(needs("viewer"))) -> dict[str, Any]:
    return {"name": who.name, "role": who.role, "user_id": who.user_id}
