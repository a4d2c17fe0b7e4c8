"""Status page administration under /api/v1/status (admin and responder tokens).

A component is named in the path by its name or its id (public code); the name is the
rest of the path, so a name with `/` in it (`EU/West`) works as it is or encoded (`%2F`).
Role checks and visibility rules live in the service modules this calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.statuspage import components, incidents, maintenance, page, subscriptions

router = APIRouter(prefix="/api/v1/status", tags=["status page"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))
admin = Depends(needs("admin"))

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentIn(Model):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    group: str | None = None
    is_group: bool = False
    service: str | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)
    status: ComponentStatus = "operational"
    only_show_if_degraded: bool = False
    showcase: bool = True


class ComponentPatch(Model):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    group: str | None = None
    service: str | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)
    status: ComponentStatus | None = None
    only_show_if_degraded: bool | None = None
    showcase: bool | None = None


class StatusIn(Model):
    status: ComponentStatus


class PublishIn(Model):
    incident: str = Field(min_length=1, max_length=40, description="INC-42 or 42")
    body: str = Field(min_length=1, max_length=20_000)
    name: str | None = Field(default=None, max_length=200)
    status: Literal["investigating", "identified", "monitoring"] = "investigating"
    impact: Literal["none", "minor", "major", "critical"] | None = None
    components: dict[str, ComponentStatus] = {}


class UpdateIn(Model):
    status: Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
    body: str = Field(min_length=1, max_length=20_000)
    impact: Literal["none", "minor", "major", "critical"] | None = None
    components: dict[str, ComponentStatus] | None = None


class ResolveIn(Model):
    body: str = Field(default="This incident has been resolved.", min_length=1, max_length=20_000)
    components: dict[str, ComponentStatus] | None = None


class MaintenanceIn(Model):
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    scheduled_for: datetime
    scheduled_until: datetime
    components: list[str] = []
    auto_transition: bool = True


class MaintenanceUpdateIn(Model):
    status: Literal["scheduled", "in_progress", "verifying", "completed"]
    body: str = Field(default="", max_length=20_000)


class PageIn(Model):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=500)


def _fresh(request: Request) -> None:
    from warroom.statuspage.public import cache_for

    cache_for(request.app).invalidate()


# --- page -------------------------------------------------------------------------------


@router.get("/page", summary="The status page's name, URL and version")
def get_page(request: Request, _: Principal = viewer) -> dict[str, Any]:
    with db(request).session() as s:
        row = page.page(s, clock(request))
        return page.page_dict(row)


@router.patch("/page", summary="Rename the status page or set its public URL")
def patch_page(body: PageIn, request: Request, who: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        row = page.update_page(s, clock(request), who, name=body.name, url=body.url)
        out = page.page_dict(row)
    _fresh(request)
    return out


# --- components -------------------------------------------------------------------------


@router.get("/components", summary="Components and groups, in page order")
def list_components(request: Request, _: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [components.component_dict(s, c) for c in components.list_components(s)]


@router.post("/components", status_code=201, summary="Add a component or a group")
def create_component(body: ComponentIn, request: Request, who: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        row = components.create_component(s, clock(request), who, **body.model_dump())
        out = components.component_dict(s, row)
    _fresh(request)
    return out


@router.patch("/components/{name:path}", summary="Change a component (its name or id)")
def patch_component(
    name: str, body: ComponentPatch, request: Request, who: Principal = admin
) -> dict[str, Any]:
    with db(request).session() as s:
        row = components.update_component(
            s, clock(request), who, name, body.model_dump(exclude_unset=True)
        )
        out = components.component_dict(s, row)
    _fresh(request)
    return out


@router.delete(
    "/components/{name:path}", status_code=204, summary="Remove a component (its name or id)"
)
def delete_component(name: str, request: Request, who: Principal = admin) -> None:
    with db(request).session() as s:
        components.delete_component(s, clock(request), who, name)
    _fresh(request)


@router.post(
    "/components/{name:path}/status", summary="Set a component's status (recorded; name or id)"
)
def set_status(
    name: str, body: StatusIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        row = components.set_component_status(s, clock(request), who, name, body.status)
        out = components.component_dict(s, row)
    _fresh(request)
    return out


# --- public incidents -------------------------------------------------------------------


@router.get("/incidents", summary="Public incidents, newest first")
def list_incidents(request: Request, who: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [incidents.public_dict(s, p, who) for p in incidents.list_public(s, "incident")]


@router.get("/incidents/{code}", summary="One public incident (its code or INC-n)")
def get_incident(code: str, request: Request, who: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return incidents.public_dict(s, incidents.public_incident(s, code, principal=who), who)


@router.post(
    "/incidents",
    status_code=201,
    summary="Publish an internal incident on the status page (refused for private ones)",
)
def publish(body: PublishIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        pub = incidents.publish(s, clock(request), who, **body.model_dump())
        out = incidents.public_dict(s, pub, who)
    _fresh(request)
    return out


@router.post("/incidents/{code}/updates", status_code=201, summary="Post a public update")
def post_update(
    code: str, body: UpdateIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        incidents.post_update(s, clock(request), who, code, **body.model_dump())
        out = incidents.public_dict(s, incidents.public_incident(s, code), who)
    _fresh(request)
    return out


@router.post("/incidents/{code}/resolve", summary="Resolve a public incident")
def resolve(
    code: str, body: ResolveIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        incidents.post_update(s, clock(request), who, code, status="resolved", **body.model_dump())
        out = incidents.public_dict(s, incidents.public_incident(s, code), who)
    _fresh(request)
    return out


# --- maintenance ------------------------------------------------------------------------


@router.get("/maintenances", summary="Scheduled maintenance, newest first")
def list_maintenances(request: Request, who: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [incidents.public_dict(s, p, who) for p in incidents.list_public(s, "maintenance")]


@router.post("/maintenances", status_code=201, summary="Schedule maintenance")
def schedule(body: MaintenanceIn, request: Request, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        pub = maintenance.schedule_maintenance(s, clock(request), who, **body.model_dump())
        out = incidents.public_dict(s, pub, who)
    _fresh(request)
    return out


@router.post("/maintenances/{code}/updates", status_code=201, summary="Move maintenance on")
def maintenance_update(
    code: str, body: MaintenanceUpdateIn, request: Request, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        maintenance.maintenance_update(s, clock(request), who, code, **body.model_dump())
        pub = incidents.public_incident(s, code, kind="maintenance")
        out = incidents.public_dict(s, pub, who)
    _fresh(request)
    return out


# --- subscribers ------------------------------------------------------------------------


class SubscriberIn(Model):
    kind: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=500)


@router.get("/subscribers", summary="Subscribers (admin)")
def subscribers(request: Request, who: Principal = admin) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return subscriptions.list_subscribers(s, who)


@router.post("/subscribers", status_code=201, summary="Add a subscriber (email needs opt-in)")
def add_subscriber(body: SubscriberIn, request: Request, who: Principal = admin) -> dict[str, Any]:
    with db(request).session() as s:
        sub = subscriptions.subscribe(s, clock(request), kind=body.kind, address=body.address)
        return {"id": sub.id, "kind": sub.kind, "address": sub.address}
