"""Paging routes: escalation policies, pages (escalations) and their notifications,
paging people during an incident, and each person's contact methods."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from warroom.core.errors import Conflict
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.incidents import queries as incident_queries
from warroom.incidents.rules import short_id
from warroom.notify import channels
from warroom.paging import contacts, policies, queries, rules
from warroom.paging import service as paging

router = APIRouter(prefix="/api/v1", tags=["paging"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))

UserName = Annotated[str, Field(min_length=1, max_length=254)]
PageId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the page (escalation) id")]


# --- escalation policies ----------------------------------------------------------------


@router.get("/escalation-policies", summary="Escalation policies with their levels and services")
def list_policies(request: Request, _: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [policies.policy_dict(s, p) for p in policies.list_policies(s)]


@router.get("/escalation-policies/{name}", summary="One escalation policy")
def show_policy(request: Request, name: str, _: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return policies.policy_dict(s, policies.get_policy(s, name))


# --- pages ------------------------------------------------------------------------------


@router.get("/pages", summary="Pages (escalations), newest first")
def list_pages(
    request: Request,
    state: Literal["active", "triggered", "acknowledged", "exhausted", "resolved"] | None = None,
    incident: str | None = Query(default=None, max_length=40, description="INC-42 or 42"),
    user: str | None = Query(default=None, max_length=254, description="pages that notified"),
    limit: int = Query(default=100, ge=1, le=500),
    who: Principal = viewer,
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return queries.list_for(s, who, state=state, incident=incident, user=user, limit=limit)


@router.get("/pages/{page_id}", summary="One page with its notifications and every attempt")
def show_page(request: Request, page_id: PageId, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        esc = queries.get_visible(s, who, page_id)
        return queries.escalation_dict(s, esc, with_notifications=True)


def _act(request: Request, page_id: int, who: Principal, action: str) -> dict[str, Any]:
    with db(request).session() as s:
        esc = queries.get_visible(s, who, page_id)
        paging.act(s, clock(request), who, esc, action)
        s.flush()
        return queries.escalation_dict(s, esc, with_notifications=True)


@router.post(
    "/pages/{page_id}/ack",
    summary="Acknowledge what was paged (the incident or alert); paging stops",
)
def ack_page(request: Request, page_id: PageId, who: Principal = responder) -> dict[str, Any]:
    return _act(request, page_id, who, "ack")


@router.post(
    "/pages/{page_id}/resolve",
    summary="Resolve what was paged (the incident or alert); paging ends",
)
def resolve_page(request: Request, page_id: PageId, who: Principal = responder) -> dict[str, Any]:
    return _act(request, page_id, who, "resolve")


class PageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str | None = Field(default=None, min_length=1, max_length=100)
    users: list[UserName] | None = Field(default=None, min_length=1, max_length=50)
    timeout_minutes: int = Field(default=5, ge=1, le=rules.MAX_TIMEOUT_MINUTES)


@router.post(
    "/incidents/{incident_id}/page",
    status_code=201,
    summary="Page an escalation policy or named people for an incident",
)
def page_incident(
    incident_id: str, body: PageIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    c = clock(request)
    with db(request).session() as s:
        inc = incident_queries.get_incident(s, who, incident_id)
        if inc.status in ("resolved", "closed"):
            raise Conflict(
                f"{short_id(inc.id)} is {inc.status}; reopen it to page anyone",
                field="incident_id",
            )
        esc = paging.page_directly(
            s,
            c,
            who,
            inc.id,
            inc.title,
            policy=body.policy,
            users=body.users,
            timeout_minutes=body.timeout_minutes,
        )
        return queries.escalation_dict(s, esc)


# --- contact methods --------------------------------------------------------------------


class ContactMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["email", "webhook", "apprise"]
    address: str = Field(min_length=1, max_length=1000)
    # Omitted: keep the method's current secret; "": no secret (an unsigned webhook).
    secret: str | None = Field(default=None, max_length=200)


class NotificationRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str = Field(min_length=1, max_length=64)
    after_minutes: int = Field(default=0, ge=0, le=rules.MAX_DELAY_MINUTES)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_methods: list[ContactMethodIn] = Field(default=[], max_length=20)
    notification_rules: list[NotificationRuleIn] = Field(default=[], max_length=50)


@router.get(
    "/users/{name}/contact",
    summary="A user's contact methods and notification rules (your own, or anyone's as admin)",
)
def show_contact(request: Request, name: str, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        user = queries.contact_owner(s, who, name, "read")
        # Secrets (webhook HMAC keys) are shown to their owner only.
        return contacts.contact_dict(s, user, show_secrets=user.id == who.user_id)


@router.put(
    "/users/{name}/contact",
    summary="Replace a user's contact methods and notification rules",
)
def set_contact(
    request: Request, name: str, body: ContactIn, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        user = queries.contact_owner(s, who, name, "change")
        methods = queries.keep_secrets(s, user, [m.model_dump() for m in body.contact_methods])
        contacts.set_contact(s, user, methods, [r.model_dump() for r in body.notification_rules])
        return contacts.contact_dict(s, user, show_secrets=user.id == who.user_id)


class ContactTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str = Field(min_length=1, max_length=64)


@router.post(
    "/users/{name}/contact/test",
    summary="Send a test notification now through one contact method",
    responses={
        429: {"description": "more than 5 tests a minute; see Retry-After"},
        502: {"description": "the channel refused or could not be reached (a generic outcome)"},
    },
)
def test_contact(
    request: Request, name: str, body: ContactTestIn, who: Principal = responder
) -> Any:
    with db(request).read() as s:
        user = queries.contact_owner(s, who, name, "test")
        ch = queries.contact_channel(s, user, body.method)
    wait = _test_limiter(request).retry_after(f"{who.user_id}:{who.name}", clock(request).now())
    if wait is not None:
        return JSONResponse(
            {
                "error": f"at most {contacts.TESTS_PER_MINUTE} contact tests a minute; "
                f"try again in {wait} s",
                "field": "method",
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    try:
        return queries.send_test(clock(request), ch)
    except channels.DeliveryFailed as exc:
        # Only the generic outcome: the channel's own message would tell what answered.
        return JSONResponse(
            {
                "error": exc.public,
                "field": "method",
                "user": ch.user,
                "method": ch.method,
                "kind": ch.kind,
                "ok": False,
                "outcome": exc.public,
            },
            status_code=502,
        )


def _test_limiter(request: Request) -> contacts.ContactTestLimiter:
    """The app's contact test limiter (one per app, made on first use)."""
    state = request.app.state
    limiter: contacts.ContactTestLimiter | None = getattr(state, "contact_test_limiter", None)
    if limiter is None:
        limiter = state.contact_test_limiter = contacts.ContactTestLimiter()
    return limiter
