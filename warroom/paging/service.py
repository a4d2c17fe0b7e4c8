"""Paging: starting escalations, firing their steps, acknowledging and resolving them.

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

from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.engine.queue import enqueue
from warroom.paging import rules
from warroom.paging.models import (
    ContactMethod,
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationRule,
)
from warroom.notify import links
from warroom.org.models import Service, Team, TeamMember, User

STEP_JOB = "escalation_step"
NOTIFY_JOB = "notify"


# --- policies ---------------------------------------------------------------------------


def get_policy(session: Session, name: str) -> EscalationPolicy:
    row = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    if row is None:
        raise NotFound(f"no escalation policy named {name!r}", field="policy")
    return row


def list_policies(session: Session) -> list[EscalationPolicy]:
    return list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


def policy_plan(session: Session, policy: EscalationPolicy) -> rules.Plan:
    levels = session.scalars(
        select(EscalationLevel)
        .where(EscalationLevel.policy_id == policy.id)
        .order_by(EscalationLevel.position)
    )
    fallback = session.get(Team, policy.fallback_team_id) if policy.fallback_team_id else None
    return rules.Plan(
        levels=tuple(
            rules.Level(
                lv.timeout_minutes,
                tuple(
                    rules.Target(t["type"], t["name"], int(t.get("level", 1)))
                    for t in lv.targets or []
                ),
            )
            for lv in levels
        ),
        repeat=policy.repeat,
        fallback=fallback.name if fallback else None,
    )


def policy_dict(session: Session, policy: EscalationPolicy) -> dict[str, Any]:
    plan = policy_plan(session, policy)
    services = list(
        session.scalars(
            select(Service.name)
            .where(Service.escalation_policy_id == policy.id)
            .order_by(Service.name)
        )
    )
    return {
        "name": policy.name,
        "description": policy.description,
        "repeat": plan.repeat,
        "fallback": plan.fallback,
        "levels": plan.to_json()["levels"],
        "services": services,
    }


# --- contact methods and rules ----------------------------------------------------------


def contact_methods(session: Session, user_id: int) -> list[ContactMethod]:
    return list(
        session.scalars(
            select(ContactMethod)
            .where(ContactMethod.user_id == user_id)
            .order_by(ContactMethod.position, ContactMethod.id)
        )
    )


def notification_rules(session: Session, user_id: int) -> list[tuple[NotificationRule, str]]:
    return list(
        session.execute(
            select(NotificationRule, ContactMethod.name)
            .join(ContactMethod, ContactMethod.id == NotificationRule.method_id)
            .where(NotificationRule.user_id == user_id)
            .order_by(NotificationRule.position, NotificationRule.id)
        )
    )


def check_method(kind: str, address: str, field: str) -> None:
    """Raises ValidationFailed naming `field` when a contact method cannot work."""
    from warroom.notify.channels import check_apprise_url

    if kind not in rules.METHOD_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(rules.METHOD_KINDS)}", field=f"{field}.kind"
        )
    address = address.strip()
    if not address:
        raise ValidationFailed("address must not be empty", field=f"{field}.address")
    if kind == "email" and ("@" not in address or " " in address):
        raise ValidationFailed(f"{address!r} is not an email address", field=f"{field}.address")
    if kind == "webhook" and not address.startswith(("http://", "https://")):
        raise ValidationFailed(
            "a webhook address must start with http:// or https://", field=f"{field}.address"
        )
    if kind == "apprise":
        problem = check_apprise_url(address)
        if problem:
            raise ValidationFailed(problem, field=f"{field}.address")


def set_contact(
    session: Session,
    user: User,
    methods: list[dict[str, Any]],
    rule_items: list[dict[str, Any]],
) -> None:
    """Replaces a person's contact methods and notification rules (validated first)."""
    names: set[str] = set()
    for i, m in enumerate(methods):
        name = str(m.get("name") or "").strip()
        if not name or len(name) > 64:
            raise ValidationFailed(
                "name must be 1-64 characters", field=f"contact_methods[{i}].name"
            )
        if name in names:
            raise ValidationFailed(
                f"duplicate contact method {name!r}", field=f"contact_methods[{i}].name"
            )
        names.add(name)
        check_method(str(m.get("kind") or ""), str(m.get("address") or ""), f"contact_methods[{i}]")
    for i, r in enumerate(rule_items):
        if r.get("method") not in names:
            raise ValidationFailed(
                f"unknown contact method {r.get('method')!r}",
                field=f"notification_rules[{i}].method",
            )
        after = r.get("after_minutes", 0)
        if not isinstance(after, int) or not 0 <= after <= rules.MAX_DELAY_MINUTES:
            raise ValidationFailed(
                f"after_minutes must be a whole number from 0 to {rules.MAX_DELAY_MINUTES}",
                field=f"notification_rules[{i}].after_minutes",
            )
    existing = {m.name: m for m in contact_methods(session, user.id)}
    for rule in session.scalars(
        select(NotificationRule).where(NotificationRule.user_id == user.id)
    ):
        session.delete(rule)
    session.flush()  # the rules go first: deleting a method cascades to its rules in the store
    for name, row in existing.items():
        if name not in names:
            session.delete(row)
    session.flush()
    rows: dict[str, ContactMethod] = {}
    for position, m in enumerate(methods):
        row = existing.get(m["name"]) or ContactMethod(user_id=user.id, name=m["name"])
        row.kind = m["kind"]
        row.address = str(m["address"]).strip()
        row.secret = str(m.get("secret") or "")
        row.position = position
        session.add(row)
        rows[row.name] = row
    session.flush()
    for position, r in enumerate(rule_items):
        session.add(
            NotificationRule(
                user_id=user.id,
                method_id=rows[r["method"]].id,
                after_minutes=int(r.get("after_minutes", 0)),
                position=position,
            )
        )
    session.flush()


