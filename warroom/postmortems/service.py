"""Postmortem documents: created on resolve when required, drafted from facts, edited,
reviewed and published.

Invariants:
- Roles: responders write (start, edit, submit, add action items); the owner and
  reviewers (responders other than the owner) review; only reviewers (or admins)
  override a blameless finding, always with a reason; the owner or an admin publishes,
  and an admin may publish without an approval — never past the gate.
- States: draft -> in_review -> published; a reviewer asking for changes sends it back
  to draft; reopening a published one makes it a draft of the next revision. Every
  state change writes a revision row (kept, never updated) and the incident timeline.
- Publishing requires the gate (`rules.gate`) to pass and, for non-admins, an approval
  on the current revision with no later request for changes.
- Bad input is a ValidationFailed naming the field, raised before anything is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.incidents import rules as incident_rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident, RoleAssignment
from warroom.org.models import User
from warroom.org.service import severity_by_name, user_by_name
from warroom.postmortems import draft as drafting
from warroom.postmortems import reminders, rules
from warroom.postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemReview,
    PostmortemRevision,
    PostmortemRules,
)
from warroom.slos import service as slo_service

MAX_TEXT = 50_000  # characters per free-text section
MAX_WHYS = 10
MAX_REASON = 2_000


def load_rules(session: Session) -> rules.Rules:
    """The `postmortems:` rules from config as code (defaults when none were applied)."""
    return reminders.load_rules(session)


def save_rules(session: Session, data: dict[str, Any] | None) -> None:
    """Replaces the rules (None: back to the defaults). Called by config apply."""
    row = session.get(PostmortemRules, 1)
    if data is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(PostmortemRules(id=1, data=dict(data)))
    else:
        row.data = dict(data)
    session.flush()


def commander_id(session: Session, incident_id: int) -> int | None:
    """The Incident Commander holding the role now, else the last one who held it."""
    return session.scalar(
        select(RoleAssignment.user_id)
        .where(RoleAssignment.incident_id == incident_id, RoleAssignment.role == "commander")
        .order_by(RoleAssignment.ended_at.is_not(None), RoleAssignment.id.desc())
        .limit(1)
    )


def decide(session: Session, inc: Incident) -> rules.Decision:
    """Whether the incident needs a postmortem, from its severity's policy and the rules."""
    sev = severity_by_name(session, inc.severity)
    targets = sev.targets or {}
    start = inc.started_at or inc.declared_at
    end = inc.resolved_at or inc.declared_at
    minutes = (ensure_utc(end) - ensure_utc(start)).total_seconds() / 60
    return rules.decide(
        budget_percent=budget_spent(session, inc),
        severity=sev.name,
        policy=targets.get("postmortem"),
        due_hours=targets.get("postmortem_due_hours"),
        duration_minutes=minutes,
        detection_source=inc.detection_source,
        drill=inc.drill,
        rules=load_rules(session),
    )


def budget_spent(session: Session, inc: Incident) -> float | None:
    """The largest share (percent) of one SLO's error budget the incident spent, measured
    up to its resolution; None when no SLO covers it."""
    at = ensure_utc(inc.resolved_at or inc.closed_at or inc.updated_at)
    return slo_service.max_spend_percent(session, inc, at)


def _needs_p0(session: Session, inc: Incident) -> str | None:
    limit = load_rules(session).error_budget_percent
    spent = budget_spent(session, inc)
    if limit is None or spent is None or spent <= limit:
        return None
    return f"the incident spent {spent:g}% of an error budget, more than {limit:g}%"


def for_incident(session: Session, incident_id: int) -> Postmortem | None:
    """The incident's postmortem, if it has one."""
    return session.scalar(select(Postmortem).where(Postmortem.incident_id == incident_id))


def _create(
    session: Session,
    clock: Clock,
    inc: Incident,
    decision: rules.Decision,
    owner_id: int | None,
    by: Principal | None,
) -> Postmortem:
    now = clock.now()
    resolved = inc.resolved_at or now
    pm = Postmortem(
        incident_id=inc.id,
        status="draft",
        requirement=decision.level,
        reasons=list(decision.reasons),
        owner_id=owner_id,
        due_at=rules.due_at(resolved, decision.due_hours) if decision.level != "optional" else None,
        revision=1,
        content=drafting.draft(session, clock, inc),
        overrides={},
        created_at=now,
        updated_at=now,
    )
    session.add(pm)
    session.flush()
    reminders.schedule(session, clock, "postmortem", pm.id, pm.due_at)
    # The room's follow-ups created before the postmortem become its action items.
    session.execute(
        update(ActionItem)
        .where(ActionItem.incident_id == inc.id, ActionItem.postmortem_id.is_(None))
        .values(postmortem_id=pm.id)
    )
    return pm


