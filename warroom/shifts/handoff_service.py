"""Handoff notes over the store: drafting, keeping, remarks, and the engine job that
writes them at each handoff.

`draft(session, clock, schedule, start, end)` drafts and keeps the note of every handoff
of a schedule in [start, end]; it is what the engine job calls, and what tests call with
any range. The job (`oncall_handoff`) is keyed by schedule and handoff instant, so
scheduling it twice adds nothing; each run drafts what is due and schedules the next.
Applying schedules, adding or removing an override, and starting warroom schedule it.

What happened during a shift is read from the incidents, alerts, changes and paging
tables; this module only reads them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.alerts import changes as alert_changes
from warroom.alerts import silences as alert_silences
from warroom.alerts.matching import format_matcher
from warroom.alerts.models import Alert, ChangeEvent
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.core.errors import Forbidden, NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.heartbeats import service as heartbeat_service
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident, IncidentService
from warroom.oncall import rules, service
from warroom.oncall.models import Schedule
from warroom.org.models import Service, Severity, User
from warroom.paging import contacts as paging_contacts
from warroom.paging import policies as paging_policies
from warroom.paging.models import Notification
from warroom.shifts import handoff, health
from warroom.shifts.health_service import business_hours, load_pages
from warroom.shifts.models import Handoff, HandoffRemark

log = logging.getLogger("warroom.oncall")

HANDOFF_JOB = "oncall_handoff"
CATCH_UP = timedelta(days=7)  # an engine that was down drafts the handoffs of the last week
MAX_REMARK = 5000


# --- what a schedule covers -----------------------------------------------------------------


@dataclass
class Scope:
    services: dict[int, str]  # the schedule's services: its team's and those it is paged for
    policies: list[str]  # the escalation policies that page the schedule, as text


def scope(session: Session, row: Schedule) -> Scope:
    """Returns what a schedule covers: its team's services and those its escalation policies page.
    Also those policies, described as text for the checklist. Reads only."""
    owned = {
        sid: name
        for sid, name in session.execute(
            select(Service.id, Service.name).where(Service.owner_team_id == row.team_id)
        )
    }
    policy_ids: list[int] = []
    described: list[str] = []
    for pol in paging_policies.list_policies(session):
        plan = paging_policies.policy_plan(session, pol)
        if not any(
            t.type == "schedule" and t.name == row.name for lv in plan.levels for t in lv.targets
        ):
            continue
        policy_ids.append(pol.id)
        steps = []
        for i, lv in enumerate(plan.levels):
            who = ", ".join(t.label() for t in lv.targets)
            steps.append(f"level {i + 1} {who} ({lv.timeout_minutes} min)")
        text = f"{pol.name}: " + " → ".join(steps)
        if plan.repeat:
            text += f", repeated {plan.repeat} time{'s' if plan.repeat != 1 else ''}"
        if plan.fallback:
            text += f", then team {plan.fallback}'s channel"
        described.append(text)
    paged = {}
    if policy_ids:
        paged = {
            sid: name
            for sid, name in session.execute(
                select(Service.id, Service.name).where(Service.escalation_policy_id.in_(policy_ids))
            )
        }
    return Scope({**owned, **paged}, described)


class _At:
    """A clock stopped at one instant (for reads that ask a clock for 'now')."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# --- drafting -------------------------------------------------------------------------------


def _users(session: Session) -> dict[str, User]:
    return {u.name: u for u in session.scalars(select(User))}


def _incidents(
    session: Session, sc: Scope, h: handoff.Handoff, paged_incidents: set[int]
) -> dict[str, Any]:
    on_services = select(IncidentService.incident_id).where(
        IncidentService.service_id.in_(list(sc.services) or [-1])
    )
    relevant = or_(Incident.id.in_(on_services), Incident.id.in_(sorted(paged_incidents) or [-1]))
    open_rows = list(
        session.scalars(
            select(Incident).where(
                relevant,
                Incident.declared_at <= h.at,
                or_(Incident.resolved_at.is_(None), Incident.resolved_at > h.at),
            )
        )
    )
    ranks = {name: rank for name, rank in session.execute(select(Severity.name, Severity.rank))}
    public = [i for i in open_rows if not i.private]
    public.sort(key=lambda i: (ranks.get(i.severity, 99), i.id))
    summaries = incident_queries.summarize(session, public)
    declared = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(relevant, Incident.declared_at >= h.shift_start, Incident.declared_at < h.at)
    )
    resolved = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(relevant, Incident.resolved_at >= h.shift_start, Incident.resolved_at < h.at)
    )
    return {
        "open": [
            {
                "id": x["id"],
                "title": x["title"],
                "severity": x["severity"],
                "status": x["status"],
                "commander": x["commander"],
                "services": x["services"],
                "declared_at": x["declared_at"],
            }
            for x in summaries
        ],
        "private_open": len(open_rows) - len(public),
        "declared": int(declared or 0),
        "resolved": int(resolved or 0),
    }


