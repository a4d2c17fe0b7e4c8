"""Reading postmortems and action items: the API form, lists and views.

Invariants:
- Lists show only postmortems and action items of incidents the caller may see
  (`incidents.queries.visible_clause`); a private incident's are invisible, not redacted.
- Nothing here writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident
from warroom.incidents.queries import visible_clause
from warroom.org.models import TeamMember, User
from warroom.org.service import user_by_name
from warroom.postmortems import rules, service
from warroom.postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemReview,
    PostmortemRevision,
)


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


def item_dict(session: Session, item: ActionItem, now: datetime) -> dict[str, Any]:
    """The API form of an action item."""
    names = _names(session, {item.owner_id})
    return {
        "id": item.id,
        "incident": incident_rules.short_id(item.incident_id),
        "postmortem": item.postmortem_id,
        "title": item.title,
        "description": item.description,
        "owner": names.get(item.owner_id) if item.owner_id else None,
        "due_at": iso(item.due_at),
        "priority": item.priority,
        "kind": item.kind,
        "status": item.status,
        "reason": item.reason,
        "tracker_url": item.tracker_url,
        "overdue": rules.is_overdue(item.due_at, now, item.status in ("done", "wont_do")),
        "created_by": item.created_by,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "completed_at": iso(item.completed_at),
    }


def findings(session: Session, pm: Postmortem) -> list[dict[str, Any]]:
    """The blameless findings of every free-text section, each with its override key and
    whether a reviewer overrode it."""
    people = service.names(session)
    overrides = pm.overrides or {}
    content = pm.content or {}
    out: list[dict[str, Any]] = []
    sections: list[tuple[str, str]] = [(s, str(content.get(s, ""))) for s in rules.TEXT_SECTIONS]
    for n, w in enumerate(content.get("whys") or []):
        sections += [(f"whys[{n}].why", str(w.get("why", "")))]
        sections += [(f"whys[{n}].because", str(w.get("because", "")))]
    for section, text in sections:
        for f in rules.lint(text, names=people):
            key = rules.finding_key(section, f)
            out.append(
                {
                    "section": section,
                    **f.to_dict(),
                    "key": key,
                    "overridden": overrides.get(key),
                }
            )
    return out


def detail(session: Session, clock: Clock, pm: Postmortem) -> dict[str, Any]:
    """The postmortem's full API form: state, owner, due time, content, findings, the
    gate, reviews, revisions and action items."""
    inc = session.get(Incident, pm.incident_id)
    assert inc is not None
    now = clock.now()
    ref = incident_rules.short_id(inc.id)
    reviews = list(
        session.scalars(
            select(PostmortemReview)
            .where(PostmortemReview.postmortem_id == pm.id)
            .order_by(PostmortemReview.id)
        )
    )
    revisions = list(
        session.scalars(
            select(PostmortemRevision)
            .where(PostmortemRevision.postmortem_id == pm.id)
            .order_by(PostmortemRevision.id)
        )
    )
    names = _names(session, {pm.owner_id})
    content = dict(pm.content or {})
    return {
        "id": pm.id,
        "incident": {
            "id": ref,
            "title": inc.title,
            "severity": inc.severity,
            "status": inc.status,
        },
        "status": pm.status,
        "requirement": pm.requirement,
        "reasons": list(pm.reasons or []),
        "owner": names.get(pm.owner_id) if pm.owner_id else None,
        "due_at": iso(pm.due_at),
        "overdue": rules.is_overdue(pm.due_at, now, pm.status == "published"),
        "revision": pm.revision,
        "content": content,
        "placeholders": rules.placeholders(
            "\n".join(str(content.get(s, "")) for s in rules.TEXT_SECTIONS)
        ),
        "findings": findings(session, pm),
        "overrides": dict(pm.overrides or {}),
        "gate": [p.to_dict() for p in service.gate(session, pm)],
        "reviews": [
            {
                "revision": r.revision,
                "reviewer": r.reviewer,
                "verdict": r.verdict,
                "comment": r.comment,
                "at": iso(r.at),
            }
            for r in reviews
        ],
        "revisions": [
            {"number": r.number, "event": r.event, "status": r.status, "by": r.by, "at": iso(r.at)}
            for r in revisions
        ],
        "action_items": [item_dict(session, i, now) for i in service.items_of(session, pm)],
        "created_at": iso(pm.created_at),
        "updated_at": iso(pm.updated_at),
        "submitted_at": iso(pm.submitted_at),
        "published_at": iso(pm.published_at),
        "links": {"web": f"/postmortems/{ref}", "export": f"/api/v1/postmortems/{ref}/export"},
    }


def revision(
    session: Session, pm: Postmortem, number: int, event: str | None = None
) -> PostmortemRevision:
    """The kept copy of revision `number` (its last snapshot, or the one of `event`)."""
    if not 0 < number < 2**31:
        raise NotFound(f"revision {number} is not kept", field="number")
    q = select(PostmortemRevision).where(
        PostmortemRevision.postmortem_id == pm.id, PostmortemRevision.number == number
    )
    if event:
        q = q.where(PostmortemRevision.event == event)
    row = session.scalar(q.order_by(PostmortemRevision.id.desc()).limit(1))
    if row is None:
        raise NotFound(f"revision {number} is not kept", field="number")
    return row


def list_postmortems(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    status: str | None = None,
    overdue: bool = False,
    owner: str | None = None,
) -> list[dict[str, Any]]:
    """Postmortems of incidents the caller may see, newest first; `overdue` keeps the
    unpublished ones past their due time."""
    if status is not None and status not in rules.STATUSES:
        raise ValidationFailed(
            f"status must be one of {', '.join(rules.STATUSES)}",
            field="status",
            allowed=list(rules.STATUSES),
        )
    now = clock.now()
    q = (
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(visible_clause(principal))
    )
    if status:
        q = q.where(Postmortem.status == status)
    if owner:
        q = q.where(Postmortem.owner_id == user_by_name(session, owner).id)
    if overdue:
        q = q.where(Postmortem.status != "published", Postmortem.due_at < now)
    rows = session.execute(q.order_by(Postmortem.id.desc()).limit(500)).all()
    names = _names(session, {pm.owner_id for pm, _ in rows})
    return [
        {
            "incident": incident_rules.short_id(inc.id),
            "title": inc.title,
            "severity": inc.severity,
            "status": pm.status,
            "requirement": pm.requirement,
            "owner": names.get(pm.owner_id) if pm.owner_id else None,
            "due_at": iso(pm.due_at),
            "overdue": rules.is_overdue(pm.due_at, now, pm.status == "published"),
            "revision": pm.revision,
            "published_at": iso(pm.published_at),
        }
        for pm, inc in rows
    ]


def list_items(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    owner: str | None = None,
    team: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    incident_id: int | None = None,
) -> list[dict[str, Any]]:
    """Action items of incidents the caller may see: by owner, by the owner's team, by
    status, overdue (open or in progress past the due time), or one incident's."""
    if status is not None and status not in rules.ITEM_STATUSES:
        raise ValidationFailed(
            f"status must be one of {', '.join(rules.ITEM_STATUSES)}",
            field="status",
            allowed=list(rules.ITEM_STATUSES),
        )
    now = clock.now()
    q = (
        select(ActionItem)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(visible_clause(principal))
    )
    if owner:
        q = q.where(ActionItem.owner_id == user_by_name(session, owner).id)
    if team:
        from warroom.org.models import Team

        t = session.scalar(select(Team).where(Team.name == team))
        if t is None:
            raise NotFound(f"no team named {team!r}", field="team")
        members = select(TeamMember.user_id).where(TeamMember.team_id == t.id)
        q = q.where(ActionItem.owner_id.in_(members))
    if status:
        q = q.where(ActionItem.status == status)
    if overdue:
        q = q.where(ActionItem.status.in_(("open", "in_progress")), ActionItem.due_at < now)
    if incident_id is not None:
        q = q.where(ActionItem.incident_id == incident_id)
    items = list(
        session.scalars(
            q.order_by(ActionItem.due_at.is_(None), ActionItem.due_at, ActionItem.id).limit(1000)
        )
    )
    return [item_dict(session, i, now) for i in items]


def states(session: Session, incident_ids: list[int]) -> dict[int, str]:
    """The postmortem state of each of these incidents that has one (for lists)."""
    if not incident_ids:
        return {}
    return dict(
        session.execute(
            select(Postmortem.incident_id, Postmortem.status).where(
                Postmortem.incident_id.in_(incident_ids)
            )
        ).all()
    )
