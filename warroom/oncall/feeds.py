"""Other domains' dated items in a person's calendar feed, through an explicit hook.

The on-call domain sits below the ones that own such items (postmortems: action item and
postmortem due dates), so it cannot import them. Instead they are *feed-item providers*,
registered by the composition root (`warroom.wiring`), and a person's feed
(`service.feed_for_token`) adds what they return to the person's shifts.

The contract of a provider, `fn(session, user, start, end) -> list[FeedItem]`:
- it reads only, in the feed's read transaction, and never raises for missing data;
- it returns items for `user` alone, of incidents the person may see, whose `start`
  falls in `[start, end)`;
- each item's `uid` is stable for the thing it stands for (not for its time), so a
  calendar that refreshes moves the event when the date moves instead of adding one;
  it is unique across providers (prefix it with the provider's kind).

Schedule feeds (a team's shared calendar) carry no provider items: they are personal.
Registration is idempotent; `clear()` is for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from warroom.org.models import User


@dataclass(frozen=True)
class FeedItem:
    uid: str
    summary: str
    start: datetime
    end: datetime
    description: str = ""
    url: str = ""
    categories: tuple[str, ...] = field(default_factory=tuple)


Provider = Callable[[Session, User, datetime, datetime], list[FeedItem]]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> None:
    """Adds a provider (once; the composition root calls this)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def clear() -> None:
    """Forgets every provider (for tests)."""
    _PROVIDERS.clear()


def items_for(session: Session, user: User, start: datetime, end: datetime) -> list[FeedItem]:
    """Every registered provider's items for `user` in `[start, end)`, by start time."""
    out: list[FeedItem] = []
    for provider in _PROVIDERS:
        out.extend(provider(session, user, start, end))
    return sorted(out, key=lambda i: (i.start, i.uid))
