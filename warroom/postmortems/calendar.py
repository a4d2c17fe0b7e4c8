"""Due dates in a person's calendar feed: the oncall feed-item provider for action items
and postmortems (registered by `warroom.wiring`; the contract is in
`warroom.oncall.feeds`).

Invariants:
- Reads only. A person's feed lists the action items they own that are open or in
  progress, and the unpublished postmortems they own, whose due time falls in the
  feed's window, of incidents that person may see (a private incident's item shows
  only to its participants and admins).
- One event per item, keyed by the item (`action-item-<id>`, `postmortem-<id>`), so a
  moved due date moves the event; a done item or a published postmortem leaves the feed.
- The event ends at the due time and starts `LEAD` before it (an iCalendar event needs
  a length).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import ensure_utc
from warroom.core.principal import Principal
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident
from warroom.incidents.queries import visible_clause
from warroom.oncall.feeds import FeedItem
from warroom.org.models import User
from warroom.postmortems.models import ActionItem, Postmortem

LEAD = timedelta(minutes=30)


def feed_items(session: Session, user: User, start: datetime, end: datetime) -> list[FeedItem]:
    """The person's action item and postmortem due dates in `[start, end)`."""
    who = Principal(role=user.role, user_id=user.id, name=user.name)
    out: list[FeedItem] = []
    items = session.execute(
        select(ActionItem, Incident)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(
            ActionItem.owner_id == user.id,
            ActionItem.status.in_(("open", "in_progress")),
            ActionItem.due_at.is_not(None),
            ActionItem.due_at >= start,
            ActionItem.due_at < end,
            visible_clause(who),
        )
        .order_by(ActionItem.due_at, ActionItem.id)
    )
    for item, inc in items:
        if item.due_at is None:  # filtered out above; for the type checker
            continue
        ref = incident_rules.short_id(inc.id)
        due = ensure_utc(item.due_at)
        lines = [
            f"Incident: {ref} {inc.title}",
            f"Priority: {item.priority or 'not set'}",
            f"Kind: {item.kind}",
            f"Status: {item.status.replace('_', ' ')}",
        ]
        if item.tracker_url:
            lines.append(f"Tracker: {item.tracker_url}")
        out.append(
            FeedItem(
                uid=f"action-item-{item.id}",
                summary=f"Action item due: {item.title} ({ref})",
                start=due - LEAD,
                end=due,
                description="\n".join(lines),
                url=f"/action-items?incident={ref}",
                categories=("action-item",),
            )
        )
    pms = session.execute(
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(
            Postmortem.owner_id == user.id,
            Postmortem.status != "published",
            Postmortem.due_at.is_not(None),
            Postmortem.due_at >= start,
            Postmortem.due_at < end,
            visible_clause(who),
        )
        .order_by(Postmortem.due_at, Postmortem.id)
    )
    for pm, inc in pms:
        if pm.due_at is None:
            continue
        ref = incident_rules.short_id(inc.id)
        due = ensure_utc(pm.due_at)
        out.append(
            FeedItem(
                uid=f"postmortem-{pm.id}",
                summary=f"Postmortem due: {ref} {inc.title}",
                start=due - LEAD,
                end=due,
                description=f"Status: {pm.status.replace('_', ' ')}",
                url=f"/postmortems/{ref}",
                categories=("postmortem",),
            )
        )
    return out
