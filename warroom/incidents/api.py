"""REST routes for incidents under /api/v1/incidents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.incidents import queries, service, timeline
from warroom.incidents.rules import MAX_ID
from warroom.incidents.schemas import (
    DeclareIn,
    EventIn,
    IncidentPage,
    IncidentPatch,
    MilestoneIn,
    ParticipantIn,
    RepeatIn,
    ResolveIn,
    RoleIn,
    SeverityIn,
    StatusIn,
)

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))


@router.post("", status_code=201, summary="Declare an incident")
def declare(body: DeclareIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = service.declare(s, c, who, **body.model_dump())
        return queries.detail(s, c, inc)


@router.get("", response_model=IncidentPage, summary="List incidents, newest first")
def list_incidents(
    request: Request,
    status: str | None = None,
    severity: str | None = None,
    q: str | None = Query(default=None, description="case-insensitive title search"),
    active: bool | None = Query(default=None, description="only open incidents"),
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    who: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        items, nxt = queries.list_incidents(
            s, who, status=status, severity=severity, q=q, active=active, cursor=cursor, limit=limit
        )
        return {"items": items, "next_cursor": nxt}


@router.get("/counts", summary="Incident counts by status (visible incidents only)")
def counts(request: Request, who: Principal = viewer) -> dict[str, int]:
    with db(request).read() as s:
        return queries.count_incidents(s, who)


@router.get("/{incident_id}", summary="Show one incident with roles and timeline")
def show(incident_id: str, request: Request, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return queries.detail(s, clock(request), queries.get_incident(s, who, incident_id))


@router.patch("/{incident_id}", summary="Edit title, impact, services, flags")
def patch(
    incident_id: str, body: IncidentPatch, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.update_fields(s, c, who, inc, body.changes())
        return queries.detail(s, c, inc)


@router.get("/{incident_id}/events", summary="Timeline events, optionally after an event id")
def events(
    incident_id: str,
    request: Request,
    after: int = Query(default=0, ge=0, le=MAX_ID),
    who: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        inc = queries.get_incident(s, who, incident_id)
        return [timeline.event_dict(e) for e in timeline.timeline(s, inc.id, after)]


@router.post("/{incident_id}/events", status_code=201, summary="Log a note, decision or action")
def log_event(
    incident_id: str, body: EventIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        ev = service.log_event(
            s, c, who, inc, kind=body.kind, text=body.text, role=body.role, corrects=body.corrects
        )
        return timeline.event_dict(ev)


@router.post("/{incident_id}/roles", summary="Assign a role")
def assign_role(
    incident_id: str, body: RoleIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.assign_role(s, c, who, inc, role=body.role, user_name=body.user)
        return queries.detail(s, c, inc, with_timeline=False)


@router.delete("/{incident_id}/roles/{role}", summary="Release a role")
def release_role(
    incident_id: str,
    role: str,
    request: Request,
    user: str | None = None,
    who: Principal = responder,
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.unassign_role(s, c, who, inc, role=role, user_name=user)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/status", summary="Change status")
def change_status(
    incident_id: str, body: StatusIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.change_status(s, c, who, inc, status=body.status, note=body.note)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/severity", summary="Escalate or downgrade (downgrade needs a reason)")
def change_severity(
    incident_id: str, body: SeverityIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.change_severity(s, c, who, inc, severity=body.severity, reason=body.reason)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/resolve", summary="Resolve")
def resolve(
    incident_id: str, body: ResolveIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.resolve(s, c, who, inc, summary=body.summary)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/ack", summary="Acknowledge")
def acknowledge(incident_id: str, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.acknowledge(s, c, who, inc)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/milestones", summary="Set or correct a milestone time")
def milestone(
    incident_id: str, body: MilestoneIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.edit_milestone(s, c, who, inc, name=body.milestone, at=body.at)
        return queries.detail(s, c, inc, with_timeline=False)


@router.patch(
    "/{incident_id}/repeat",
    summary="Mark as a repeat of an earlier incident, or clear the mark",
    responses={422: {"description": "`of` is the incident itself or a later one, or malformed"}},
)
def repeat(
    incident_id: str, body: RepeatIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        of = None
        if body.of is not None:
            try:
                of = queries.get_incident(s, who, body.of)
            except (NotFound, ValidationFailed) as exc:
                exc.field = "of"
                raise
        service.mark_repeat(s, c, who, inc, of=of)
        return queries.detail(s, c, inc, with_timeline=False)


@router.post("/{incident_id}/participants", summary="Let a user see a private incident")
def participant(
    incident_id: str, body: ParticipantIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = queries.get_incident(s, who, incident_id)
        service.add_participant(s, who, inc, user_name=body.user)
        return queries.detail(s, c, inc, with_timeline=False)