def on_resolved(session: Session, clock: Clock, incident_id: int, by: str) -> Postmortem | None:
    """The reaction to a resolved incident: a required postmortem is created (owner: the
    Incident Commander, else whoever resolved it; due per the policy); a recommended
    one is offered in the room. Idempotent: an incident that has one keeps it."""
    inc = session.get(Incident, incident_id)
    if inc is None or inc.status not in ("resolved", "closed"):
        return None
    existing = for_incident(session, inc.id)
    if existing is not None:
        return existing
    decision = decide(session, inc)
    ref = incident_rules.short_id(inc.id)
    if decision.level == "required":
        owner = commander_id(session, inc.id)
        if owner is None:
            owner = session.scalar(select(User.id).where(User.name == by))
        pm = _create(session, clock, inc, decision, owner, None)
        owner_name = _user_name(session, pm.owner_id) or "nobody (assign an owner)"
        incident_timeline.record(
            session,
            clock,
            inc,
            kind="note",
            text=(
                f"Postmortem required ({'; '.join(decision.reasons)}): owner {owner_name}, "
                f"due {iso(pm.due_at)}. Draft: warroom postmortem show {ref}"
            ),
            actor=None,
            data={"postmortem": pm.id, "requirement": "required"},
        )
        return pm
    if decision.level == "recommended":
        incident_timeline.record(
            session,
            clock,
            inc,
            kind="note",
            text=(
                f"A postmortem is recommended ({'; '.join(decision.reasons)}). "
                f"Start one with: warroom postmortem edit {ref}"
            ),
            actor=None,
            data={"requirement": "recommended"},
        )
    return None


def start(session: Session, clock: Clock, principal: Principal, inc: Incident) -> Postmortem:
    """Starts a postmortem that was recommended or optional (a responder; the caller owns
    it). Returns the existing one if the incident has one."""
    require_responder(principal)
    existing = for_incident(session, inc.id)
    if existing is not None:
        return existing
    if inc.status not in ("resolved", "closed"):
        raise Conflict(
            f"{incident_rules.short_id(inc.id)} is {inc.status}: a postmortem starts once it "
            "is resolved",
            field="incident_id",
        )
    decision = decide(session, inc)
    owner = principal.user_id or commander_id(session, inc.id)
    pm = _create(session, clock, inc, decision, owner, principal)
    incident_timeline.record(
        session,
        clock,
        inc,
        kind="note",
        text="Postmortem started",
        actor=principal,
        data={"postmortem": pm.id},
    )
    return pm


def get(session: Session, inc: Incident) -> Postmortem:
    """The incident's postmortem; NotFound (404, field `incident_id`) if it has none."""
    pm = for_incident(session, inc.id)
    if pm is None:
        raise NotFound(f"{incident_rules.short_id(inc.id)} has no postmortem", field="incident_id")
    return pm


def _user_name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    u = session.get(User, user_id)
    return u.name if u else None


