"""Paging: starting escalations, firing their steps, acknowledging and resolving them.

Paging starts and stops in reaction to incidents and alerts (`paging.subscribers`,
wired through the seam), never by being called from those domains. A responder acting
on a page publishes `PageAcknowledged` / `PageResolved`; the incident or alert domain
carries it out and its own event stops every escalation for it.

Every step and every notification is a job written in the same transaction as the state
change that causes it (the engine's outbox), so a crash loses no page. Step jobs are keyed
`esc:<id>:<pass>:<level>` and notification jobs `notify:<notification>:<attempt>`, so a
step that runs twice pages nobody twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom import seam
from warroom.core.clock import Clock, iso, parse_utc
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.engine.queue import enqueue
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.timeline import record
from warroom.notify import channels
from warroom.oncall.service import on_call_user_ids
from warroom.org.models import Service, Team, TeamMember, User
from warroom.org.service import user_by_name
from warroom.paging import events, links, rules
from warroom.paging.contacts import contact_methods, notification_rules
from warroom.paging.models import (
    Escalation,
    EscalationPolicy,
    Notification,
)
from warroom.paging.policies import get_policy, policy_plan

STEP_JOB = "escalation_step"
NOTIFY_JOB = "notify"


# --- starting ---------------------------------------------------------------------------


def timeline(session: Session, clock: Clock, esc: Escalation, text: str, **data: Any) -> None:
    """Appends a `page` line about the escalation to its incident's timeline, any URL in
    it redacted (channels.redact_text). A no-op for an alert's escalation; changes no
    state; publishes nothing."""
    if esc.incident_id is None:
        return
    inc = session.get(Incident, esc.incident_id)
    if inc is not None:
        record(
            session,
            clock,
            inc,
            kind="page",
            text=channels.redact_text(text),
            actor=None,
            data={"escalation_id": esc.id, **data},
        )


def start(
    session: Session,
    clock: Clock,
    *,
    plan: rules.Plan,
    policy: EscalationPolicy | None,
    title: str,
    incident_id: int | None = None,
    alert_id: int | None = None,
    started_by: str = "warroom",
) -> Escalation:
    """Starts an escalation of `plan` and returns it, its first step due now.
    Checks nothing (callers decide who may page whom); writes a "Paging started" line in the
    incident's timeline and makes sure the link-signing key exists. Publishes nothing; runs in the
    caller's transaction."""
    now = clock.now()
    links.signing_key(session)  # deliveries only read it
    esc = Escalation(
        policy_id=policy.id if policy else None,
        policy_name=policy.name if policy else "direct page",
        incident_id=incident_id,
        alert_id=alert_id,
        title=title[:300],
        state="triggered",
        plan=plan.to_json(),
        pass_no=0,
        level=0,
        next_step_at=now,
        started_at=now,
        acknowledged_by="",
    )
    session.add(esc)
    session.flush()
    passes = plan.repeat + 1
    timeline(
        session,
        clock,
        esc,
        f"Paging started ({esc.policy_name}): {len(plan.levels)} level(s), "
        f"{passes} pass(es), started by {started_by}",
        policy=esc.policy_name,
    )
    _enqueue_step(session, now, esc, rules.Step(0, 0, now))
    return esc


def _enqueue_step(
    session: Session, now: datetime, esc: Escalation, step: rules.Step, fresh: bool = False
) -> None:
    enqueue(
        session,
        kind=STEP_JOB,
        key=f"esc:{esc.id}:{step.pass_no}:{step.level}",
        due_at=step.at,
        payload={
            "escalation_id": esc.id,
            "pass_no": step.pass_no,
            "level": step.level,
            "at": iso(step.at),
        },
        now=now,
        max_attempts=20,
        fresh=fresh,
    )


def _active_for(session: Session, **where: Any) -> list[Escalation]:
    q = select(Escalation).where(Escalation.state.in_(rules.ACTIVE))
    for col, value in where.items():
        q = q.where(getattr(Escalation, col) == value)
    return list(session.scalars(q.order_by(Escalation.id)))


