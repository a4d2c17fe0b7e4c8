"""Subscriptions to the status page (email with double opt-in, or webhook) and the jobs
that tell subscribers about public updates.

Invariants:
- An email address receives updates only after its owner follows the confirmation link
  sent to it; a webhook is confirmed when it is added. An unsubscribed subscription never
  receives anything again (subscribing again makes a new one).
- The token in a subscriber's links grants confirming and unsubscribing, nothing else.
  Only its SHA-256 is stored (StatusSubscriberToken): each message sent mints a new
  token for its links, and every token minted for a subscription keeps working, so a
  copy of the store cannot act for a subscriber, and a link in an old email still works.
- Notifying is an outbox: a public update enqueues one fan-out job in the transaction
  that posts it; the fan-out enqueues one delivery job per confirmed subscriber,
  idempotent per (update, subscriber); each delivery re-reads everything when it runs.
- Nothing about a public incident whose internal incident is now private is fanned out
  or delivered.
- subscribe, confirm and unsubscribe take no principal: the public form and the links in
  emails call them, and the staff API checks the admin role before `subscribe`; listing
  subscribers needs the admin role. Subscribers are not on the public page, so these
  writes do not bump the page version.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal, require_role
from warroom.core.security import hash_token
from warroom.engine.queue import enqueue
from warroom.statuspage.common import choice, clean_text, linked_private
from warroom.statuspage.models import (
    PublicIncident,
    PublicIncidentUpdate,
    StatusSubscriber,
    StatusSubscriberToken,
)
from warroom.statuspage.page import default_page_url, page, page_name


def notify_subscribers(
    session: Session, clock: Clock, pub: PublicIncident, upd: PublicIncidentUpdate
) -> None:
    """One fan-out job per public update, in the same transaction (outbox)."""
    enqueue(
        session,
        kind="statuspage_fanout",
        key=f"statuspage:fanout:{upd.code}",
        due_at=clock.now(),
        payload={"update": upd.id},
        now=clock.now(),
    )


def subscribe(session: Session, clock: Clock, *, kind: str, address: str) -> StatusSubscriber:
    """No role check (callers decide who may): subscribes an email address or a webhook
    URL and returns the subscription, reusing the active one for the same kind and
    address; does not bump the version.

    A webhook is confirmed at once. An email stays unconfirmed until its link is
    followed; while it is, a call enqueues a confirmation email, at most one per
    subscription per clock hour (the job key). ValidationFailed on `kind` (not email or
    webhook) and `address` (empty, over 500 characters, not an email address, not an
    http(s) URL)."""
    choice(kind, ("email", "webhook"), "kind")
    address = clean_text(address, "address", 500)
    if kind == "email" and ("@" not in address or any(c in address for c in " <>\r\n,;")):
        raise ValidationFailed("not an email address", field="address")
    if kind == "webhook" and not address.startswith(("http://", "https://")):
        raise ValidationFailed("a webhook must be an http(s) URL", field="address")
    existing = session.scalar(
        select(StatusSubscriber).where(
            StatusSubscriber.kind == kind,
            StatusSubscriber.address == address,
            StatusSubscriber.unsubscribed_at.is_(None),
        )
    )
    if existing is not None:
        sub = existing
    else:
        now = clock.now()
        sub = StatusSubscriber(
            kind=kind,
            address=address,
            confirmed_at=now if kind == "webhook" else None,
            created_at=now,
        )
        session.add(sub)
        session.flush()
    if kind == "email" and sub.confirmed_at is None:
        enqueue(
            session,
            kind="statuspage_deliver",
            # at most one confirmation an hour per address, however often the form is sent
            key=f"statuspage:confirm:{sub.id}:{int(clock.now().timestamp()) // 3600}",
            due_at=clock.now(),
            payload={"subscriber": sub.id, "confirm": True},
            now=clock.now(),
        )
    return sub


def mint_token(session: Session, clock: Clock, sub: StatusSubscriber) -> str:
    """A new link token for the subscription; only its hash is stored (in the caller's
    transaction)."""
    token = secrets.token_urlsafe(24)
    session.add(
        StatusSubscriberToken(
            subscriber_id=sub.id, token_hash=hash_token(token), created_at=clock.now()
        )
    )
    session.flush()
    return token


def subscriber_by_token(session: Session, token: str) -> StatusSubscriber | None:
    """Read-only: the subscription one of whose link tokens is `token`, else None."""
    return session.scalar(
        select(StatusSubscriber)
        .join(StatusSubscriberToken, StatusSubscriberToken.subscriber_id == StatusSubscriber.id)
        .where(StatusSubscriberToken.token_hash == hash_token(token))
    )


def confirm(session: Session, clock: Clock, token: str) -> StatusSubscriber:
    """No role check (the token is the proof): confirms the subscription with this token
    and returns it; idempotent (the first confirmation time is kept). NotFound on `token`
    when the token is unknown or the subscription was unsubscribed."""
    sub = subscriber_by_token(session, token)
    if sub is None or sub.unsubscribed_at is not None:
        raise NotFound("this confirmation link is unknown or was unsubscribed", field="token")
    if sub.confirmed_at is None:
        sub.confirmed_at = clock.now()
    return sub


def unsubscribe(session: Session, clock: Clock, token: str) -> StatusSubscriber:
    """No role check (the token is the proof): ends the subscription with this token and
    returns it; idempotent (the first unsubscription time is kept). NotFound on `token`
    when the token is unknown."""
    sub = subscriber_by_token(session, token)
    if sub is None:
        raise NotFound("this unsubscribe link is unknown", field="token")
    if sub.unsubscribed_at is None:
        sub.unsubscribed_at = clock.now()
    return sub


def list_subscribers(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Admin only, read-only: every subscription, oldest first, with its address and when
    it was created, confirmed and unsubscribed (never its token)."""
    require_role(principal, "admin")
    return [
        {
            "id": s.id,
            "kind": s.kind,
            "address": s.address,
            "confirmed_at": iso(s.confirmed_at),
            "unsubscribed_at": iso(s.unsubscribed_at),
            "created_at": iso(s.created_at),
        }
        for s in session.scalars(select(StatusSubscriber).order_by(StatusSubscriber.id))
    ]