def _clean_content(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key in rules.TEXT_SECTIONS or key == "title":
            if not isinstance(value, str):
                raise ValidationFailed(f"{key} must be text (Markdown)", field=key)
            if len(value) > MAX_TEXT:
                raise ValidationFailed(f"{key} is longer than {MAX_TEXT} characters", field=key)
            out[key] = value
        elif key == "whys":
            if not isinstance(value, list) or len(value) > MAX_WHYS:
                raise ValidationFailed(
                    f"whys must be a list of at most {MAX_WHYS} {{why, because}} pairs",
                    field="whys",
                )
            chain = []
            for n, w in enumerate(value):
                if not isinstance(w, dict) or set(w) - {"why", "because"}:
                    raise ValidationFailed(
                        "each level of the 5 Whys is {why, because}", field=f"whys[{n}]"
                    )
                for part in ("why", "because"):
                    text = w.get(part, "")
                    if not isinstance(text, str) or len(text) > MAX_REASON:
                        raise ValidationFailed(
                            f"{part} must be text of at most {MAX_REASON} characters",
                            field=f"whys[{n}].{part}",
                        )
                chain.append({"why": w.get("why", ""), "because": w.get("because", "")})
            out["whys"] = chain
        elif key == "factors":
            if not isinstance(value, list):
                raise ValidationFailed("factors must be a list of pattern tags", field="factors")
            for n, tag in enumerate(value):
                if tag not in rules.PATTERNS:
                    raise ValidationFailed(
                        f"factors[{n}] must be one of {', '.join(rules.PATTERNS)}",
                        field=f"factors[{n}]",
                        allowed=list(rules.PATTERNS),
                    )
            out["factors"] = list(dict.fromkeys(value))
        else:
            raise ValidationFailed(f"{key} is not a section of a postmortem", field=key)
    return out


def edit(
    session: Session,
    clock: Clock,
    principal: Principal,
    pm: Postmortem,
    changes: dict[str, Any],
    owner: str | None = None,
    due_at: datetime | None = None,
) -> Postmortem:
    """Changes sections (and the owner or due time) of a draft or in-review postmortem
    (a responder). A published one must be reopened first (409)."""
    require_responder(principal)
    clean = _clean_content(changes)
    if due_at is not None and due_at.tzinfo is None:
        raise ValidationFailed("due_at needs its offset (Z or +hh:mm)", field="due_at")
    owner_id = user_by_name(session, owner).id if owner else None
    if pm.status == "published":
        raise Conflict("a published postmortem is reopened before it is edited", field="status")
    now = clock.now()
    if clean:
        pm.content = {**(pm.content or {}), **clean}
    if owner_id is not None:
        pm.owner_id = owner_id
    if due_at is not None and due_at != pm.due_at:
        pm.due_at = due_at
        reminders.schedule(session, clock, "postmortem", pm.id, due_at)
    pm.updated_at = now
    session.flush()
    return pm


def _inc(session: Session, pm: Postmortem) -> Incident:
    inc = session.get(Incident, pm.incident_id)
    assert inc is not None
    return inc


def _note(session: Session, clock: Clock, pm: Postmortem, principal: Principal, text: str) -> None:
    """A note about the postmortem on its incident's timeline, written by `principal`."""
    incident_timeline.record(
        session,
        clock,
        _inc(session, pm),
        kind="note",
        text=text,
        actor=principal,
        data={"postmortem": pm.id},
    )


def _snapshot(session: Session, clock: Clock, pm: Postmortem, event: str, by: Principal) -> None:
    session.add(
        PostmortemRevision(
            postmortem_id=pm.id,
            number=pm.revision,
            event=event,
            status=pm.status,
            content=dict(pm.content or {}),
            by=by.name,
            at=clock.now(),
        )
    )
    session.flush()


def submit(session: Session, clock: Clock, principal: Principal, pm: Postmortem) -> Postmortem:
    """Sends a draft to review (a responder)."""
    require_responder(principal)
    if pm.status != "draft":
        raise Conflict(f"the postmortem is {pm.status}; only a draft is submitted", field="status")
    pm.status = "in_review"
    pm.submitted_at = pm.updated_at = clock.now()
    _snapshot(session, clock, pm, "submitted", principal)
    _note(session, clock, pm, principal, f"Postmortem revision {pm.revision} submitted for review")
    return pm


def _is_reviewer(principal: Principal, pm: Postmortem) -> bool:
    return principal.is_admin or (
        principal.can("responder")
        and principal.user_id is not None
        and principal.user_id != pm.owner_id
    )


def review(
    session: Session,
    clock: Clock,
    principal: Principal,
    pm: Postmortem,
    verdict: str,
    comment: str = "",
) -> PostmortemReview:
    """A reviewer approves, asks for changes (back to draft) or comments. The owner
    may comment but not approve their own postmortem."""
    require_responder(principal)
    if verdict not in rules.VERDICTS:
        raise ValidationFailed(
            f"verdict must be one of {', '.join(rules.VERDICTS)}",
            field="verdict",
            allowed=list(rules.VERDICTS),
        )
    if not isinstance(comment, str) or len(comment) > MAX_TEXT:
        raise ValidationFailed(
            f"comment must be text of at most {MAX_TEXT} characters", field="comment"
        )
    if verdict == "request_changes" and not comment.strip():
        raise ValidationFailed("say which changes: a comment is required", field="comment")
    if verdict != "comment":
        if not _is_reviewer(principal, pm):
            raise Forbidden(
                "the owner cannot approve their own postmortem; a reviewer does", field="verdict"
            )
        if pm.status != "in_review":
            raise Conflict(
                f"the postmortem is {pm.status}; submit it for review first", field="status"
            )
    r = PostmortemReview(
        postmortem_id=pm.id,
        revision=pm.revision,
        reviewer_id=principal.user_id,
        reviewer=principal.name,
        verdict=verdict,
        comment=comment,
        at=clock.now(),
    )
    session.add(r)
    if verdict == "request_changes":
        pm.status = "draft"
    pm.updated_at = clock.now()
    session.flush()
    if verdict != "comment":
        word = "approved" if verdict == "approve" else "changes requested"
        incident_timeline.record(
            session,
            clock,
            _inc(session, pm),
            kind="note",
            text=f"Postmortem revision {pm.revision}: {word}"
            + (f": {comment[:200]}" if comment else ""),
            actor=principal,
            data={"postmortem": pm.id, "verdict": verdict},
        )
    return r


def override(
    session: Session,
    clock: Clock,
    principal: Principal,
    pm: Postmortem,
    key: str,
    reason: str,
) -> Postmortem:
    """A reviewer (or an admin) accepts one blameless finding (`rules.finding_key`) with a
    reason; the gate then no longer counts it. An empty reason is a 422."""
    require_responder(principal)
    if not _is_reviewer(principal, pm):
        raise Forbidden("only a reviewer (not the owner) overrides a finding", field="key")
    if not isinstance(key, str) or not key.strip() or len(key) > 500:
        raise ValidationFailed("key names a finding (section:rule:phrase)", field="key")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ValidationFailed("an override needs a reason", field="reason")
    pm.overrides = {
        **(pm.overrides or {}),
        key: {"reason": reason.strip(), "by": principal.name, "at": iso(clock.now())},
    }
    pm.updated_at = clock.now()
    session.flush()
    return pm


def names(session: Session) -> tuple[str, ...]:
    """The people the store knows, for the blameless check."""
    return tuple(session.scalars(select(User.name)))


def items_of(session: Session, pm: Postmortem) -> list[ActionItem]:
    """The incident's action items (those of the postmortem and the room's follow-ups)."""
    return list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.incident_id == pm.incident_id)
            .order_by(ActionItem.id)
        )
    )


