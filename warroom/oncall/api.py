"""On-call routes: who is on call now / at T / over a range, overrides, calendar feeds,
and the compensation report (handoff notes and on-call health: warroom.shifts.api)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from warroom import settings
from warroom.core.clock import iso
from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal
from warroom.http import clock, db, needs
from warroom.oncall import ical, rules, service
from warroom.org.models import User
from warroom.org.service import user_by_name

router = APIRouter(prefix="/api/v1", tags=["on-call"])
feed_router = APIRouter(tags=["on-call"])
viewer = Depends(needs("viewer"))
responder = Depends(needs("responder"))

FEED_PAST = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)


def _now(request: Request) -> datetime:
    return clock(request).now()


@router.get("/oncall", summary="Who is on call now (or at `at`), for every schedule or one")
def oncall_now(
    request: Request,
    at: str | None = None,
    schedule: str | None = None,
    _: Principal = viewer,
) -> dict[str, Any]:
    t = service.parse_instant(at, _now(request), "at")
    with db(request).read() as s:
        return {"at": iso(t), "oncall": service.on_call_now(s, t, schedule)}


@router.get("/oncall/report", summary="Hours on call per person and period, with pay")
def oncall_report(
    request: Request,
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
    period: str = "month",
    format: str = "json",
    _: Principal = viewer,
) -> Any:
    now = _now(request)
    t1 = service.parse_instant(end, now, "to")
    t0 = service.parse_instant(
        start, rules.period_start(t1 - timedelta(seconds=1), "month"), "from"
    )
    with db(request).read() as s:
        rows = service.report(s, t0, t1, period)
    if format == "csv":
        return Response(report_csv(rows), media_type="text/csv")
    if format != "json":
        raise ValidationFailed("format must be json or csv", field="format")
    return {"from": iso(t0), "to": iso(t1), "period": period, "rows": rows}


def report_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "period",
            "user",
            "timezone",
            "weekday_hours",
            "off_hours_hours",
            "weekend_hours",
            "total_hours",
            "currency",
            "amount",
        ]
    )
    for r in rows:
        amounts = r["amounts"] or {"": 0.0}
        for currency, amount in amounts.items():
            w.writerow(
                [
                    r["period"],
                    r["user"],
                    r["timezone"],
                    r["weekday_hours"],
                    r["off_hours_hours"],
                    r["weekend_hours"],
                    r["total_hours"],
                    currency,
                    f"{amount:.2f}",
                ]
            )
    return buf.getvalue()


@router.post("/oncall/feed", summary="A new secret calendar URL for your (or a user's) shifts")
def user_feed(
    request: Request, user: str | None = None, who: Principal = responder
) -> dict[str, Any]:
    with db(request).session() as s:
        if user is None:
            if who.user_id is None:
                raise ValidationFailed("this token acts for no user; name one with ?user=")
            person = s.get(User, who.user_id)
            assert person is not None
        else:
            person = user_by_name(s, user)
        token = service.issue_feed_token(s, clock(request), who, user=person)
    return _feed_body(request, token, person.name)


def _feed_body(request: Request, token: str, name: str) -> dict[str, Any]:
    path = f"/oncall/feeds/{token}.ics"
    base = settings.public_url(str(request.base_url))
    return {"for": name, "url": base + path, "path": path, "token": token}


@router.get("/schedules", summary="Schedules with their layers and warnings")
def schedules(request: Request, _: Principal = viewer) -> list[dict[str, Any]]:
    with db(request).read() as s:
        return [service.schedule_dict(s, x, _now(request)) for x in service.list_schedules(s)]


@router.get("/schedules/{name}", summary="One schedule with its layers and warnings")
def schedule(request: Request, name: str, _: Principal = viewer) -> dict[str, Any]:
    with db(request).read() as s:
        return service.schedule_dict(s, service.get_schedule(s, name), _now(request))


@router.get(
    "/schedules/{name}/shifts",
    summary="Shifts over a range: each layer's spans and the final view with its gaps",
)
def shifts(
    request: Request,
    name: str,
    start: str | None = None,
    end: str | None = None,
    days: int = Query(default=service.PAGE_DAYS, ge=1, le=400),
    _: Principal = viewer,
) -> dict[str, Any]:
    t0 = service.parse_instant(start, _now(request), "start")
    t1 = service.parse_instant(end, t0 + timedelta(days=days), "end")
    with db(request).read() as s:
        row = service.get_schedule(s, name)
        service.check_range(t0, t1)
        model = service.model(s, row, t0, t1)
        return service.timeline_dict(rules.shifts_between(model, t0, t1), model)


@router.get("/schedules/{name}/oncall", summary="Who is on call for a schedule now or at `at`")
def schedule_oncall(
    request: Request, name: str, at: str | None = None, _: Principal = viewer
) -> dict[str, Any]:
    t = service.parse_instant(at, _now(request), "at")
    with db(request).read() as s:
        return {"at": iso(t), "oncall": service.on_call_now(s, t, name)}


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=254)
    start: datetime
    end: datetime
    covering: str | None = Field(default=None, max_length=254)
    level: int | None = Field(default=None, ge=1, le=9)
    note: str = Field(default="", max_length=2000)


@router.get("/schedules/{name}/overrides", summary="Overrides that have not ended")
def overrides(
    request: Request, name: str, all: bool = False, _: Principal = viewer
) -> list[dict[str, Any]]:
    with db(request).read() as s:
        row = service.get_schedule(s, name)
        since = None if all else _now(request)
        return [service.override_dict(s, o, name) for o in service.list_overrides(s, row, since)]


@router.post(
    "/schedules/{name}/overrides",
    status_code=201,
    summary="One person covers another (or takes a level) for a span",
)
def create_override(
    request: Request, name: str, body: OverrideIn, who: Principal = responder
) -> dict[str, Any]:
    for field, value in (("start", body.start), ("end", body.end)):
        if value.tzinfo is None:
            raise ValidationFailed(f"{field} needs a time zone (e.g. 2026-03-02T09:00:00Z)", field)
    with db(request).session() as s:
        row = service.get_schedule(s, name)
        o = service.create_override(
            s, clock(request), who, row, **body.model_dump(exclude_none=False)
        )
        return service.override_dict(s, o, name)


@router.delete(
    "/schedules/{name}/overrides/{override_id}", status_code=204, summary="Remove an override"
)
def delete_override(
    request: Request,
    name: str,
    override_id: int = Path(ge=1, le=2**31 - 1),
    who: Principal = responder,
) -> Response:
    with db(request).session() as s:
        service.delete_override(s, clock(request), who, service.get_schedule(s, name), override_id)
    return Response(status_code=204)


@router.post("/schedules/{name}/feed", summary="A new secret calendar URL for a schedule")
def schedule_feed(request: Request, name: str, who: Principal = responder) -> dict[str, Any]:
    with db(request).session() as s:
        row = service.get_schedule(s, name)
        token = service.issue_feed_token(s, clock(request), who, schedule=row)
    return _feed_body(request, token, name)


@feed_router.get(
    "/oncall/feeds/{token}.ics",
    summary="iCalendar feed (secret URL; no login, for calendar programs)",
    response_class=Response,
)
def feed(request: Request, token: str) -> Response:
    now = _now(request)
    with db(request).read() as s:
        f = service.feed_for_token(s, token, now - FEED_PAST, now + FEED_AHEAD)
    base = settings.public_url(str(request.base_url))
    items = [replace(i, url=base + i.url) if i.url.startswith("/") else i for i in f.items]
    body = ical.feed(f.title, f.spans, now, items=items)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
