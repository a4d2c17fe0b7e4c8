"""REST routes for users, teams, services and severities."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.org import service

router = APIRouter(prefix="/api/v1", tags=["organisation"])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    email: str
    full_name: str = ""
    timezone: str = "UTC"
    role: Literal["viewer", "responder", "admin"] = "responder"
    password: str | None = None


@router.get("/users", summary="List users")
def list_users(request: Request, _: Principal = Depends(needs("viewer"))) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [service.user_dict(u) for u in service.list_users(s)]


@router.post("/users", status_code=201, summary="Create a user")
def create_user(
    body: UserIn, request: Request, _: Principal = Depends(needs("admin"))
) -> dict[str, Any]:
    with db(request).session() as s:
        user = service.create_user(s, clock(request), **body.model_dump(exclude={"password"}))
        if body.password:
            service.set_password(s, user, body.password)
        return service.user_dict(user)


@router.get("/teams", summary="List teams and their members")
def list_teams(request: Request, who: Principal = Depends(needs("viewer"))) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return service.teams_for(s, who)


@router.get("/services", summary="List services")
def list_services(
    request: Request, _: Principal = Depends(needs("viewer"))
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [v.to_dict() for v in service.list_services(s)]


@router.get("/services/{name}", summary="Show a service, its owner, dependencies, runbooks")
def show_service(
    name: str, request: Request, _: Principal = Depends(needs("viewer"))
) -> dict[str, Any]:
    with db(request).read() as s:
        return service.get_service(s, name).to_dict()


@router.get("/severities", summary="Severity levels and their response targets")
def list_severities(
    request: Request, _: Principal = Depends(needs("viewer"))
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [service.severity_dict(v) for v in service.severities(s)]
