"""Triage routes: `GET /api/v1/triage/suggest` (viewer): the severity and who to page for
the answers to the triage questions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from warroom.core.principal import Principal
from warroom.http import db, needs
from warroom.triage import service

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])
viewer = Depends(needs("viewer"))


class TriagePageOut(BaseModel):
    audience: str
    label: str
    escalation_policy: str | None = None
    users: list[str] | None = None
    missing: str | None = None


class TriageSuggestionOut(BaseModel):
    severity: str
    page: list[TriagePageOut]
    why: str
    answers: dict[str, str | None]
    nudge: str
    service: str | None = None
    dependents: list[str] | None = None


@router.get("/suggest", response_model=TriageSuggestionOut, summary="Suggest severity and pages")
def suggest(
    request: Request,
    impact: Literal["complete_loss", "degraded", "inconvenience"] | None = Query(None),
    scope: Literal["widespread", "limited", "minimal"] | None = Query(None),
    blast_radius: Literal[
        "single_user",
        "single_feature",
        "single_region",
        "core_workflow",
        "all_users",
        "data_integrity",
        "security_breach",
    ]
    | None = Query(None),
    service_name: str | None = Query(None, alias="service", min_length=1, max_length=100),
    who: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        return service.suggest(
            s,
            who,
            impact=impact,
            scope=scope,
            blast_radius=blast_radius,
            service=service_name,
        )
