"""Signed one-click links inside notifications (acknowledge, resolve).

A link carries the notification id, the action and an HMAC over both made with this
installation's signing key (created on first use and kept in the store), so a link can
be rebuilt identically for a repeated send and cannot be forged for another page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy.orm import Session

from warroom import settings
from warroom.paging.models import InstanceKey

ACTIONS = ("ack", "resolve")
KEY_NAME = "link_signing"


def signing_key(session: Session) -> bytes:
    row = session.get(InstanceKey, KEY_NAME)
    if row is None:
        row = InstanceKey(name=KEY_NAME, value=secrets.token_urlsafe(32))
        session.add(row)
        session.flush()
    return row.value.encode()


def _mac(key: bytes, notification_id: int, action: str) -> str:
    digest = hmac.new(key, f"{action}:{notification_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token(key: bytes, notification_id: int, action: str) -> str:
    return f"{notification_id}.{action}.{_mac(key, notification_id, action)}"


def verify(key: bytes, value: str) -> tuple[int, str] | None:
    """(notification id, action) for a genuine token, else None."""
    parts = value.split(".")
    if len(parts) != 3 or parts[1] not in ACTIONS or not parts[0].isdigit():
        return None
    nid = int(parts[0])
    if not 0 < nid < 2**31:
        return None
    if not hmac.compare_digest(_mac(key, nid, parts[1]), parts[2]):
        return None
    return nid, parts[1]


def base_url() -> str:
    """The public URL (settings.public_url) that links in notifications start with."""
    return settings.public_url()


def url(key: bytes, notification_id: int, action: str) -> str:
    return f"{base_url()}/page/{token(key, notification_id, action)}"
