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
- Recipients by stage (`rules.audience`): the owner's first contact method; from the
  first overdue reminder also the chat channel of the teams owning the incident's
  services; from the second also every admin's first contact method.
- Delivery (`postmortem_deliver`) runs outside a transaction, through notify.channels
  (email, signed webhook, Apprise); a failure raises, and the engine retries it with
  backoff under the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.comms.deliver import channel_kind, team_channels
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident
from warroom.notify import channels
from warroom.org.models import Team, User
from warroom.paging.contacts import contact_methods
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


def _recipients(
    session: Session, owner_id: int | None, incident_id: int, stage: int
) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    who = rules.audience(stage)
    user_ids: list[int] = []
    if owner_id is not None:
        user_ids.append(owner_id)
    if "admins" in who:
        user_ids += [
            u
            for u in session.scalars(select(User.id).where(User.role == "admin").order_by(User.id))
            if u not in user_ids
        ]
    for uid in user_ids:
        methods = contact_methods(session, uid)
        if methods:
            out.append(("method", methods[0].id))
    if "team" in who:
        out += [("team", t.id) for t in team_channels(session, incident_id)]
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
    for kind, rid in _recipients(session, target.owner_id, inc.id, stage):
        enqueue(
            session,
            kind=DELIVER_JOB,
            key=f"remind:{what}:{target_id}:{iso(due)}:{stage}:{kind}:{rid}",
            due_at=now,
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


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler of DELIVER_JOB (outside a transaction): sends one reminder to one
    recipient; raises DeliveryFailed for the engine to retry."""
    due = parse_utc(str(payload["due_at"]))
    stage = int(payload["stage"])
    with db.read() as s:
        if payload["recipient"] == "team":
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