def _alerts(session: Session, sc: Scope, h: handoff.Handoff) -> dict[str, Any]:
    if not sc.services:
        return handoff.alert_summary([])
    rows = session.execute(
        select(
            Alert.summary,
            Alert.service_id,
            Alert.incident_id,
            func.count(),
            func.sum(Alert.occurrences),
            func.count(Alert.noise),
        )
        .where(
            Alert.service_id.in_(list(sc.services)),
            Alert.first_seen >= h.shift_start,
            Alert.first_seen < h.at,
        )
        .group_by(Alert.summary, Alert.service_id, Alert.incident_id)
    ).all()
    inc_ids = sorted({r[2] for r in rows if r[2] is not None})
    private = set(
        session.scalars(
            select(Incident.id).where(Incident.id.in_(inc_ids or [-1]), Incident.private)
        )
    )
    facts = [
        handoff.AlertFact(
            summary=summary,
            service=sc.services.get(sid) if sid is not None else None,
            incident=incident_rules.short_id(inc)
            if inc is not None and inc not in private
            else None,
            alerts=int(n),
            occurrences=int(occ or 0),
            non_actionable=int(noisy),
            private=inc in private,
        )
        for summary, sid, inc, n, occ, noisy in rows
    ]
    return handoff.alert_summary(facts)


def _pages(
    session: Session, row: Schedule, h: handoff.Handoff, user: User | None
) -> tuple[dict[str, Any], set[int]]:
    if user is None:
        return {"count": 0, "messages": 0, "off_hours": 0, "non_actionable": 0, "items": []}, set()
    found = load_pages(session, h.shift_start, h.at, [user.id])
    hours = business_hours(row)
    items = []
    for p in found:
        items.append(
            {
                "escalation": p.escalation_id,
                "title": "a private incident" if p.private else p.title,
                "incident": None
                if p.private or p.incident_id is None
                else incident_rules.short_id(p.incident_id),
                "at": iso(p.at),
                "messages": p.messages,
                "state": p.state,
                "acknowledged_by": p.acknowledged_by or None,
                "off_hours": health.is_off_hours(p.at, user.timezone, hours),
                "non_actionable": p.non_actionable,
            }
        )
    summary = {
        "count": len(items),
        "messages": sum(p.messages for p in found),
        "off_hours": sum(1 for i in items if i["off_hours"]),
        "non_actionable": sum(1 for i in items if i["non_actionable"]),
        "items": items[: handoff.MAX_ITEMS],
    }
    return summary, {p.incident_id for p in found if p.incident_id is not None}


def _changes(session: Session, sc: Scope, h: handoff.Handoff) -> dict[str, Any]:
    where = (
        ChangeEvent.service_id.in_(list(sc.services) or [-1]),
        ChangeEvent.at >= h.shift_start,
        ChangeEvent.at < h.at,
    )
    total = session.scalar(select(func.count()).select_from(ChangeEvent).where(*where))
    rows = session.scalars(
        select(ChangeEvent)
        .where(*where)
        .order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
        .limit(handoff.MAX_ITEMS)
    )
    items = [
        {k: d[k] for k in ("id", "kind", "summary", "service", "source", "at", "recorded_by")}
        for d in (alert_changes.change_dict(c, sc.services) for c in rows)
    ]
    return {"total": int(total or 0), "items": items}