def contact_dict(session: Session, user: User, show_secrets: bool = False) -> dict[str, Any]:
    methods = contact_methods(session, user.id)
    return {
        "user": user.name,
        "contact_methods": [
            {
                "name": m.name,
                "kind": m.kind,
                "address": m.address,
                **({"secret": m.secret} if show_secrets and m.secret else {}),
                **({"signed": bool(m.secret)} if m.kind == "webhook" else {}),
            }
            for m in methods
        ],
        "notification_rules": [
            {"method": name, "after_minutes": r.after_minutes}
            for r, name in notification_rules(session, user.id)
        ],
        "default_email": None if methods else user.email,
    }


# --- starting ---------------------------------------------------------------------------


def timeline(session: Session, clock: Clock, esc: Escalation, text: str, **data: Any) -> None:
    if esc.incident_id is None:
        return
    from warroom.incidents import service as incidents
    from warroom.incidents.models import Incident

    inc = session.get(Incident, esc.incident_id)
    if inc is not None:
        incidents.record(
            session,
            clock,
            inc,
            kind="page",
            text=text,
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
    from warroom.incidents.models import IncidentService

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


def start_for_alert(session: Session, clock: Clock, alert_id: int, service_id: int | None) -> None:
    """Pages for an alert that opens no incident but whose rule says it pages."""
    if service_id is None or _active_for(session, alert_id=alert_id):
        return
    svc = session.get(Service, service_id)
    if svc is None or svc.escalation_policy_id is None:
        return
    policy = session.get(EscalationPolicy, svc.escalation_policy_id)
    if policy is None:
        return
    from warroom.alerts.models import Alert

    alert = session.get(Alert, alert_id)
    start(
        session,
        clock,
        plan=policy_plan(session, policy),
        policy=policy,
        title=(alert.summary if alert else "Alert")[:300],
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
    if bool(policy) == bool(users):
        raise ValidationFailed("give either policy or users", field="policy")
    if policy:
        row = get_policy(session, policy)
        plan, pol = policy_plan(session, row), row
    else:
        from warroom.org.service import user_by_name

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
    from warroom.oncall.service import on_call_user_ids

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
    at = datetime.fromisoformat(payload["at"]) if payload.get("at") else clock.now()
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
    for esc in _active_for(session, incident_id=incident_id):
        stop(session, clock, esc, event, by)


def stop_for_alert(session: Session, clock: Clock, alert_id: int, event: str, by: str) -> None:
    for esc in _active_for(session, alert_id=alert_id):
        stop(session, clock, esc, event, by)


def get_escalation(session: Session, escalation_id: int) -> Escalation:
    if not 0 < escalation_id < 2**31:
        raise NotFound(f"page {escalation_id} not found", field="escalation_id")
    esc = session.get(Escalation, escalation_id)
    if esc is None:
        raise NotFound(f"page {escalation_id} not found", field="escalation_id")
    return esc


def act(session: Session, clock: Clock, principal: Principal, esc: Escalation, action: str) -> None:
    """Acknowledge or resolve what was paged (the incident or the alert), which stops this
    escalation and any other for the same incident or alert."""
    from warroom.alerts import service as alerts
    from warroom.incidents import service as incidents
    from warroom.incidents.models import Incident

    if action not in ("ack", "resolve"):
        raise ValidationFailed("action must be ack or resolve", field="action")
    if esc.state == "resolved":
        raise Conflict(f"page {esc.id} is already resolved", field="state")
    if esc.incident_id is not None:
        inc = session.get(Incident, esc.incident_id)
        assert inc is not None
        if action == "ack":
            incidents.acknowledge(session, clock, principal, inc)
        else:
            incidents.resolve(session, clock, principal, inc, summary="")
    elif esc.alert_id is not None:
        alert = alerts.get_alert(session, esc.alert_id)
        if action == "ack":
            alerts.acknowledge(session, clock, principal, alert)
        else:
            alerts.resolve(session, clock, principal, alert)
    # Whatever the incident or alert did, this escalation ends up stopped.
    stop(session, clock, esc, "acknowledge" if action == "ack" else "resolve", principal.name)


# --- views ------------------------------------------------------------------------------


def notification_dict(n: Notification, users: dict[int, str]) -> dict[str, Any]:
    return {
        "id": n.id,
        "user": users.get(n.user_id) if n.user_id else None,
        "kind": n.kind,
        "reason": n.reason,
        "level": n.level + 1,
        "pass": n.pass_no + 1,
        "state": n.state,
        "idempotency_key": n.key,
        "due_at": iso(n.due_at),
        "attempts": n.attempts,
        "last_error": n.last_error,
        "sent_at": iso(n.sent_at) if n.sent_at else None,
        "log": list(n.log or []),
    }


def escalation_dict(
    session: Session, esc: Escalation, with_notifications: bool = False
) -> dict[str, Any]:
    from warroom.incidents.rules import short_id

    plan = rules.Plan.from_json(esc.plan)
    out: dict[str, Any] = {
        "id": esc.id,
        "policy": esc.policy_name,
        "incident": short_id(esc.incident_id) if esc.incident_id else None,
        "alert_id": esc.alert_id,
        "title": esc.title,
        "state": esc.state,
        "level": esc.level + 1,
        "levels": len(plan.levels),
        "pass": esc.pass_no + 1,
        "passes": plan.repeat + 1,
        "next_step_at": iso(esc.next_step_at) if esc.next_step_at else None,
        "started_at": iso(esc.started_at),
        "acknowledged_at": iso(esc.acknowledged_at) if esc.acknowledged_at else None,
        "acknowledged_by": esc.acknowledged_by or None,
        "exhausted_at": iso(esc.exhausted_at) if esc.exhausted_at else None,
        "resolved_at": iso(esc.resolved_at) if esc.resolved_at else None,
    }
    if with_notifications:
        users = dict(session.execute(select(User.id, User.name)).all())
        out["notifications"] = [
            notification_dict(n, users)
            for n in session.scalars(
                select(Notification)
                .where(Notification.escalation_id == esc.id)
                .order_by(Notification.due_at, Notification.id)
            )
        ]
    return out


def list_escalations(
    session: Session,
    *,
    state: str | None = None,
    incident_id: int | None = None,
    user_id: int | None = None,
    limit: int = 100,
) -> list[Escalation]:
    q = select(Escalation)
    if state == "active":
        q = q.where(Escalation.state.in_(rules.ACTIVE))
    elif state:
        if state not in rules.STATES:
            raise ValidationFailed(
                f"state must be active or one of {', '.join(rules.STATES)}", field="state"
            )
        q = q.where(Escalation.state == state)
    if incident_id is not None:
        q = q.where(Escalation.incident_id == incident_id)
    if user_id is not None:
        q = q.where(
            Escalation.id.in_(
                select(Notification.escalation_id).where(Notification.user_id == user_id)
            )
        )
    return list(session.scalars(q.order_by(Escalation.id.desc()).limit(limit)))
