"""Action items: follow-ups created in the room during the incident or in its postmortem.

Invariants:
- Responders create and change them; an item always belongs to an incident, and to its
  postmortem once it has one (items created before are linked when it is created).
- Priority is P0-P3, kind one of rules.KINDS, status one of rules.ITEM_STATUSES;
  "won't do" needs a reason. Moving to done records the completion time; moving away
  from done clears it.
- The tracker URL is a web URL (http or https) or empty.
- Every check runs before anything is written: bad input is a 422 naming the field.
- Every create and change queues the tracker webhook (`tracker.queue`) in the same
  transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc
from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.core.urls import require_web_url
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident
from warroom.org.service import user_by_name
from warroom.postmortems import reminders, rules, tracker
from warroom.postmortems.models import ActionItem
from warroom.postmortems.service import for_incident

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000

FIELDS = (
    "title",
    "description",
    "owner",
    "due",
    "priority",
    "kind",
    "status",
    "reason",
    "tracker_url",
)


def parse_due(value: Any, field: str = "due") -> datetime | None:
    """A due date (YYYY-MM-DD: the end of that day, UTC) or an ISO time; None for none."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    if not isinstance(value, str):
        raise ValidationFailed("due is a date (YYYY-MM-DD) or an ISO 8601 time", field=field)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time", field=field
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed("an ISO time needs its offset (Z or +hh:mm)", field=field)
    return ensure_utc(parsed)


def _check(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise ValidationFailed(f"{key} is not a field of an action item", field=key)
        if key == "title":
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE:
                raise ValidationFailed(f"title is 1 to {MAX_TITLE} characters", field="title")
            out["title"] = value.strip()
        elif key in ("description", "reason"):
            if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
                raise ValidationFailed(
                    f"{key} is text of at most {MAX_DESCRIPTION} characters", field=key
                )
            out[key] = value
        elif key == "owner":
            if value in (None, ""):
                out["owner_id"] = None
            else:
                if not isinstance(value, str):
                    raise ValidationFailed("owner is a user name", field="owner")
                try:
                    out["owner_id"] = user_by_name(session, value).id
                except NotFound:
                    raise ValidationFailed(f"no user named {value!r}", field="owner") from None
        elif key == "due":
            out["due_at"] = parse_due(value)
        elif key == "priority":
            if value is not None and value not in rules.PRIORITIES:
                raise ValidationFailed(
                    f"priority must be one of {', '.join(rules.PRIORITIES)}",
                    field="priority",
                    allowed=list(rules.PRIORITIES),
                )
            out["priority"] = value
        elif key == "kind":
            if value not in rules.KINDS:
                raise ValidationFailed(
                    f"kind must be one of {', '.join(rules.KINDS)}",
                    field="kind",
                    allowed=list(rules.KINDS),
                )
            out["kind"] = value
        elif key == "status":
            if value not in rules.ITEM_STATUSES:
                raise ValidationFailed(
                    f"status must be one of {', '.join(rules.ITEM_STATUSES)}",
                    field="status",
                    allowed=list(rules.ITEM_STATUSES),
                )
            out["status"] = value
        elif key == "tracker_url":
            if not isinstance(value, str) or len(value) > 500:
                raise ValidationFailed(
                    "tracker_url is a web URL of at most 500 characters", field="tracker_url"
                )
            out["tracker_url"] = require_web_url(value, "tracker_url") if value else ""
    return out


def create(
    session: Session, clock: Clock, principal: Principal, inc: Incident, values: dict[str, Any]
) -> ActionItem:
    """Creates an action item for the incident (a responder); linked to its postmortem
    when there is one. `values`: title (required), description, owner, due, priority,
    kind, tracker_url."""
    require_responder(principal)
    if "title" not in values:
        raise ValidationFailed("an action item needs a title", field="title")
    clean = _check(session, values)
    now = clock.now()
    pm = for_incident(session, inc.id)
    item = ActionItem(
        incident_id=inc.id,
        postmortem_id=pm.id if pm else None,
        title=clean["title"],
        description=clean.get("description", ""),
        owner_id=clean.get("owner_id"),
        due_at=clean.get("due_at"),
        priority=clean.get("priority"),
        kind=clean.get("kind", "prevent"),
        status="open",
        reason="",
        tracker_url=clean.get("tracker_url", ""),
        created_by=principal.name,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    reminders.schedule(session, clock, "action_item", item.id, item.due_at)
    tracker.queue(session, clock, item, "created")
    incident_timeline.record(
        session,
        clock,
        inc,
        kind="note",
        text=f"Action item {item.id} added: {item.title}",
        actor=principal,
        data={"action_item": item.id},
    )
    return item


def get(session: Session, item_id: int) -> ActionItem:
    """The action item; NotFound (404, field `id`). Callers check the incident's visibility."""
    item = session.get(ActionItem, item_id) if 0 < item_id < 2**31 else None
    if item is None:
        raise NotFound(f"action item {item_id} not found", field="id")
    return item


def change(
    session: Session, clock: Clock, principal: Principal, item: ActionItem, values: dict[str, Any]
) -> ActionItem:
    """Changes fields of an action item (a responder). Won't do needs a reason."""
    require_responder(principal)
    clean = _check(session, values)
    status = clean.get("status", item.status)
    reason = clean.get("reason", item.reason)
    if status == "wont_do" and not str(reason).strip():
        raise ValidationFailed("won't do needs a reason", field="reason")
    now = clock.now()
    before, before_due = item.status, item.due_at
    for k, v in clean.items():
        setattr(item, k, v)
    finished = ("done", "wont_do")
    if item.due_at != before_due or (before in finished and status not in finished):
        reminders.schedule(session, clock, "action_item", item.id, item.due_at)
    if status == "done" and before != "done":
        item.completed_at = now
    elif status != "done":
        item.completed_at = None
    item.updated_at = now
    session.flush()
    tracker.queue(session, clock, item, "changed")
    return item