def fan_out(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine job (statuspage_fanout): one delivery job per confirmed, still subscribed
    subscriber, idempotent per (update, subscriber) pair; nothing when the update is gone
    or its internal incident is now private."""
    upd = session.get(PublicIncidentUpdate, int(payload["update"]))
    if upd is None:
        return
    pub = session.get(PublicIncident, upd.public_incident_id)
    if pub is None or linked_private(session, pub):
        return
    now = clock.now()
    for sub_id in session.scalars(
        select(StatusSubscriber.id).where(
            StatusSubscriber.confirmed_at.is_not(None), StatusSubscriber.unsubscribed_at.is_(None)
        )
    ):
        enqueue(
            session,
            kind="statuspage_deliver",
            key=f"statuspage:deliver:{upd.code}:{sub_id}",
            due_at=now,
            payload={"subscriber": sub_id, "update": upd.id},
            now=now,
        )


def delivery(session: Session, clock: Clock, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What one delivery job sends, read when it runs: None when there is nothing to send
    any more (subscriber gone or unsubscribed; update gone; its incident now private).

    Either the confirmation email (`confirm` True) or the update with its public incident
    and the idempotency key `<update code>:<subscriber id>`, each with the page's name
    and the subscriber's confirm and unsubscribe links. Writes only the new token of
    those links (`mint_token`; a failed send rolls it back with the job) and the page row
    when it is missing (`page`)."""
    sub = session.get(StatusSubscriber, int(payload["subscriber"]))
    if sub is None or sub.unsubscribed_at is not None:
        return None
    confirming = bool(payload.get("confirm"))
    upd: PublicIncidentUpdate | None = None
    pub: PublicIncident | None = None
    if not confirming:
        upd = session.get(PublicIncidentUpdate, int(payload["update"]))
        if upd is None:
            return None
        pub = session.get(PublicIncident, upd.public_incident_id)
        if pub is None or linked_private(session, pub):
            return None
    row = page(session, clock)
    base = (row.url or default_page_url()).rstrip("/")
    token = mint_token(session, clock, sub)
    info: dict[str, Any] = {
        "subscriber": sub,
        "page": page_name(session),
        "links": {
            "confirm": f"{base}/subscribers/confirm/{token}",
            "unsubscribe": f"{base}/subscribers/unsubscribe/{token}",
        },
        "confirm": confirming,
    }
    if upd is not None:
        info["incident"] = pub
        info["update"] = upd
        info["idempotency_key"] = f"{upd.code}:{sub.id}"
    return info
