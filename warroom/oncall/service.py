"""On-call rules over the store: load schedules, who is on call, overrides, feeds, reports.

Escalation asks `who_is_on_call(session, schedule, at)`; everything else here serves the
API, the CLI, the web page and the calendar feeds.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom import seam
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.core.errors import Forbidden, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.core.security import hash_token
from warroom.oncall import feeds, rules
from warroom.oncall.events import ScheduleChanged
from warroom.oncall.models import (
    FeedToken,
    LayerMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from warroom.org.models import Team, TeamMember, User
from warroom.org.service import user_by_name, valid_timezone

PAGE_DAYS = 14  # the schedule page and warnings look this far ahead
WARN_DAYS = 28  # config apply looks this far ahead for gaps
MAX_RANGE = timedelta(days=400)
FEED_LEAD = timedelta(days=35)


# --- building the pure model -----------------------------------------------------------------


def build_layer(
    *,
    name: str,
    members: Sequence[str],
    level: int = 1,
    shift: str = "weekly",
    handoff: str = "Monday 09:00",
    timezone: str | None = None,
    start: date | str | None = None,
    offset: int = 0,
    restrictions: Sequence[dict[str, Any]] = (),
    default_zone: str = "UTC",
) -> rules.Layer:
    """A rules.Layer from the declared (human) form; raises ValueError naming the field."""
    tz = timezone or default_zone
    if not valid_timezone(tz):
        raise ValueError(f"timezone: {tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
    try:
        step = rules.parse_shift(shift)
    except ValueError as exc:
        raise ValueError(f"shift: {exc}") from exc
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError as exc:
            raise ValueError(f"start: {start!r} is not a date like 2026-01-05") from exc
    if start is not None and not 1971 <= start.year <= 2999:
        raise ValueError("start: must be between the years 1971 and 2999")
    try:
        anchor = rules.make_anchor(start, handoff)
    except ValueError as exc:
        raise ValueError(f"handoff: {exc}") from exc
    windows = []
    for i, r in enumerate(restrictions):
        try:
            windows.append(
                rules.Window(
                    rules.parse_days(r.get("days", "daily")),
                    rules.parse_time(r.get("start", "00:00")),
                    rules.parse_time(r.get("end", "00:00"), allow_24=True),
                )
            )
        except ValueError as exc:
            raise ValueError(f"restrictions[{i}]: {exc}") from exc
    return rules.Layer(
        name=name,
        members=tuple(members),
        zone=tz,
        anchor=anchor,
        step=step,
        offset=offset,
        level=level,
        windows=tuple(windows),
    )


def parse_business_hours(text: str) -> tuple[time, time]:
    """Returns (start, end) from text like '09:00-17:00'; raises ValueError unless it ends later."""
    a, sep, b = str(text).partition("-")
    if not sep:
        raise ValueError(f"business_hours {text!r} is not like '09:00-17:00'")
    start, end = rules.parse_time(a.strip()), rules.parse_time(b.strip())
    if end <= start:
        raise ValueError(f"business_hours {text!r} must end after it starts")
    return start, end


def get_schedule(session: Session, name: str) -> Schedule:
    """Returns the schedule named `name`; raises NotFound (404, field `schedule`) otherwise."""
    row = session.scalar(select(Schedule).where(Schedule.name == name))
    if row is None:
        raise NotFound(f"no schedule named {name!r}", field="schedule")
    return row


def list_schedules(session: Session) -> list[Schedule]:
    """Returns every schedule, by name."""
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def _user_names(session: Session) -> dict[int, str]:
    return {uid: name for uid, name in session.execute(select(User.id, User.name))}


def layer_rows(session: Session, schedule: Schedule) -> list[tuple[ScheduleLayer, list[str]]]:
    """Returns the schedule's layers in order, each with its members' names in rotation order."""
    names = _user_names(session)
    layers = list(
        session.scalars(
            select(ScheduleLayer)
            .where(ScheduleLayer.schedule_id == schedule.id)
            .order_by(ScheduleLayer.position)
        )
    )
    members: dict[int, list[str]] = {}
    if layers:
        for m in session.scalars(
            select(LayerMember)
            .where(LayerMember.layer_id.in_([x.id for x in layers]))
            .order_by(LayerMember.position)
        ):
            members.setdefault(m.layer_id, []).append(names[m.user_id])
    return [(x, members.get(x.id, [])) for x in layers]


def layer_dict(layer: ScheduleLayer, members: list[str]) -> dict[str, Any]:
    """Returns a layer in its declared (config) form, as build_layer takes it."""
    return {
        "name": layer.name,
        "members": members,
        "level": layer.level,
        "shift": layer.shift,
        "handoff": layer.handoff,
        "timezone": layer.timezone,
        "start": layer.start.isoformat() if layer.start else None,
        "offset": layer.offset_shifts,
        "restrictions": [dict(r) for r in layer.restrictions or []],
    }


def model(
    session: Session,
    schedule: Schedule,
    start: datetime | None = None,
    end: datetime | None = None,
) -> rules.Schedule:
    """The pure schedule, with the overrides that touch [start, end) (all without a range)."""
    layers = [
        build_layer(**layer_dict(x, m), default_zone=schedule.timezone)
        for x, m in layer_rows(session, schedule)
        if m
    ]
    q = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule.id)
    if start is not None:
        q = q.where(ScheduleOverride.ends_at > start)
    if end is not None:
        q = q.where(ScheduleOverride.starts_at < end)
    names = _user_names(session)
    overrides = tuple(
        rules.Override(
            start=o.starts_at,
            end=o.ends_at,
            user=names[o.user_id],
            covering=names[o.covering_user_id] if o.covering_user_id else None,
            level=o.level,
            id=o.id,
        )
        for o in session.scalars(q.order_by(ScheduleOverride.id))
    )
    return rules.Schedule(schedule.name, tuple(layers), overrides, schedule.timezone)


def who_is_on_call(
    session: Session, schedule: str, at: datetime, level: int | None = None
) -> list[rules.Span]:
    """Who is on call for a schedule at an instant: one span per level (primary first).
    This is the entry point for escalation."""
    row = get_schedule(session, schedule)
    at = ensure_utc(at)
    return rules.on_call_at(model(session, row, at, at + timedelta(seconds=1)), at, level)


def on_call_user_ids(
    session: Session, schedule: str, at: datetime, level: int = 1, reuse: bool = False
) -> list[int]:
    """The ids of the people on call at one level (for paging).

    With `reuse`, the schedule as loaded for an hour around `at` is kept for the rest of
    the session, so a batch of escalation steps loads each schedule once; only for a
    session whose schedules cannot change meanwhile (the engine's batch)."""
    at = ensure_utc(at)
    if not reuse:
        names = [s.user for s in who_is_on_call(session, schedule, at, level)]
        if not names:
            return []
        rows = session.execute(select(User.name, User.id).where(User.name.in_(names)))
        found: dict[str, int] = {name: uid for name, uid in rows}
        return [found[n] for n in names if n in found]
    cache: dict[str, Any] = session.info.setdefault("oncall_models", {})
    hit = cache.get(schedule)
    if hit is None or not hit[1] <= at < hit[2]:
        row = get_schedule(session, schedule)
        lo, hi = at - timedelta(minutes=5), at + timedelta(hours=1)
        hit = (model(session, row, lo, hi), lo, hi)
        cache[schedule] = hit
    if "oncall_user_ids" not in cache:
        cache["oncall_user_ids"] = dict(session.execute(select(User.name, User.id)).all())
    ids = cache["oncall_user_ids"]
    names = [sp.user for sp in rules.on_call_at(hit[0], at, level)]
    return [ids[n] for n in names if n in ids]


def bounded(t: datetime, field: str) -> datetime:
    """Instants far from the years schedules live in would overflow date arithmetic."""
    if not 1971 <= t.year <= 2999:
        raise ValidationFailed(f"{field} must be between the years 1971 and 2999", field=field)
    return t


def check_range(start: datetime, end: datetime, limit: timedelta = MAX_RANGE) -> None:
    """Raises ValidationFailed (422) unless start < end, both in 1971-2999, at most `limit` apart.
    The error names `start` or `end`."""
    bounded(start, "start")
    bounded(end, "end")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    if end - start > limit:
        raise ValidationFailed(f"a range may span at most {limit.days} days", field="end")


def timeline(
    session: Session, schedule: Schedule, start: datetime, end: datetime
) -> rules.Timeline:
    """Returns the schedule's expanded shifts, per layer and final, with gaps, from start to end.
    Raises ValidationFailed (422, field `start`/`end`) for a range check_range refuses (over 400
    days). Checks no role; reads only."""
    start, end = ensure_utc(start), ensure_utc(end)
    check_range(start, end)
    return rules.shifts_between(model(session, schedule, start, end), start, end)


def span_dict(span: rules.Span, schedule: str | None = None) -> dict[str, Any]:
    """Returns the API form of an on-call span, led by `schedule` when given."""
    out: dict[str, Any] = {
        "user": span.user,
        "level": span.level,
        "level_name": rules.level_name(span.level),
        "start": iso(span.start),
        "end": iso(span.end),
        "layer": span.layer,
        "override": span.override,
        "covering": span.covering,
    }
    if schedule is not None:
        out = {"schedule": schedule, **out}
    return out


def warning_dict(w: rules.Warning_) -> dict[str, Any]:
    """Returns the API form of a schedule health warning."""
    return {
        "kind": w.kind,
        "schedule": w.schedule,
        "layer": w.layer,
        "message": w.message,
        "start": iso(w.start),
        "end": iso(w.end),
    }


def timeline_dict(tl: rules.Timeline, schedule: rules.Schedule) -> dict[str, Any]:
    """Returns the API form of a timeline: final and per-layer spans, gaps and warnings."""
    return {
        "schedule": schedule.name,
        "start": iso(tl.start),
        "end": iso(tl.end),
        "final": [span_dict(s) for s in tl.all_final()],
        "layers": {name: [span_dict(s) for s in spans] for name, spans in tl.layers.items()},
        "gaps": [
            {"level": lv, "start": iso(s), "end": iso(e)}
            for lv, gaps in sorted(tl.gaps.items())
            if lv in {x.level for x in schedule.layers}
            for s, e in gaps
        ],
        "warnings": [warning_dict(w) for w in rules.health(schedule, tl.start, tl.end, tl)],
    }


def on_call_now(
    session: Session, at: datetime, schedule: str | None = None, context_days: int = 14
) -> list[dict[str, Any]]:
    """Who is on call at an instant, for one schedule or all, with each shift's extent."""
    at = ensure_utc(at)
    rows = [get_schedule(session, schedule)] if schedule else list_schedules(session)
    around = timedelta(days=context_days)
    out = []
    for row in rows:
        m = model(session, row, at - around, at + around)
        spans = rules.on_call_at(m, at, context=around)
        if not spans:
            out.append({"schedule": row.name, "user": None, "level": 1, "level_name": "primary"})
        out.extend(span_dict(s, row.name) for s in spans)
    return out


def schedule_dict(session: Session, row: Schedule, now: datetime) -> dict[str, Any]:
    """Returns the API form of a schedule: its layers and the next 14 days' health warnings."""
    team = session.get(Team, row.team_id)
    m = model(session, row, now, now + timedelta(days=PAGE_DAYS))
    return {
        "name": row.name,
        "team": team.name if team else None,
        "description": row.description,
        "timezone": row.timezone,
        "compensation": dict(row.compensation or {}) or None,
        "layers": [layer_dict(x, mem) for x, mem in layer_rows(session, row)],
        "warnings": [
            warning_dict(w)
            for w in rules.health(m, ensure_utc(now), ensure_utc(now) + timedelta(days=PAGE_DAYS))
        ],
    }


# --- overrides ----------------------------------------------------------------------------


def override_dict(session: Session, o: ScheduleOverride, schedule: str) -> dict[str, Any]:
    """Returns the API form of an override, people by name."""
    names = _user_names(session)
    return {
        "id": o.id,
        "schedule": schedule,
        "user": names[o.user_id],
        "covering": names[o.covering_user_id] if o.covering_user_id else None,
        "level": o.level,
        "start": iso(o.starts_at),
        "end": iso(o.ends_at),
        "note": o.note,
        "created_by": o.created_by,
        "created_at": iso(o.created_at),
    }


def create_override(
    session: Session,
    clock: Clock,
    who: Principal,
    schedule: Schedule,
    *,
    user: str,
    start: datetime,
    end: datetime,
    covering: str | None = None,
    level: int | None = None,
    note: str = "",
) -> ScheduleOverride:
    """Adds an override (responders only); the next handoff follows it."""
    require_responder(who)
    start, end = ensure_utc(bounded(start, "start")), ensure_utc(bounded(end, "end"))
    check_range(start, end, timedelta(days=366))
    person = user_by_name(session, user)
    covered = user_by_name(session, covering) if covering else None
    if covered is not None and covered.id == person.id:
        raise ValidationFailed("a person cannot cover themselves", field="covering")
    if level is not None and not 1 <= level <= 9:
        raise ValidationFailed("level must be between 1 and 9", field="level")
    row = ScheduleOverride(
        schedule_id=schedule.id,
        user_id=person.id,
        covering_user_id=covered.id if covered else None,
        level=level,
        starts_at=start,
        ends_at=end,
        note=note,
        created_by=who.name,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    schedule_changed(session, clock, schedule)
    return row


def schedule_changed(session: Session, clock: Clock, schedule: Schedule) -> None:
    """Publishes that who is on call when may have moved (handoffs follow it)."""
    seam.publish(session, clock, ScheduleChanged(at=clock.now(), schedule_id=schedule.id))


def list_overrides(
    session: Session, schedule: Schedule, since: datetime | None = None
) -> list[ScheduleOverride]:
    """Returns the schedule's overrides by start; with `since`, only those ending after it."""
    q = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule.id)
    if since is not None:
        q = q.where(ScheduleOverride.ends_at > since)
    return list(session.scalars(q.order_by(ScheduleOverride.starts_at, ScheduleOverride.id)))


def delete_override(
    session: Session, clock: Clock, who: Principal, schedule: Schedule, override_id: int
) -> None:
    """Removes an override (responders only); the next handoff follows it."""
    require_responder(who)
    row = session.get(ScheduleOverride, override_id)
    if row is None or row.schedule_id != schedule.id:
        raise NotFound(f"schedule {schedule.name!r} has no override {override_id}", field="id")
    session.delete(row)
    session.flush()
    schedule_changed(session, clock, schedule)


# --- calendar feeds -------------------------------------------------------------------------


def issue_feed_token(
    session: Session,
    clock: Clock,
    who: Principal,
    *,
    schedule: Schedule | None = None,
    user: User | None = None,
) -> str:
    """A new secret feed token (the old one stops working). Shown once; stored hashed.
    Responders may make one for themselves; only admins for another person. A schedule's
    feed, which the whole team may have subscribed to, is made or replaced by an admin
    or a member of the schedule's team (Forbidden, 403, otherwise)."""
    require_responder(who)
    if user is not None and user.id != who.user_id and not who.is_admin:
        raise Forbidden("only admins may create another user's calendar feed")
    if schedule is not None and not who.is_admin:
        member = session.scalar(
            select(TeamMember.id).where(
                TeamMember.team_id == schedule.team_id, TeamMember.user_id == who.user_id
            )
        )
        if member is None or who.user_id is None:
            raise Forbidden(
                f"only admins and members of the team of schedule {schedule.name!r} may "
                "replace its calendar feed (everyone subscribed to it would lose it)"
            )
    q = select(FeedToken)
    if schedule is not None:
        q = q.where(FeedToken.schedule_id == schedule.id)
    elif user is not None:
        q = q.where(FeedToken.user_id == user.id)
    else:
        raise ValueError("a feed is for a schedule or a user")
    for old in session.scalars(q):
        session.delete(old)
    session.flush()
    token = "wrcal_" + secrets.token_urlsafe(32)
    session.add(
        FeedToken(
            token_hash=hash_token(token),
            schedule_id=schedule.id if schedule else None,
            user_id=user.id if user else None,
            created_at=clock.now(),
        )
    )
    session.flush()
    return token


@dataclass
class Feed:
    title: str
    spans: list[tuple[str, rules.Span]]  # (schedule name, span)
    # Other domains' dated items (a person's feed only): see warroom.oncall.feeds.
    items: list[feeds.FeedItem] = field(default_factory=list)


def feed_for_token(session: Session, token: str, start: datetime, end: datetime) -> Feed:
    """Returns the calendar feed a feed token opens: a schedule's or a person's shifts until `end`.
    Spans ending after `start` are included whole. A person's feed also carries the
    registered providers' items (`feeds`: e.g. action item due dates) in `[start, end)`. Raises NotFound (404) for an unknown or
    replaced token and ValidationFailed (422) for a range check_range refuses (counted from 35
    days before `start`). The token is the credential: no principal is needed. Reads only."""
    row = session.scalar(select(FeedToken).where(FeedToken.token_hash == hash_token(token)))
    if row is None:
        raise NotFound("no such calendar feed")
    # Computed from further back, so the first event keeps its real start (and its UID)
    # as the window moves.
    early = start - FEED_LEAD
    if row.schedule_id is not None:
        sched = session.get(Schedule, row.schedule_id)
        assert sched is not None
        tl = timeline(session, sched, early, end)
        spans = [(sched.name, s) for s in tl.all_final() if s.end > start]
        return Feed(f"On call: {sched.name}", spans)
    user = session.get(User, row.user_id)
    assert user is not None
    spans = [x for x in user_spans(session, user.name, early, end) if x[1].end > start]
    return Feed(f"On call: {user.name}", spans, feeds.items_for(session, user, start, end))


def user_spans(
    session: Session, user: str, start: datetime, end: datetime
) -> list[tuple[str, rules.Span]]:
    """Returns a person's final on-call spans in every schedule from start to end, by start time.
    Raises ValidationFailed (422) for a range check_range refuses. Reads only."""
    out: list[tuple[str, rules.Span]] = []
    for sched in list_schedules(session):
        tl = timeline(session, sched, start, end)
        out.extend((sched.name, s) for s in tl.all_final() if s.user == user)
    return sorted(out, key=lambda x: (x[1].start, x[0], x[1].level))


# --- compensation ---------------------------------------------------------------------------


def report(
    session: Session, start: datetime, end: datetime, period: str = "month"
) -> list[dict[str, Any]]:
    """Hours on call per person per period (UTC calendar weeks or months), split into
    weekday business hours, weekday off-hours and weekend in the person's own zone,
    times each schedule's hourly rates."""
    start, end = ensure_utc(start), ensure_utc(end)
    check_range(start, end)
    if period not in ("week", "month"):
        raise ValidationFailed("period must be week or month", field="period")
    zones = {u.name: u.timezone for u in session.scalars(select(User))}
    rows: dict[tuple[datetime, str], dict[str, Any]] = {}
    for sched in list_schedules(session):
        comp = dict(sched.compensation or {})
        business = parse_business_hours(comp.get("business_hours", "09:00-17:00"))
        currency = comp.get("currency", "USD")
        tl = timeline(session, sched, start, end)
        for span in tl.all_final():
            tz = rules.zone(zones.get(span.user, "UTC"))
            for p, piece in rules.split_by_period(span, period):
                hours = rules.split_hours(piece.start, piece.end, tz, business)
                key = (p, span.user)
                row = rows.setdefault(
                    key,
                    {
                        "period": p.date().isoformat(),
                        "user": span.user,
                        "timezone": zones.get(span.user, "UTC"),
                        **{f"{c}_hours": 0.0 for c in rules.CATEGORIES},
                        "total_hours": 0.0,
                        "amounts": {},
                    },
                )
                amount = 0.0
                for c in rules.CATEGORIES:
                    row[f"{c}_hours"] += hours[c]
                    amount += hours[c] * float(comp.get(c, 0) or 0)
                row["total_hours"] += sum(hours.values())
                row["amounts"][currency] = row["amounts"].get(currency, 0.0) + amount
    out = []
    for (_, _), row in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        for k in (*(f"{c}_hours" for c in rules.CATEGORIES), "total_hours"):
            row[k] = round(row[k], 2)
        row["amounts"] = {k: round(v, 2) for k, v in sorted(row["amounts"].items())}
        out.append(row)
    return out


def parse_instant(value: str | None, default: datetime, field: str) -> datetime:
    """Returns `value` as a UTC time (a naive one counts as UTC), or `default` when it is empty.
    Raises ValidationFailed (422, field `field`) for a malformed time or a year outside
    1971-2999."""
    if not value:
        return ensure_utc(default)
    try:
        t = parse_utc(value)
    except ValueError as exc:
        raise ValidationFailed(
            f"{field} {value!r} is not an ISO 8601 time (e.g. 2026-03-02T09:00:00Z)", field=field
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return ensure_utc(bounded(t, field))
