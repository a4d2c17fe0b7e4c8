"""Contact methods (email, signed webhook, Apprise URL) and notification rules: how
and when each person is reached once a page names them. Replacing a person's methods
validates everything first and deletes the old rules before their methods.

Invariants:
- An email method's address is exactly one addr-spec (channels.one_email_address): no
  second recipient, display name, blank or line break can reach the To: header.
- A webhook or Apprise address whose host resolves to a non-public address is refused
  when saved unless WARROOM_OUTBOUND_ALLOW allows it (notify.channels), and checked
  again at every send.
- A contact test is rate-limited per caller (ContactTestLimiter); it answers only a
  generic outcome (DeliveryFailed.public), never the channel's own message."""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import ValidationFailed
from warroom.notify import channels
from warroom.org.models import User
from warroom.paging import rules
from warroom.paging.models import ContactMethod, NotificationRule


def contact_methods(session: Session, user_id: int) -> list[ContactMethod]:
    """Returns the user's contact methods in their order."""
    return list(
        session.scalars(
            select(ContactMethod)
            .where(ContactMethod.user_id == user_id)
            .order_by(ContactMethod.position, ContactMethod.id)
        )
    )


def notification_rules(session: Session, user_id: int) -> list[tuple[NotificationRule, str]]:
    """Returns the user's notification rules in order, each with its contact method's name."""
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
    if kind not in rules.METHOD_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(rules.METHOD_KINDS)}", field=f"{field}.kind"
        )
    address = address.strip()
    if not address:
        raise ValidationFailed("address must not be empty", field=f"{field}.address")
    if kind == "email" and not channels.one_email_address(address):
        raise ValidationFailed(
            f"{address!r} is not one email address (name@domain, nothing else)",
            field=f"{field}.address",
        )
    problem = None
    if kind == "webhook":
        problem = channels.check_webhook_url(address)
    if kind == "apprise":
        problem = channels.check_apprise_url(address)
    if problem:
        raise ValidationFailed(problem, field=f"{field}.address")
    try:
        channels.check_destination(kind, address)
    except channels.AddressRefused as exc:
        raise ValidationFailed(str(exc), field=f"{field}.address") from None


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
        name = str(m["name"]).strip()  # as checked above
        row = existing.get(name) or ContactMethod(user_id=user.id, name=name)
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
    """Returns a person's contact methods and rules as the API shows them; secrets only if asked.
    A webhook method says whether it is `signed`; `default_email` is where pages go while the
    person has no methods. Reads only."""
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


TESTS_PER_MINUTE = 5


class ContactTestLimiter:
    """At most `per_minute` contact tests per caller in any 60 seconds, counted in this
    process (each server process counts its own)."""

    def __init__(self, per_minute: int = TESTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._sent: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def retry_after(self, caller: str, now: datetime) -> int | None:
        """Counts a test by `caller` at `now` and returns None when it may go ahead; else
        returns the whole seconds until it may (and counts nothing)."""
        window = timedelta(minutes=1)
        with self._lock:
            sent = self._sent.setdefault(caller, deque())
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= self.per_minute:
                return max(1, math.ceil((sent[0] + window - now).total_seconds()))
            sent.append(now)
            if len(self._sent) > 10_000:  # forget callers that are idle
                for key in [k for k, v in self._sent.items() if not v or v[-1] <= now - window]:
                    del self._sent[key]
            return None