def _reach(session: Session, user: User | None, at: datetime) -> handoff.Reach:
    if user is None:
        return handoff.Reach((), "")
    methods = tuple((m.name, m.kind) for m in paging_contacts.contact_methods(session, user.id))
    last = session.scalar(
        select(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.created_at <= at,
            Notification.attempts > 0,
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )
    if last is None:
        return handoff.Reach(methods, user.email)
    return handoff.Reach(
        methods,
        user.email,
        last.state,
        ensure_utc(last.sent_at or last.created_at),
        (last.last_error or "")[:300],
    )


def _silences(session: Session, sc: Scope, at: datetime) -> list[handoff.SilenceFact]:
    names = set(sc.services.values())
    out = []
    for s in alert_silences.list_silences(session, _At(at), active_only=True):
        if ensure_utc(s.starts_at) > at:
            continue
        if s.kind == "maintenance":
            touched = sorted(names & set(s.services or []))
            if not touched:
                continue
            what = ", ".join(touched)
        else:
            what = ", ".join(format_matcher(m) for m in s.matchers or [])
        out.append(handoff.SilenceFact(s.kind, what, ensure_utc(s.ends_at), s.comment))
    return out[:10]


def compose(
    session: Session,
    row: Schedule,
    h: handoff.Handoff,
    tl: rules.Timeline,
    sc: Scope | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The outgoing note and the incoming checklist of one handoff, from recorded facts."""
    sc = sc or scope(session, row)
    people = _users(session)
    out_user, in_user = people.get(h.outgoing), people.get(h.incoming)
    pages, paged_incidents = _pages(session, row, h, out_user)
    note: dict[str, Any] = {
        "shift": {"start": iso(h.shift_start), "end": iso(h.shift_end)},
        "services": sorted(sc.services.values()),
        "incidents": _incidents(session, sc, h, paged_incidents),
        "alerts": _alerts(session, sc, h),
        "pages": pages,
        "changes": _changes(session, sc, h),
        # Heartbeat monitors of these services that were down at some time in the shift.
        "heartbeats": heartbeat_service.down_between(session, h.shift_start, h.at, sc.services),
    }
    note["prompts"] = handoff.prompts(note)
    checklist = handoff.checklist(
        incoming=h.incoming,
        outgoing=h.outgoing,
        level=h.level,
        reach=_reach(session, in_user, h.at),
        open_incidents=len(note["incidents"]["open"]),
        private_open=note["incidents"]["private_open"],
        changes=note["changes"]["total"],
        silences=_silences(session, sc, h.at),
        policies=sc.policies,
        others=handoff.others_on_call(tl, h.at, h.level),
        schedule=row.name,
    )
    return note, checklist


def _timeline(
    session: Session, row: Schedule, start: datetime, end: datetime
) -> tuple[rules.Schedule, rules.Timeline]:
    model = service.model(session, row, start - handoff.MAX_LOOKBACK, end + timedelta(days=1))
    tl = rules.shifts_between(model, start - handoff.lookback(model), end + timedelta(seconds=1))
    return model, tl


def draft(
    session: Session, clock: Clock, row: Schedule, start: datetime, end: datetime
) -> list[Handoff]:
    """Drafts and keeps the note and checklist of every handoff of the schedule with
    start <= instant <= end. Handoffs already kept are left as they are (their remarks
    too); returns the new ones."""
    start, end = ensure_utc(start), ensure_utc(end)
    service.check_range(start, max(end, start + timedelta(seconds=1)))
    _, tl = _timeline(session, row, start, end)
    found = [h for h in handoff.handoffs(tl) if start <= h.at <= end]
    if not found:
        return []
    kept = {
        (lv, ensure_utc(at))
        for lv, at in session.execute(
            select(Handoff.level, Handoff.at).where(
                Handoff.schedule_id == row.id, Handoff.at >= start, Handoff.at <= end
            )
        )
    }
    people = _users(session)
    sc = scope(session, row)
    made = []
    for h in found:
        if (h.level, h.at) in kept:
            continue
        note, checklist = compose(session, row, h, tl, sc)
        out_user, in_user = people.get(h.outgoing), people.get(h.incoming)
        rec = Handoff(
            schedule_id=row.id,
            level=h.level,
            at=h.at,
            shift_start=h.shift_start,
            outgoing_user_id=out_user.id if out_user else None,
            incoming_user_id=in_user.id if in_user else None,
            outgoing=h.outgoing,
            incoming=h.incoming,
            note=note,
            checklist=checklist,
            created_at=clock.now(),
        )
        session.add(rec)
        made.append(rec)
    session.flush()
    return made


def preview(session: Session, clock: Clock, row: Schedule, level: int = 1) -> dict[str, Any]:
    """The note the person on call at a level would get if they handed over now (kept
    nowhere): their shift so far."""
    now = ensure_utc(clock.now())
    _, tl = _timeline(session, row, now, now)
    duty = next(
        (d for d in handoff.duties(tl.final.get(level, [])) if d.start <= now and d.end > now),
        None,
    )
    if duty is None:
        raise NotFound(
            f"nobody is on call on {row.name} ({rules.level_name(level)}) now", field="level"
        )
    # Up to and including now: what happened this very instant is part of the shift.
    upto = now + timedelta(microseconds=1)
    h = handoff.Handoff(upto, level, duty.user, duty.user, duty.start, now)
    note, _ = compose(session, row, h, tl)
    return {
        "schedule": row.name,
        "level": level,
        "level_name": rules.level_name(level),
        "user": duty.user,
        "at": iso(now),
        "note": note,
    }


# --- the engine job -------------------------------------------------------------------------


def schedule_next(
    session: Session, clock: Clock, row: Schedule, after: datetime | None = None
) -> datetime:
    """Enqueues the job for the schedule's next handoff after `after` (default now); with
    none in the next five weeks, a job that looks again then. Returns its due time."""
    now = ensure_utc(clock.now())
    after = ensure_utc(after or now)
    model = service.model(
        session, row, after - handoff.MAX_LOOKBACK, after + handoff.HORIZON + timedelta(days=1)
    )
    due = handoff.next_handoff(model, after) or after + handoff.HORIZON
    enqueue(
        session,
        kind=HANDOFF_JOB,
        key=f"handoff:{row.id}:{iso(due)}",
        due_at=due,
        payload={"schedule_id": row.id, "at": iso(due)},
        now=now,
    )
    return due


def run_job(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler: drafts the handoffs due since the job's instant (a week at most, if
    the engine was down), then schedules the next."""
    row = session.get(Schedule, int(payload["schedule_id"]))
    if row is None:
        return  # the schedule was removed
    now = ensure_utc(clock.now())
    since = max(parse_utc(payload["at"]), now - CATCH_UP)
    if since <= now:
        draft(session, clock, row, since, now)
    schedule_next(session, clock, row, after=now)


def schedule_all(session: Session, clock: Clock) -> None:
    """Enqueues the next handoff job of every schedule; idempotent (job keys name the handoff)."""
    for row in service.list_schedules(session):
        schedule_next(session, clock, row)


def ensure_jobs(db: Database, clock: Clock) -> None:
    """At startup: every schedule has its next handoff job (the keys make this a no-op
    when they exist). Several processes starting at once may race; the loser's insert
    fails on the unique key and changes nothing."""
    try:
        with db.session() as s:
            schedule_all(s, clock)
    except IntegrityError:
        log.info("handoff jobs were scheduled by another process")


# --- reading and remarks --------------------------------------------------------------------


def get_handoff(session: Session, handoff_id: int) -> Handoff:
    """Returns the kept handoff with this id; raises NotFound (404, field `handoff_id`) otherwise.
    Checks no role."""
    row = session.get(Handoff, handoff_id) if 0 < handoff_id < 2**31 else None
    if row is None:
        raise NotFound(f"handoff {handoff_id} not found", field="handoff_id")
    return row


def list_handoffs(
    session: Session,
    *,
    schedule: str | None = None,
    user: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Handoff]:
    """Newest first; `user` matches the outgoing or the incoming person."""
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    q = select(Handoff)
    if schedule:
        q = q.where(Handoff.schedule_id == service.get_schedule(session, schedule).id)
    if user:
        from warroom.org.service import user_by_name

        uid = user_by_name(session, user).id
        q = q.where(or_(Handoff.outgoing_user_id == uid, Handoff.incoming_user_id == uid))
    if before is not None:
        q = q.where(Handoff.id < before)
    return list(session.scalars(q.order_by(Handoff.at.desc(), Handoff.id.desc()).limit(limit)))


def remarks(session: Session, h: Handoff) -> list[HandoffRemark]:
    """Returns the handoff's remarks, oldest first."""
    return list(
        session.scalars(
            select(HandoffRemark)
            .where(HandoffRemark.handoff_id == h.id)
            .order_by(HandoffRemark.created_at, HandoffRemark.id)
        )
    )


def _side(h: Handoff, user_id: int | None) -> str | None:
    if user_id is not None and user_id == h.outgoing_user_id:
        return "outgoing"
    if user_id is not None and user_id == h.incoming_user_id:
        return "incoming"
    return None


def may_remark(who: Principal, h: Handoff) -> bool:
    """Returns whether `who` may remark on the handoff: its outgoing or incoming person or an admin.
    Either person needs the responder role as well."""
    return who.can("responder") and (who.is_admin or _side(h, who.user_id) is not None)


def add_remark(
    session: Session, clock: Clock, who: Principal, h: Handoff, text: str
) -> HandoffRemark:
    """The outgoing person adds their own words to the note (what to watch, known risks);
    the incoming person asks or answers. Admins may too."""
    if not may_remark(who, h):
        raise Forbidden(
            f"only {h.outgoing} (outgoing), {h.incoming} (incoming) or an admin may add "
            "remarks to this handoff"
        )
    body = (text or "").strip()
    if not body:
        raise ValidationFailed("text must not be empty", field="text")
    if len(body) > MAX_REMARK:
        raise ValidationFailed(f"text is longer than {MAX_REMARK} characters", field="text")
    rec = HandoffRemark(
        handoff_id=h.id, user_id=who.user_id, author=who.name, text=body, created_at=clock.now()
    )
    session.add(rec)
    session.flush()
    return rec


def _schedule_names(session: Session) -> dict[int, str]:
    return {sid: name for sid, name in session.execute(select(Schedule.id, Schedule.name))}


def handoff_dict(
    session: Session,
    h: Handoff,
    *,
    full: bool = True,
    who: Principal | None = None,
    schedules: dict[int, str] | None = None,
    remark_counts: dict[int, int] | None = None,
) -> dict[str, Any]:
    """Returns the API form of a handoff: summary counts, with `full` note, checklist and remarks.
    With `who` (and `full`), also whether they may remark."""
    names = schedules if schedules is not None else _schedule_names(session)
    note = dict(h.note or {})
    out: dict[str, Any] = {
        "id": h.id,
        "schedule": names.get(h.schedule_id),
        "level": h.level,
        "level_name": rules.level_name(h.level),
        "at": iso(h.at),
        "outgoing": h.outgoing,
        "incoming": h.incoming,
        "shift": note.get("shift") or {"start": iso(h.shift_start), "end": iso(h.at)},
        "summary": {
            "open_incidents": len(note.get("incidents", {}).get("open", []))
            + int(note.get("incidents", {}).get("private_open", 0)),
            "alerts": note.get("alerts", {}).get("total", 0),
            "non_actionable_alerts": note.get("alerts", {}).get("non_actionable", 0),
            "pages": note.get("pages", {}).get("count", 0),
            "off_hours_pages": note.get("pages", {}).get("off_hours", 0),
            "changes": note.get("changes", {}).get("total", 0),
        },
        "created_at": iso(h.created_at),
    }
    if full:
        rs = remarks(session, h)
        out["note"] = note
        out["checklist"] = list(h.checklist or [])
        out["remarks"] = [
            {
                "id": r.id,
                "author": r.author,
                "role": _side(h, r.user_id) or "admin",
                "text": r.text,
                "at": iso(r.created_at),
            }
            for r in rs
        ]
        out["summary"]["remarks"] = len(rs)
        if who is not None:
            out["can_remark"] = may_remark(who, h)
    else:
        out["summary"]["remarks"] = (remark_counts or {}).get(h.id, 0)
    return out


def handoff_list(session: Session, rows: list[Handoff]) -> list[dict[str, Any]]:
    """Returns the summary API form of each handoff, remark counts loaded in one query."""
    ids = [h.id for h in rows]
    counts = {
        hid: int(n)
        for hid, n in session.execute(
            select(HandoffRemark.handoff_id, func.count())
            .where(HandoffRemark.handoff_id.in_(ids or [-1]))
            .group_by(HandoffRemark.handoff_id)
        )
    }
    names = _schedule_names(session)
    return [
        handoff_dict(session, h, full=False, schedules=names, remark_counts=counts) for h in rows
    ]
