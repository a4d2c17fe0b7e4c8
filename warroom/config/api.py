"""REST routes for config as code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from warroom.auth import accounts
from warroom.config import service
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.oncall import config as oncall_config

router = APIRouter(prefix="/api/v1/config", tags=["config"])


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any]
    dry_run: bool = False


@router.post("/apply", summary="Validate, plan and (unless dry_run) apply a config document")
def apply(
    body: ApplyIn, request: Request, who: Principal = Depends(needs("admin"))
) -> dict[str, Any]:
    with db(request).session() as s:
        changes = service.apply(s, clock(request), body.config, dry_run=body.dry_run)
        warnings = oncall_config.warnings(clock(request), service.parse(body.config))
        if not body.dry_run:
            # What changed, never the secrets (integration keys) some changes carry.
            summary = [
                {k: v for k, v in c.to_dict().items() if k not in ("key", "secret")}
                for c in changes
            ]
            accounts.audit(s, clock(request), who, "config.applied", "", changes=summary[:500])
        return {
            "applied": not body.dry_run,
            "changes": [c.to_dict() for c in changes],
            "warnings": warnings,
        }


@router.get("/export", summary="The live config as YAML that apply accepts unchanged")
def export(request: Request, _: Principal = Depends(needs("admin"))) -> PlainTextResponse:
    with db(request).read() as s:
        return PlainTextResponse(service.export_yaml(s), media_type="application/yaml")