def start_for_incident(session: Session, clock: Clock, incident_id: int, title: str) -> None:
    """Starts the escalation policy of each of the incident's services (once per policy)."""
    policy_ids = list(
        session.scalars(
            select(Service.escalation_policy_id)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(
                IncidentService.incident_id == incident_id,
                Service.escalation_policy_id.is_not(None),
            )
            .distinct()
        )
    )
    running = {e.policy_id for e in _active_for(session, incident_id=incident_id)}
    for pid in sorted(p for p in policy_ids if p is not None):
        if pid in running:
            continue
        policy = session.get(EscalationPolicy, pid)
        if policy is None:
            continue
        start(
            session,
            clock,
            plan=policy_plan(session, policy),
            policy=policy,
            title=title,
            incident_id=incident_id,
        )


def start_for_alert(
    session: Session, clock: Clock, alert_id: int, service_id: int | None, title: str
) -> None:
    """Pages for an alert that opens no incident but whose rule says it pages: the
    escalation policy of the alert's service, once per alert."""
    if service_id is None or _active_for(session, alert_id=alert_id):
        return
    svc = session.get(Service, service_id)
    if svc is None or svc.escalation_policy_id is None:
        return
    policy = session.get(EscalationPolicy, svc.escalation_policy_id)
    if policy is None:
        return
    start(
        session,
        clock,
        plan=policy_plan(session, policy),
        policy=policy,
        title=(title or "Alert")[:300],
        alert_id=alert_id,
    )


def page_directly(
    session: Session,
    clock: Clock,
    principal: Principal,
    incident_id: int,
    title: str,
    *,
    policy: str | None = None,
    users: list[str] | None = None,
    timeout_minutes: int = 5,
) -> Escalation:
    """Pages a policy or named people for an incident on a responder's request."""
    require_responder(principal)
    if bool(policy) == bool(users):
        raise ValidationFailed("give either policy or users", field="policy")
    if policy:
        row = get_policy(session, policy)
        plan, pol = policy_plan(session, row), row
    else:
        names = [user_by_name(session, n).name for n in users or []]
        if not 1 <= timeout_minutes <= rules.MAX_TIMEOUT_MINUTES:
            raise ValidationFailed(
                f"timeout_minutes must be 1-{rules.MAX_TIMEOUT_MINUTES}", field="timeout_minutes"
            )
        plan = rules.Plan(
            (rules.Level(timeout_minutes, tuple(rules.Target("user", n) for n in names)),)
        )
        pol = None
    return start(
        session,
        clock,
        plan=plan,
        policy=pol,
        title=title,
        incident_id=incident_id,
        started_by=principal.name,
    )


# --- firing steps -----------------------------------------------------------------------


def resolve_targets(
    session: Session, targets: tuple[rules.Target, ...], at: datetime, reuse: bool = False
) -> tuple[list[tuple[User, str]], list[str]]:
    """The people a level pages (each once, with why) and problems worth a timeline line.
    `reuse` keeps loaded schedules for the session (the engine's batch of steps)."""
    people: dict[int, tuple[User, str]] = {}
    problems: list[str] = []
    for t in targets:
        ids: list[int] = []
        if t.type == "user":
            uid = session.scalar(select(User.id).where(User.name == t.name, User.active))
            if uid is None:
                problems.append(f"user {t.name} does not exist or is inactive")
            else:
                ids = [uid]
        elif t.type == "schedule":
            try:
                ids = on_call_user_ids(session, t.name, at, t.level, reuse=reuse)
            except NotFound:
                problems.append(f"schedule {t.name} does not exist")
            else:
                if not ids:
                    problems.append(f"nobody is on call on {t.label()}")
        elif t.type == "team":
            ids = list(
                session.scalars(
                    select(TeamMember.user_id)
                    .join(Team, Team.id == TeamMember.team_id)
                    .join(User, User.id == TeamMember.user_id)
                    .where(Team.name == t.name, User.active)
                )
            )
            if not ids:
                problems.append(f"team {t.name} has no active members")
        for uid in ids:
            if uid not in people:
                user = session.get(User, uid)
                if user is not None:
                    people[uid] = (user, t.label())
    return list(people.values()), problems


