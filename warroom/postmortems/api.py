"""REST routes for postmortems (`/api/v1/postmortems`) and action items
(`/api/v1/action-items`), and the blameless language check.

Invariants: every route finds the incident through `incidents.queries.get_incident`, so a
private incident's postmortem and action items are a 404 to those who may not see it;
role checks live in the service; bad input is a 4xx naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.incidents import queries as incident_queries
from warroom.postmortems import actions, export, queries, rules, service, similar, stars

router = APIRouter(prefix="/api/v1/postmortems", tags=["postmortems"])
items_router = APIRouter(prefix="/api/v1/action-items", tags=["action items"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LintIn(Strict):
    text: str = Field(max_length=service.MAX_TEXT)


class LintFinding(BaseModel):
    start: int
    end: int
    phrase: str
    rule: str
    suggestion: str


class LintOut(BaseModel):
    findings: list[LintFinding]


class PostmortemStartIn(Strict):
    incident: str = Field(min_length=1, max_length=20)


class WhyIn(Strict):
    why: str = Field(default="", max_length=service.MAX_REASON)
    because: str = Field(default="", max_length=service.MAX_REASON)


class PostmortemContentIn(Strict):
    title: str | None = Field(default=None, max_length=300)
    summary: str | None = Field(default=None, max_length=service.MAX_TEXT)
    impact: str | None = Field(default=None, max_length=service.MAX_TEXT)
    timeline: str | None = Field(default=None, max_length=service.MAX_TEXT)
    phases: str | None = Field(default=None, max_length=service.MAX_TEXT)
    whys: list[WhyIn] | None = Field(default=None, max_length=service.MAX_WHYS)
    root_cause: str | None = Field(default=None, max_length=service.MAX_TEXT)
    factors: list[str] | None = Field(default=None, max_length=len(rules.PATTERNS))
    factors_text: str | None = Field(default=None, max_length=service.MAX_TEXT)
    went_well: str | None = Field(default=None, max_length=service.MAX_TEXT)
    went_wrong: str | None = Field(default=None, max_length=service.MAX_TEXT)
    lucky: str | None = Field(default=None, max_length=service.MAX_TEXT)
    lessons: str | None = Field(default=None, max_length=service.MAX_TEXT)
    no_actions_reason: str | None = Field(default=None, max_length=service.MAX_TEXT)


class PostmortemPatchIn(Strict):
    content: PostmortemContentIn | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: datetime | None = None


class ReviewIn(Strict):
    verdict: Literal["approve", "request_changes", "comment"]
    comment: str = Field(default="", max_length=service.MAX_TEXT)


class FindingOverrideIn(Strict):
    key: str = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=service.MAX_REASON)


Priority = Literal["P0", "P1", "P2", "P3"]
Kind = Literal["prevent", "detect", "mitigate", "process", "runbook"]
ItemStatus = Literal["open", "in_progress", "done", "wont_do"]


class ActionItemIn(Strict):
    incident: str = Field(min_length=1, max_length=20)
    title: str = Field(min_length=1, max_length=actions.MAX_TITLE)
    description: str = Field(default="", max_length=actions.MAX_DESCRIPTION)
    owner: str | None = Field(default=None, max_length=100)
    due: str | None = Field(default=None, max_length=40, description="YYYY-MM-DD or ISO 8601")
    priority: Priority | None = None
    kind: Kind = "prevent"
    tracker_url: str = Field(default="", max_length=500)


class ActionItemPatchIn(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=actions.MAX_TITLE)
    description: str | None = Field(default=None, max_length=actions.MAX_DESCRIPTION)
    owner: str | None = Field(default=None, max_length=100)
    due: str | None = Field(default=None, max_length=40)
    priority: Priority | None = None
    kind: Kind | None = None
    status: ItemStatus | None = None
    reason: str | None = Field(default=None, max_length=actions.MAX_DESCRIPTION)
    tracker_url: str | None = Field(default=None, max_length=500)


@router.post("/lint", response_model=LintOut, summary="Check text for blaming language")
def lint(body: LintIn, request: Request, who: Principal = viewer) -> dict[str, Any]:
    """Findings (start and end offsets into `text`, the phrase, the rule and a systemic
    wording to use instead); people the store knows count as names."""
    with db(request).read() as s:
        people = service.names(s)
    return {"findings": [f.to_dict() for f in rules.lint(body.text, names=people)]}


@router.get("", summary="List postmortems")
def list_postmortems(
    request: Request,
    status: Literal["draft", "in_review", "published"] | None = None,
    overdue: bool = False,
    owner: str | None = Query(default=None, max_length=100),
    who: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return queries.list_postmortems(
            s, clock(request), who, status=status, overdue=overdue, owner=owner
        )


@router.post("", status_code=201, summary="Start a postmortem for a resolved incident")
def start(body: PostmortemStartIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, body.incident)
        pm = service.start(s, c, who, inc)
        return queries.detail(s, c, pm)


def _load(s: Any, who: Principal, incident_id: str) -> Any:
    return service.get(s, incident_queries.get_incident(s, who, incident_id))


@router.get("/{incident_id}", summary="Show a postmortem: state, content, findings, gate")
def show(incident_id: str, request: Request, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return queries.detail(s, clock(request), _load(s, who, incident_id))


@router.patch("/{incident_id}", summary="Edit sections, owner or due time")
def patch(
    incident_id: str, body: PostmortemPatchIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    changes = body.content.model_dump(exclude_unset=True) if body.content else {}
    changes = {k: v for k, v in changes.items() if v is not None}
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.edit(s, c, who, pm, changes, owner=body.owner, due_at=body.due_at)
        return queries.detail(s, c, pm)


@router.post("/{incident_id}/submit", summary="Send a draft to review")
def submit(incident_id: str, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.submit(s, c, who, pm)
        return queries.detail(s, c, pm)


@router.post("/{incident_id}/reviews", summary="Approve, ask for changes or comment")
def review(
    incident_id: str, body: ReviewIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.review(s, c, who, pm, body.verdict, body.comment)
        return queries.detail(s, c, pm)


@router.post("/{incident_id}/overrides", summary="Accept a blameless finding with a reason")
def override(
    incident_id: str, body: FindingOverrideIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.override(s, c, who, pm, body.key, body.reason)
        return queries.detail(s, c, pm)


@router.post("/{incident_id}/publish", summary="Publish (the review gate must pass)")
def publish(incident_id: str, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.publish(s, c, who, pm)
        return queries.detail(s, c, pm)


@router.post("/{incident_id}/reopen", summary="Reopen a published postmortem as a new revision")
def reopen(incident_id: str, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        pm = _load(s, who, incident_id)
        service.reopen(s, c, who, pm)
        return queries.detail(s, c, pm)


@router.get("/{incident_id}/similar", summary="Similar past incidents and their open items")
def similar_incidents(
    incident_id: str, request: Request, who: Principal = viewer
) -> dict[str, Any]:
    """Past incidents like this one (shared services, alert fingerprints, title and root
    cause words), with their postmortems and open action items; `repeats_open` says
    whether any of them still has open action items."""
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        found = similar.similar(s, who, inc)
    return {"similar": found, "repeats_open": any(x["open_action_items"] for x in found)}


class StarOut(BaseModel):
    event: int
    starred: bool


class StarRow(BaseModel):
    event: int
    by: str
    at: str


class StarsOut(BaseModel):
    stars: list[StarRow]


EVENT_ID = Path(ge=1, le=2**31 - 1, description="the timeline event's id")


@router.get(
    "/{incident_id}/stars",
    summary="Timeline events starred for the postmortem",
    response_model=StarsOut,
)
def list_stars(incident_id: str, request: Request, who: Principal = viewer) -> dict[str, Any]:
    """The incident's starred timeline events (works before a postmortem exists); the
    drafted postmortem timeline lists them first."""
    with db(request).read() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        return {"stars": stars.list_stars(s, inc.id)}


@router.put(
    "/{incident_id}/stars/{event_id}",
    summary="Star a timeline event for the postmortem",
    response_model=StarOut,
)
def star(
    incident_id: str, request: Request, event_id: int = EVENT_ID, who: Principal = responder
) -> dict[str, Any]:
    """Responders only; an event of another incident is a 404 naming `event`. Idempotent."""
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        return stars.set_star(s, clock(request), who, inc, event_id, True)


@router.delete(
    "/{incident_id}/stars/{event_id}",
    summary="Unstar a timeline event",
    response_model=StarOut,
)
def unstar(
    incident_id: str, request: Request, event_id: int = EVENT_ID, who: Principal = responder
) -> dict[str, Any]:
    """Responders only; idempotent."""
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        return stars.set_star(s, clock(request), who, inc, event_id, False)


@router.get("/{incident_id}/revisions/{number}", summary="A kept revision")
def show_revision(
    incident_id: str,
    number: int,
    request: Request,
    event: Literal["submitted", "published", "reopened"] | None = None,
    who: Principal = viewer,
) -> dict[str, Any]:
    with db(request).read() as s:
        pm = _load(s, who, incident_id)
        r = queries.revision(s, pm, number, event)
        return {
            "number": r.number,
            "event": r.event,
            "status": r.status,
            "content": r.content,
            "by": r.by,
            "at": r.at.isoformat().replace("+00:00", "Z"),
        }


@router.get(
    "/{incident_id}/export",
    summary="Export as Markdown or a printable HTML page",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def export_postmortem(
    incident_id: str,
    request: Request,
    format: Literal["markdown", "html"] = "markdown",
    who: Principal = viewer,
) -> Response:
    with db(request).read() as s:
        d = queries.detail(s, clock(request), _load(s, who, incident_id))
    if format == "html":
        return HTMLResponse(export.html_page(d))
    return PlainTextResponse(export.markdown(d), media_type="text/markdown; charset=utf-8")


# --- action items ----------------------------------------------------------------------


@items_router.get("", summary="List action items: mine, a team's, overdue")
def list_items(
    request: Request,
    owner: str | None = Query(default=None, max_length=100),
    team: str | None = Query(default=None, max_length=100),
    status: ItemStatus | None = None,
    overdue: bool = False,
    incident: str | None = Query(default=None, max_length=20),
    who: Principal = viewer,
) -> list[dict[str, Any]]:
    c = clock(request)
    with db(request).read() as s:
        incident_id = incident_queries.get_incident(s, who, incident).id if incident else None
        if owner == "me":
            owner = who.name
        return queries.list_items(
            s,
            c,
            who,
            owner=owner,
            team=team,
            status=status,
            overdue=overdue,
            incident_id=incident_id,
        )


@items_router.post("", status_code=201, summary="Create an action item for an incident")
def create_item(body: ActionItemIn, request: Request, who: Principal = responder) -> JSONResponse:
    c = clock(request)
    values = body.model_dump(exclude={"incident"}, exclude_none=True)
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, body.incident)
        item = actions.create(s, c, who, inc, values)
        return JSONResponse(queries.item_dict(s, item, c.now()), status_code=201)


def _item(s: Any, who: Principal, item_id: int) -> Any:
    item = actions.get(s, item_id)
    incident_queries.get_incident(s, who, item.incident_id)  # visibility: 404 if hidden
    return item


@items_router.get("/{item_id}", summary="Show an action item")
def show_item(item_id: int, request: Request, who: Principal = viewer) -> dict[str, Any]:
    c = clock(request)
    with db(request).read() as s:
        return queries.item_dict(s, _item(s, who, item_id), c.now())


@items_router.patch("/{item_id}", summary="Change an action item")
def patch_item(
    item_id: int, body: ActionItemPatchIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    values = body.model_dump(exclude_unset=True)
    with db(request).session() as s:
        item = _item(s, who, item_id)
        actions.change(s, c, who, item, values)
        return queries.item_dict(s, item, c.now())


@items_router.post("/{item_id}/done", summary="Mark an action item done")
def done_item(item_id: int, request: Request, who: Principal = responder) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        item = _item(s, who, item_id)
        actions.change(s, c, who, item, {"status": "done"})
        return queries.item_dict(s, item, c.now())
