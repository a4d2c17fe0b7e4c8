"""Mirroring action items to a tracker (GitHub, GitLab, Jira ...): a signed webhook on
every create and change, to the `postmortems.action_items_webhook_url` of config.

Invariants:
- The job is written in the transaction that created or changed the item (the outbox)
  and keyed by the item and its `updated_at`, so each version is posted once; a retry
  carries the same idempotency key, which the receiver sees.
- The body is the item as the API shows it at send time, with `event` (`created` or
  `changed`); signed with HMAC-SHA256 (`X-Warroom-Signature`, as pages are) when the
  server's environment variable named by `action_items_webhook_secret_env` holds a key.
  The key never appears in config.
- The URL goes through the outbound address policy at every send (notify.channels).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.notify import channels
from warroom.postmortems.models import ActionItem
from warroom.postmortems.queries import item_dict
from warroom.postmortems.reminders import load_rules

JOB = "action_item_webhook"


def queue(session: Session, clock: Clock, item: ActionItem, event: str) -> None:
    """Queues the webhook for this version of the item, if a URL is configured."""
    if not load_rules(session).action_items_webhook_url:
        return
    now = clock.now()
    enqueue(
        session,
        kind=JOB,
        key=f"action-item:{item.id}:{iso(item.updated_at)}",
        due_at=now,
        payload={"id": item.id, "event": event, "version": iso(item.updated_at)},
        now=now,
        max_attempts=10,
    )


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler (outside a transaction): posts one version of one item; raises
    DeliveryFailed for the engine to retry."""
    with db.read() as s:
        r = load_rules(s)
        item = s.get(ActionItem, int(payload["id"]))
        if item is None or not r.action_items_webhook_url:
            return None
        body = item_dict(s, item, clock.now())
    secret = (
        os.environ.get(r.action_items_webhook_secret_env, "")
        if r.action_items_webhook_secret_env
        else ""
    )
    msg = channels.Message(
        key=f"action-item:{payload['id']}:{payload['version']}",
        subject=f"Action item {body['id']}: {body['title']}",
        text=body["title"],
        data={"event": f"action_item.{payload['event']}", "action_item": body},
    )
    channels.send_webhook(r.action_items_webhook_url, secret, msg)
    return None
