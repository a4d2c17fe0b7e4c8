"""Reminders for unpublished postmortems and open action items, through the engine.

Invariants:
- A chain of reminders is one `postmortem_reminder` job at a time, keyed by the document
  (or item), its due time and the stage (`rules.reminder_at`): before the due time, at
  it, then every `repeat_hours` while overdue. Each run schedules the next stage before
  it sends, so a crash loses no reminder and a retry sends nothing twice (the delivery
  jobs are keyed per stage and recipient). A reminder that runs late stands for the
  latest stage already due (`rules.catch_up`): one reminder, not a burst.
- Reminders keep going after the incident is closed; they stop only when the postmortem
  is published or the action item is done or won't do. A job whose due time no longer
  matches the document's (the due time was moved) does nothing: moving it started a
  new chain.
- Recipients by stage (`rules.audience`): the owner; from the first overdue reminder also
  the lead and the chat channel of each team owning the incident's services (the teams
  the owner belongs to when it has none); from the second also every admin. A person
  counts once, and is reached as a page reaches them (`paging.rules.contact_plan`):
  every method their notification rules name, each `after_minutes` later, else every
  contact method at once, else their account email. Inactive people get nothing.
- Delivery (`postmortem_deliver`) runs outside a transaction, through notify.channels
  (email, signed webhook, Apprise); a failure raises, and the engine retries it with
  backoff under the same idempotency key. A delivery that falls due after the
  postmortem was published (or the item finished) sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.comms.deliver import channel_kind
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident, IncidentService
from warroom.notify import channels
from warroom.org.models import Service, Team, TeamMember, User
from warroom.paging import rules as paging_rules
from warroom.paging.contacts import contact_methods, notification_rules
from warroom.paging.models import ContactMethod
from warroom.postmortems import rules
from warroom.postmortems.models import ActionItem, Postmortem, PostmortemRules

JOB = "postmortem_reminder"
DELIVER_JOB = "postmortem_deliver"


def load_rules(session: Session) -> rules.Rules:
    row = session.get(PostmortemRules, 1)
    return rules.Rules.from_dict(row.data if row else None)


def schedule(session: Session, clock: Clock, what: str, target_id: int, due: Any) -> None:
    """Starts the reminder chain of a postmortem (`what` "postmortem") or an action item
    ("action_item") for its due time; nothing without one."""
    if due is None:
        return
    due = ensure_utc(due)
    r = load_rules(session)
    now = clock.now()
    stage = rules.first_stage(due, now, r.remind_before_hours, r.repeat_hours)
    _enqueue(session, now, what, target_id, due, stage, r.remind_before_hours, r.repeat_hours)


def _enqueue(
    session: Session,
    now: Any,
    what: str,
    target_id: int,
    due: Any,
    stage: int,
    before: int,
    repeat: int,
) -> None:
    enqueue(
        session,
        kind=JOB,
        key=f"remind:{what}:{target_id}:{iso(due)}:{stage}",
        due_at=max(now, rules.reminder_at(due, stage, before, repeat)),
        payload={"what": what, "id": target_id, "due_at": iso(due), "stage": stage},
        now=now,
    )


def _owning_teams(session: Session, owner_id: int | None, incident_id: int) -> list[Team]:
    teams = list(
        session.scalars(
            select(Team)
            .join(Service, Service.owner_team_id == Team.id)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(IncidentService.incident_id == incident_id)
            .distinct()
            .order_by(Team.name)
        )
    )
    if not teams and owner_id is not None:
        teams = list(
            session.scalars(
                select(Team)
                .join(TeamMember, TeamMember.team_id == Team.id)
                .where(TeamMember.user_id == owner_id)
                .order_by(Team.name)
            )
        )
    return teams


def people(
    session: Session, owner_id: int | None, incident_id: int, stage: int
) -> tuple[list[tuple[str, int]], list[Team]]:
    """Who a reminder of `stage` reaches: `(why, user id)` per person (the owner, the
    owning teams' leads, the admins; each once, active people only) and the teams whose
    chat channel it posts to."""
    who = rules.audience(stage)
    teams = _owning_teams(session, owner_id, incident_id) if "leads" in who or "team" in who else []
    wanted: list[tuple[str, int]] = []
    if owner_id is not None:
        wanted.append(("owner", owner_id))
    if "leads" in who:
        wanted += [("lead", t.lead_id) for t in teams if t.lead_id is not None]
    if "admins" in who:
        wanted += [
            ("admin", u)
            for u in session.scalars(select(User.id).where(User.role == "admin").order_by(User.id))
        ]
    out: list[tuple[str, int]] = []
    seen: set[int] = set()
    for why, uid in wanted:
        user = session.get(User, uid)
        if uid in seen or user is None or not user.active:
            continue
        seen.add(uid)
        out.append((why, uid))
    channels_ = [t for t in teams if t.channel_url] if "team" in who else []
    return out, channels_


def _routes(session: Session, user: User) -> list[tuple[str, int, int]]:
    """How one person is reached, as a page reaches them: `(kind, id, after_minutes)` with
    kind "method" (a contact method's id) or "email" (the account email; id = user id)."""
    methods = contact_methods(session, user.id)
    if not methods:
        return [("email", user.id, 0)]
    by_name = {m.name: m for m in methods}
    user_rules = [
        paging_rules.Rule(name, r.after_minutes) for r, name in notification_rules(session, user.id)
    ]
    plan = paging_rules.contact_plan(user_rules, [m.name for m in methods])
    return [("method", by_name[r.method].id, r.after_minutes) for r in plan if r.method in by_name]


def _recipients(
    session: Session, owner_id: int | None, incident_id: int, stage: int
) -> list[tuple[str, int, int]]:
    users, teams = people(session, owner_id, incident_id, stage)
    out: list[tuple[str, int, int]] = []
    for _, uid in users:
        user = session.get(User, uid)
        assert user is not None
        out += _routes(session, user)
    out += [("team", t.id, 0) for t in teams]
    return out


def run(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler of JOB: schedules the next stage, then queues this stage's
    deliveries; nothing once the postmortem is published or the item finished."""
    what, target_id, stage = str(payload["what"]), int(payload["id"]), int(payload["stage"])
    due = parse_utc(str(payload["due_at"]))
    target: Postmortem | ActionItem | None
    if what == "postmortem":
        target = session.get(Postmortem, target_id)
        finished = target is None or target.status == "published"
    else:
        target = session.get(ActionItem, target_id)
        finished = target is None or target.status in ("done", "wont_do")
    if finished or target is None or target.due_at is None or ensure_utc(target.due_at) != due:
        return
    inc = session.get(Incident, target.incident_id)
    if inc is None:
        return
    r = load_rules(session)
    now = clock.now()
    stage = rules.catch_up(due, stage, now, r.remind_before_hours, r.repeat_hours)
    _enqueue(session, now, what, target_id, due, stage + 1, r.remind_before_hours, r.repeat_hours)
    ref = incident_rules.short_id(inc.id)
    if what == "postmortem":
        title = f"the postmortem of {ref} {inc.title}"
    else:
        assert isinstance(target, ActionItem)
        title = f"action item {target.id} ({target.title}) of {ref}"
    for kind, rid, after in _recipients(session, target.owner_id, inc.id, stage):
        enqueue(
            session,
            kind=DELIVER_JOB,
            key=f"remind:{what}:{target_id}:{iso(due)}:{stage}:{kind}:{rid}",
            due_at=now + timedelta(minutes=after),
            payload={
                "recipient": kind,
                "recipient_id": rid,
                "what": what,
                "id": target_id,
                "incident": ref,
                "title": title,
                "stage": stage,
                "due_at": iso(due),
                "key": f"remind:{what}:{target_id}:{iso(due)}:{stage}",
            },
            now=now,
            max_attempts=10,
        )


def _finished(session: Session, what: str, target_id: int) -> bool:
    if what == "postmortem":
        pm = session.get(Postmortem, target_id)
        return pm is None or pm.status == "published"
    item = session.get(ActionItem, target_id)
    return item is None or item.status in ("done", "wont_do")


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler of DELIVER_JOB (outside a transaction): sends one reminder to one
    recipient; raises DeliveryFailed for the engine to retry."""
    due = parse_utc(str(payload["due_at"]))
    stage = int(payload["stage"])
    with db.read() as s:
        if _finished(s, str(payload["what"]), int(payload["id"])):
            return None
        if payload["recipient"] == "email":
            user = s.get(User, int(payload["recipient_id"]))
            if user is None or not user.active:
                return None
            kind, address, secret = "email", user.email, ""
        elif payload["recipient"] == "team":
            team = s.get(Team, int(payload["recipient_id"]))
            if team is None or not team.channel_url:
                return None
            kind, address, secret = channel_kind(team.channel_url), team.channel_url, ""
        else:
            m = s.get(ContactMethod, int(payload["recipient_id"]))
            if m is None:
                return None
            kind, address, secret = m.kind, m.address, m.secret
    first = rules.reminder_text(str(payload["title"]), stage, due)
    link = (
        f"/postmortems/{payload['incident']}"
        if payload["what"] == "postmortem"
        else f"/action-items?incident={payload['incident']}"
    )
    msg = channels.Message(
        key=str(payload["key"]),
        subject=first[:200],
        text=f"{first}\n{link}",
        data={
            "event": f"{payload['what']}_reminder",
            "stage": ["before", "due", "overdue"][min(stage, 2)],
            "incident": payload["incident"],
            payload["what"]: int(payload["id"]),
            "due_at": payload["due_at"],
            "text": first,
            "link": link,
        },
    )
    channels.send(kind, address, secret, msg)
    return None