def gate(session: Session, pm: Postmortem) -> list[rules.Problem]:
    """What stands between the document and publishing (empty: nothing)."""
    items = [
        {
            "id": i.id,
            "title": i.title,
            "owner": i.owner_id,
            "due_at": i.due_at,
            "priority": i.priority,
            "status": i.status,
        }
        for i in items_of(session, pm)
    ]
    return rules.gate(
        dict(pm.content or {}),
        items,
        dict(pm.overrides or {}),
        min_whys=load_rules(session).min_whys,
        names=names(session),
        needs_p0=_needs_p0(session, inc)
        if (inc := session.get(Incident, pm.incident_id))
        else None,
    )


def _approved(session: Session, pm: Postmortem) -> bool:
    verdicts = list(
        session.scalars(
            select(PostmortemReview.verdict)
            .where(
                PostmortemReview.postmortem_id == pm.id,
                PostmortemReview.revision == pm.revision,
                PostmortemReview.verdict != "comment",
            )
            .order_by(PostmortemReview.id)
        )
    )
    return bool(verdicts) and verdicts[-1] == "approve"


def publish(session: Session, clock: Clock, principal: Principal, pm: Postmortem) -> Postmortem:
    """Publishes an in-review postmortem (the owner or an admin) once a reviewer approved
    this revision (admins may skip the approval) and the gate passes; 409 naming the
    field otherwise, with every gate problem listed."""
    require_responder(principal)
    if not (principal.is_admin or principal.user_id == pm.owner_id):
        raise Forbidden("only the owner or an admin publishes", field="owner")
    if pm.status != "in_review":
        raise Conflict(
            f"the postmortem is {pm.status}; it is published from review", field="status"
        )
    if not principal.is_admin and not _approved(session, pm):
        raise Conflict(f"revision {pm.revision} has no approval from a reviewer", field="reviews")
    problems = gate(session, pm)
    if problems:
        raise Conflict(
            f"the review gate refuses: {problems[0].message}",
            field=problems[0].field,
            problems=[p.to_dict() for p in problems],
        )
    now = clock.now()
    pm.status = "published"
    pm.published_at = pm.updated_at = now
    _snapshot(session, clock, pm, "published", principal)
    _note(session, clock, pm, principal, f"Postmortem revision {pm.revision} published")
    return pm


def reopen(session: Session, clock: Clock, principal: Principal, pm: Postmortem) -> Postmortem:
    """Makes a published postmortem a draft of its next revision (a responder); the
    published revision stays viewable."""
    require_responder(principal)
    if pm.status != "published":
        raise Conflict(
            f"the postmortem is {pm.status}; only a published one is reopened", field="status"
        )
    pm.revision += 1
    pm.status = "draft"
    pm.updated_at = clock.now()
    _snapshot(session, clock, pm, "reopened", principal)
    _note(session, clock, pm, principal, f"Postmortem reopened as revision {pm.revision}")
    return pm
