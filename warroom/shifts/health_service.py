"""On-call health over the store: gathers duties from the schedule expansion and pages
from the notifications table, and hands them to the pure rules in health.py.

Pages are read from the paging tables (notifications and their escalations) and the
alerts' non-actionable marks; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.core.clock import ensure_utc
from warroom.core.errors import ValidationFailed
from warroom.incidents.models import Incident
from warroom.oncall import rules, service
from warroom.oncall.models import Schedule
from warroom.org.models import User
from warroom.org.service import user_by_name
from warroom.paging.models import Escalation, Notification
from warroom.shifts import handoff, health

CHUNK = 500


@dataclass(frozen=True)
class PageRow:
    """One escalation reaching one person: the first message's time and how many
    messages (methods, repeats) it took."""

    user_id: int
    user: str
    escalation_id: int
    at: datetime
    messages: int
    non_actionable: bool
    incident_id: int | None
    alert_id: int | None
    title: str
    state: str  # the escalation's state: triggered | acknowledged | exhausted | resolved
    acknowledged_by: str
    private: bool  # for a private incident: counted, never named

    def page(self) -> health.Page:
        return health.Page(self.user, self.escalation_id, self.at, self.non_actionable)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def non_actionable(session: Session, escalations: Iterable[Escalation]) -> dict[int, bool]:
    """Per escalation: was what it paged for marked non-actionable? An alert's page is,
    when the alert was marked; an incident's page is, when the incident had alerts and
    every one was marked. An incident declared by hand is actionable."""
    escs = list(escalations)
    alert_ids = sorted({e.alert_id for e in escs if e.alert_id is not None})
    incident_ids = sorted({e.incident_id for e in escs if e.incident_id is not None})
    alert_noise: dict[int, bool] = {}
    for part in _chunks(alert_ids):
        for aid, noise in session.execute(select(Alert.id, Alert.noise).where(Alert.id.in_(part))):
            alert_noise[aid] = noise is not None
    incident_noise: dict[int, bool] = {}
    for part in _chunks(incident_ids):
        for inc_id, total, noisy in session.execute(
            select(Alert.incident_id, func.count(), func.count(Alert.noise))
            .where(Alert.incident_id.in_(part))
            .group_by(Alert.incident_id)
        ):
            if inc_id is not None:
                incident_noise[inc_id] = bool(total) and noisy == total
    out = {}
    for e in escs:
        if e.alert_id is not None and e.incident_id is None:
            out[e.id] = alert_noise.get(e.alert_id, False)
        elif e.incident_id is not None:
            out[e.id] = incident_noise.get(e.incident_id, False)
        else:
            out[e.id] = False
    return out


def load_pages(
    session: Session, start: datetime, end: datetime, user_ids: Iterable[int] | None = None
) -> list[PageRow]:
    """Pages whose first message to the person was created in [start, end). A message
    cancelled before its first attempt (an acknowledgement came first) reached nobody and
    does not count; a failed one does (the person was paged; the page did not arrive)."""
    q = (
        select(
            Notification.user_id,
            Notification.escalation_id,
            func.min(Notification.created_at),
            func.count(),
        )
        .where(
            Notification.user_id.is_not(None),
            Notification.created_at >= start,
            Notification.created_at < end,
            or_(Notification.state != "skipped", Notification.attempts > 0),
        )
        .group_by(Notification.user_id, Notification.escalation_id)
    )
    if user_ids is not None:
        wanted = sorted(set(user_ids))
        if not wanted:
            return []
        q = q.where(Notification.user_id.in_(wanted))
    grouped = [
        (int(uid), int(eid), ensure_utc(at), int(n))
        for uid, eid, at, n in session.execute(q)
        if uid is not None
    ]
    if not grouped:
        return []
    esc_ids = sorted({eid for _, eid, _, _ in grouped})
    escs: dict[int, Escalation] = {}
    for part in _chunks(esc_ids):
        escs.update(
            {e.id: e for e in session.scalars(select(Escalation).where(Escalation.id.in_(part)))}
        )
    noise = non_actionable(session, escs.values())
    inc_ids = sorted({e.incident_id for e in escs.values() if e.incident_id is not None})
    private: set[int] = set()
    for part in _chunks(inc_ids):
        private |= set(
            session.scalars(select(Incident.id).where(Incident.id.in_(part), Incident.private))
        )
    names = {uid: name for uid, name in session.execute(select(User.id, User.name))}
    out = []
    for uid, eid, at, n in grouped:
        e = escs[eid]
        out.append(
            PageRow(
                user_id=uid,
                user=names.get(uid, f"user {uid}"),
                escalation_id=eid,
                at=at,
                messages=n,
                non_actionable=noise.get(eid, False),
                incident_id=e.incident_id,
                alert_id=e.alert_id,
                title=e.title,
                state=e.state,
                acknowledged_by=e.acknowledged_by or "",
                private=e.incident_id in private,
            )
        )
    return sorted(out, key=lambda p: (p.at, p.user, p.escalation_id))


def duty_shifts(
    session: Session, row: Schedule, start: datetime, end: datetime
) -> list[health.Shift]:
    """The schedule's duties (a person's stint at a level) that overlap [start, end)."""
    model = service.model(session, row, start - handoff.MAX_LOOKBACK, end)
    tl = rules.shifts_between(model, start - handoff.lookback(model), end)
    out = []
    for level, spans in sorted(tl.final.items()):
        for d in handoff.duties(spans):
            if d.end > start and d.start < end:
                out.append(health.Shift(row.name, d.user, level, d.start, d.end))
    return out


def business_hours(row: Schedule) -> health.Hours:
    """Returns the schedule's business hours (09:00-17:00 unless set).
    Raises ValueError for a setting parse_business_hours refuses."""
    comp = dict(row.compensation or {})
    return service.parse_business_hours(comp.get("business_hours", "09:00-17:00"))


def parse_since(text: str) -> timedelta:
    """'28d', '2w', '72h' -> a length (1 hour to 400 days)."""
    t = str(text).strip().lower()
    units = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    digits = t[:-1]
    if len(t) < 2 or t[-1] not in units or not digits.isascii() or not digits.isdigit():
        raise ValidationFailed(f"since {text!r} is not a length like 28d, 4w or 72h", field="since")
    length = int(digits) * units[t[-1]] if len(digits) <= 6 else service.MAX_RANGE * 2
    if not timedelta(hours=1) <= length <= service.MAX_RANGE:
        raise ValidationFailed("since must be between 1 hour and 400 days", field="since")
    return length


def report(
    session: Session,
    now: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    schedule: str | None = None,
    user: str | None = None,
    pages: Sequence[PageRow] | None = None,
) -> dict[str, Any]:
    """Health per person and per rotation over [start, end) (default: the 28 days up to
    now), for every schedule or one, for everyone or one person. `pages` may bring the
    period's pages already loaded (a page showing several schedules loads them once)."""
    end = ensure_utc(end or now)
    start = ensure_utc(start or end - health.DEFAULT_PERIOD)
    service.check_range(start, end)
    rows = (
        [service.get_schedule(session, schedule)] if schedule else service.list_schedules(session)
    )
    person = user_by_name(session, user) if user else None
    shifts = [s for row in rows for s in duty_shifts(session, row, start, end)]
    zones = {name: tz for name, tz in session.execute(select(User.name, User.timezone))}
    rep = health.assess(
        start=start,
        end=end,
        shifts=shifts,
        pages=[
            p.page()
            for p in (load_pages(session, start, end) if pages is None else pages)
            if start <= p.at < end
        ],
        zones=zones,
        business={row.name: business_hours(row) for row in rows},
        schedules=[row.name for row in rows],
        only_schedule=schedule,
    )
    out = rep.to_dict()
    out["schedule"] = schedule
    out["user"] = person.name if person else None
    if person is not None:
        mine = {s.schedule for s in shifts if s.user == person.name}
        out["people"] = [p for p in out["people"] if p["user"] == person.name] or [
            health.PersonHealth(person.name, person.timezone).to_dict()
        ]
        out["rotations"] = [r for r in out["rotations"] if r["schedule"] in mine]
        out["flags"] = [
            f
            for f in out["flags"]
            if (f["subject"] == "person" and f["name"] == person.name)
            or (f["subject"] == "rotation" and f["name"] in mine)
        ]
    return out
