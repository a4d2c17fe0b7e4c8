"""The status page itself: its one row (id 1), its settings (name, URL) and its version.

Invariants:
- There is one page row, id 1. `page` creates it on first use (a new random code,
  version 1), so reading the page never fails on an empty store.
- Every write that changes what the public page shows (page settings, components, public
  incidents and their updates, maintenance, a config apply) runs in the caller's
  transaction and calls `bump`: the page's `version` goes up, which is how every process
  (replica) learns that its rendered page is stale, and the session is flagged so that
  this process drops its cached page when the transaction commits.
- An empty name or URL means the default: WARROOM_STATUS_PAGE_NAME, and the public URL
  (WARROOM_PUBLIC_URL, else WARROOM_BASE_URL) followed by /status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom import settings
from warroom.core.clock import Clock
from warroom.core.principal import Principal, require_role
from warroom.statuspage import rules
from warroom.statuspage.common import clean_text
from warroom.statuspage.models import StatusPage

HISTORY_LIMIT = 50  # incidents.json and scheduled-maintenances.json list the newest 50


def default_page_url() -> str:
    """The page's URL when none is set: the public URL (settings.public_url) followed by
    /status, or a relative /status when there is none; reads only the environment."""
    base = settings.public_url()
    return f"{base}/status" if base else "/status"


def page(session: Session, clock: Clock) -> StatusPage:
    """The page row, created in the caller's transaction when missing (a new code, empty
    name and URL, version 1); no role check, and it does not bump the version."""
    row = session.get(StatusPage, 1)
    if row is None:
        row = StatusPage(
            id=1,
            code=rules.new_code(),
            name="",
            url="",
            time_zone="Etc/UTC",
            version=1,
            updated_at=clock.now(),
        )
        session.add(row)
        session.flush()
    return row


def default_page_name() -> str:
    """The page's name when none is set: WARROOM_STATUS_PAGE_NAME ("Status" when unset)."""
    return settings.status_page_name()


def page_name(session: Session) -> str:
    """The page's name, or the default when it is unset or there is no page row yet;
    read-only (never creates the row)."""
    row = session.get(StatusPage, 1)
    return (row.name if row else "") or default_page_name()


def page_dict(row: StatusPage) -> dict[str, Any]:
    """The page as the API shows it: its public code as id, name and url with their
    defaults filled in, version; reads nothing from the store."""
    return {
        "id": row.code,
        "name": row.name or default_page_name(),
        "url": row.url or default_page_url(),
        "version": row.version,
    }


def current_version(session: Session) -> int:
    """Read-only and cheap: the page's version (0 before the row exists), the check each
    process makes (at most about once a second). Every change that alters a public body
    bumps it, including an incident made private or public after it was published
    (`statuspage.subscribers`)."""
    return session.scalar(select(StatusPage.version).where(StatusPage.id == 1)) or 0


def bump(session: Session, clock: Clock) -> None:
    """Marks the public page changed, in the caller's transaction: version + 1 and
    updated_at now (creating the row at version 1 when missing), and flags the session so
    this process's cached page is dropped on commit. No role check: callers check."""
    now = clock.now()
    done = session.execute(
        update(StatusPage)
        .where(StatusPage.id == 1)
        .values(version=StatusPage.version + 1, updated_at=now)
    )
    if getattr(done, "rowcount", 0) == 0:
        page(session, clock)
    session.info["statuspage_changed"] = True


def update_page(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    name: str | None = None,
    url: str | None = None,
) -> StatusPage:
    """Admin only (Forbidden otherwise): sets the page's name and/or URL (None leaves one
    as it is) and returns the row; always bumps the version, even when nothing changed.

    ValidationFailed on `name` (empty, or over 200 characters after trimming) and on
    `url` (over 500; an empty URL restores the default)."""
    require_role(principal, "admin")
    row = page(session, clock)
    if name is not None:
        row.name = clean_text(name, "name", 200)
    if url is not None:
        row.url = clean_text(url, "url", 500, required=False)
    bump(session, clock)
    return row