def add_notification(
    session: Session,
    now: datetime,
    esc: Escalation,
    *,
    key: str,
    kind: str,
    address: str,
    secret: str = "",
    user_id: int | None,
    method_id: int | None,
    reason: str,
    due_at: datetime,
    step: tuple[int, int] | None = None,
    fresh: bool = False,
) -> Notification | None:
    """A notification and its first delivery job (None if the key exists already).
    `step` is (pass, level); the escalation's current step by default. `fresh` skips the
    look-up for a key that cannot exist yet (a step fires once)."""
    if not fresh and session.scalar(select(Notification.id).where(Notification.key == key)):
        return None
    n = Notification(
        escalation_id=esc.id,
        user_id=user_id,
        method_id=method_id,
        kind=kind,
        address=address,
        secret=secret,
        reason=reason[:300],
        pass_no=step[0] if step else esc.pass_no,
        level=step[1] if step else esc.level,
        key=key,
        state="pending",
        due_at=due_at,
        attempts=0,
        last_error="",
        log=[],
        created_at=now,
    )
    session.add(n)
    session.flush()
    enqueue(
        session,
        kind=NOTIFY_JOB,
        key=f"notify:{n.id}:1",
        due_at=due_at,
        payload={"notification_id": n.id, "attempt": 1},
        now=now,
        max_attempts=20,
        fresh=True,  # the notification was just created
    )
    return n


def page_user(
    session: Session, clock: Clock, esc: Escalation, user: User, why: str, at: datetime
) -> list[Notification]:
    """Notifications for one person following their rules (every method at once if none;
    their account email if they have no methods)."""
    now = clock.now()
    base = f"page:{esc.id}:{esc.pass_no}:{esc.level}:{user.id}"
    cache: dict[int, Any] = session.info.setdefault("paging_contacts", {})
    if user.id not in cache:
        cache[user.id] = (
            contact_methods(session, user.id),
            [rules.Rule(name, r.after_minutes) for r, name in notification_rules(session, user.id)],
        )
    methods, user_rules = cache[user.id]
    reason = f"level {esc.level + 1}, pass {esc.pass_no + 1} ({why})"
    if not methods:
        n = add_notification(
            session,
            now,
            esc,
            key=f"{base}:email",
            kind="email",
            address=user.email,
            user_id=user.id,
            method_id=None,
            reason=reason,
            due_at=at,
            fresh=True,
        )
        return [n] if n else []
    by_name = {m.name: m for m in methods}
    plan = rules.contact_plan(user_rules, [m.name for m in methods])
    out = []
    for r in plan:
        m = by_name[r.method]
        n = add_notification(
            session,
            now,
            esc,
            key=f"{base}:{m.name}",
            kind=m.kind,
            address=m.address,
            secret=m.secret,
            user_id=user.id,
            method_id=m.id,
            reason=reason + (f", after {r.after_minutes} min" if r.after_minutes else ""),
            due_at=at + timedelta(minutes=r.after_minutes),
            fresh=True,
        )
        if n:
            out.append(n)
    return out


