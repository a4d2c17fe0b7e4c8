"""Delivery channels: SMTP email, HMAC-signed HTTP webhooks and Apprise URLs.

Each send carries the notification's idempotency key (the `Idempotency-Key` header, the
email's Message-ID and `X-Warroom-Idempotency-Key`, or a reference line for Apprise), so
a receiver recognises a repeat after a crash. A failure raises DeliveryFailed with a
message for the incident timeline.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import orjson

from warroom import settings

KINDS = ("email", "webhook", "apprise")
TIMEOUT_SECONDS = 10.0


class DeliveryFailed(Exception):
    """A send that did not reach its receiver; the message says why."""


@dataclass(frozen=True)
class Message:
    key: str  # idempotency key
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)  # the webhook body


def signature(secret: str, body: bytes) -> str:
    """The X-Warroom-Signature header value: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def smtp_send(msg: EmailMessage) -> None:
    """Sends through WARROOM_SMTP_HOST:WARROOM_SMTP_PORT (default port 25)."""
    host = settings.smtp_host()
    if not host:
        raise DeliveryFailed("WARROOM_SMTP_HOST is not set; cannot send email")
    port = settings.smtp_port()
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {host}:{port}: {exc}") from exc


def sender_address() -> str:
    return settings.smtp_sender(settings.NOTIFY_SENDER)


def send_email(address: str, msg: Message) -> str:
    em = EmailMessage()
    em["Subject"] = msg.subject
    em["From"] = sender_address()
    em["To"] = address
    domain = sender_address().rpartition("@")[2] or "warroom"
    em["Message-ID"] = make_msgid(idstring=msg.key.replace(":", "."), domain=domain)
    em["X-Warroom-Idempotency-Key"] = msg.key
    em.set_content(msg.text)
    smtp_send(em)
    return f"email to {address} accepted"


def send_webhook(url: str, secret: str, msg: Message) -> str:
    body = orjson.dumps({**msg.data, "idempotency_key": msg.key})
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": msg.key,
        "User-Agent": "warroom",
    }
    if secret:
        headers["X-Warroom-Signature"] = signature(secret, body)
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 300:
        raise DeliveryFailed(f"webhook {url}: HTTP {resp.status_code}")
    return f"webhook answered HTTP {resp.status_code}"


def check_apprise_url(url: str) -> str | None:
    """None if Apprise understands the URL, else why not."""
    import apprise

    if apprise.Apprise.instantiate(url) is None:
        return f"Apprise does not understand {redact(url)!r}"
    return None


def redact(url: str) -> str:
    """An Apprise URL without its credentials (they sit before the host or in the path)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}…" if sep else "…"


def send_apprise(url: str, msg: Message) -> str:
    import apprise

    ap = apprise.Apprise()
    if not ap.add(url):
        raise DeliveryFailed(f"Apprise does not understand {redact(url)}")
    ok = ap.notify(title=msg.subject, body=f"{msg.text}\n\nref: {msg.key}")
    if not ok:
        raise DeliveryFailed(f"Apprise could not deliver to {redact(url)}")
    return f"delivered through Apprise ({redact(url)})"


def send(kind: str, address: str, secret: str, msg: Message) -> str:
    """Delivers one message; returns a short outcome, raises DeliveryFailed."""
    if kind == "email":
        return send_email(address, msg)
    if kind == "webhook":
        return send_webhook(address, secret, msg)
    if kind == "apprise":
        return send_apprise(address, msg)
    raise DeliveryFailed(f"unknown contact method kind {kind!r}")