def run_step(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler: fires one step (or the exhaustion) of an escalation."""
    esc = session.get(Escalation, int(payload["escalation_id"]))
    if esc is None or esc.state != "triggered":
        return
    if payload.get("exhaust"):
        _exhaust(session, clock, esc)
        return
    # Each step job exists once (its key) and commits with its effects, so it fires once.
    pass_no, level = int(payload["pass_no"]), int(payload["level"])
    plan = rules.Plan.from_json(esc.plan)
    if level >= len(plan.levels):
        return
    at = parse_utc(payload["at"]) if payload.get("at") else clock.now()
    esc.pass_no, esc.level = pass_no, level
    lv = plan.levels[level]
    people, problems = resolve_targets(session, lv.targets, clock.now(), reuse=True)
    sent = []
    for user, why in people:
        if page_user(session, clock, esc, user, why, clock.now()):
            sent.append(f"{user.name} ({why})")
    where = f"level {level + 1} of {len(plan.levels)}, pass {pass_no + 1} of {plan.repeat + 1}"
    text = f"Paging {where}: {', '.join(sent) if sent else 'nobody to page'}"
    if problems:
        text += "; " + "; ".join(problems)
    timeline(session, clock, esc, text, pass_no=pass_no, level=level, problems=problems)
    nxt = rules.after(plan, rules.Step(pass_no, level, at))
    now = clock.now()
    if isinstance(nxt, rules.Step):
        esc.next_step_at = nxt.at
        # A step fires once, so the next step's job is new.
        _enqueue_step(session, now, esc, nxt, fresh=True)
    else:
        esc.next_step_at = nxt.at
        enqueue(
            session,
            kind=STEP_JOB,
            key=f"esc:{esc.id}:exhaust",
            due_at=nxt.at,
            payload={"escalation_id": esc.id, "exhaust": True},
            now=now,
            max_attempts=20,
        )


def _exhaust(session: Session, clock: Clock, esc: Escalation) -> None:
    now = clock.now()
    esc.state = rules.transition(esc.state, "exhaust")
    esc.exhausted_at = now
    esc.next_step_at = None
    plan = rules.Plan.from_json(esc.plan)
    text = f"Nobody acknowledged the page after {plan.repeat + 1} pass(es) of {esc.policy_name}"
    team = session.scalar(select(Team).where(Team.name == plan.fallback)) if plan.fallback else None
    if team is not None and team.channel_url:
        kind = "webhook" if team.channel_url.startswith(("http://", "https://")) else "apprise"
        add_notification(
            session,
            now,
            esc,
            key=f"page:{esc.id}:fallback",
            kind=kind,
            address=team.channel_url,
            user_id=None,
            method_id=None,
            reason=f"fallback: team {team.name}'s channel {team.channel}".strip(),
            due_at=now,
        )
        text += f"; notifying team {team.name}'s channel {team.channel}".rstrip()
    elif team is not None:
        text += f"; team {team.name} has no channel_url, so no fallback could be notified"
    else:
        text += "; the policy names no fallback team"
    timeline(session, clock, esc, text, exhausted=True)


# --- stopping ---------------------------------------------------------------------------


def _cancel_pending(session: Session, esc: Escalation, why: str) -> int:
    result = session.execute(
        update(Notification)
        .where(
            Notification.escalation_id == esc.id,
            Notification.state == "pending",
            Notification.reason.not_like("fallback%"),
        )
        .values(state="skipped", last_error=why)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def stop(session: Session, clock: Clock, esc: Escalation, event: str, by: str) -> bool:
    """Acknowledges or resolves one escalation; False if it was already past that."""
    try:
        new_state = rules.transition(esc.state, event)
    except ValueError:
        return False
    now = clock.now()
    esc.state = new_state
    esc.next_step_at = None
    if event == "acknowledge":
        esc.acknowledged_at = now
        esc.acknowledged_by = by[:100]
        cancelled = _cancel_pending(session, esc, f"acknowledged by {by}")
        text = f"Page acknowledged by {by}; escalation stopped"
    else:
        esc.resolved_at = now
        cancelled = _cancel_pending(session, esc, f"resolved by {by}")
        text = f"Paging ended ({esc.policy_name}): resolved by {by}"
    if cancelled:
        text += f" ({cancelled} pending notification(s) cancelled)"
    timeline(session, clock, esc, text, state=new_state)
    return True


def stop_for_incident(
    session: Session, clock: Clock, incident_id: int, event: str, by: str
) -> None:
    """Stops every active escalation of the incident with `event` ('acknowledge' or 'resolve').
    Escalations already past that are left as they are, so this is idempotent; pending
    notifications are cancelled. Publishes nothing; runs in the caller's transaction."""
    for esc in _active_for(session, incident_id=incident_id):
        stop(session, clock, esc, event, by)


def stop_for_alert(session: Session, clock: Clock, alert_id: int, event: str, by: str) -> None:
    """Stops every active escalation of the alert with `event` ('acknowledge' or 'resolve').
    Escalations already past that are left as they are, so this is idempotent; pending
    notifications are cancelled. Publishes nothing; runs in the caller's transaction."""
    for esc in _active_for(session, alert_id=alert_id):
        stop(session, clock, esc, event, by)


def act(session: Session, clock: Clock, principal: Principal, esc: Escalation, action: str) -> None:
    """Acknowledge or resolve what was paged (the incident or the alert): published as
    `PageAcknowledged` / `PageResolved` for its owner to carry out, which stops this
    escalation and any other for the same incident or alert. Needs the responder role."""
    require_responder(principal)
    if action not in ("ack", "resolve"):
        raise ValidationFailed("action must be ack or resolve", field="action")
    if esc.state == "resolved":
        raise Conflict(f"page {esc.id} is already resolved", field="state")
    kind = events.PageAcknowledged if action == "ack" else events.PageResolved
    seam.publish(
        session,
        clock,
        kind(
            at=clock.now(),
            escalation_id=esc.id,
            incident_id=esc.incident_id,
            alert_id=esc.alert_id,
            by=principal.name,
            by_user_id=principal.user_id,
        ),
    )
    # Whatever the incident or alert did, this escalation ends up stopped.
    stop(session, clock, esc, "acknowledge" if action == "ack" else "resolve", principal.name)
