"""Engine handlers that deliver status page notifications to subscribers.

Email goes through SMTP (WARROOM_SMTP_HOST, WARROOM_SMTP_PORT, WARROOM_SMTP_FROM); its
Subject is one line (channels.header_text) whatever the page or incident name holds;
webhooks get a JSON POST with an Idempotency-Key header, so a retry after a crash is
recognisable. A failure raises, and the engine retries with backoff.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from warroom import settings
from warroom.core.clock import Clock
from warroom.notify.channels import header_text, outbound_client, smtp_send
from warroom.statuspage import subscriptions
from warroom.statuspage.render import INCIDENT_STATUS_LABELS, ts


def deliver(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    info = subscriptions.delivery(session, clock, payload)
    if info is None:
        return
    sub = info["subscriber"]
    links = info["links"]
    if info["confirm"]:
        msg = EmailMessage()
        msg["Subject"] = header_text(f"Confirm your subscription to {info['page']} status")
        msg["From"] = settings.smtp_sender(settings.STATUS_SENDER)
        msg["To"] = sub.address
        msg.set_content(
            f"Someone (hopefully you) subscribed this address to {info['page']} status "
            f"updates.\n\nConfirm: {links['confirm']}\n\nIf it was not you, ignore this "
            "email: nothing will be sent without confirmation.\n"
        )
        smtp_send(msg)
        return
    pub, upd = info["incident"], info["update"]
    label = INCIDENT_STATUS_LABELS.get(upd.status, upd.status)
    if sub.kind == "webhook":
        body = {
            "meta": {"unsubscribe": links["unsubscribe"]},
            "page": {"name": info["page"]},
            "incident": {
                "id": pub.code,
                "name": pub.name,
                "status": pub.status,
                "impact": pub.impact,
                "kind": pub.kind,
                "incident_updates": [
                    {
                        "id": upd.code,
                        "status": upd.status,
                        "body": upd.body,
                        "created_at": ts(upd.created_at),
                    }
                ],
            },
        }
        # Through the outbound address policy, as every address people configured.
        with outbound_client(timeout=10) as http:
            resp = http.post(
                sub.address, json=body, headers={"Idempotency-Key": info["idempotency_key"]}
            )
        resp.raise_for_status()
        return
    msg = EmailMessage()
    msg["Subject"] = header_text(f"[{info['page']} status] {label}: {pub.name}")
    msg["From"] = settings.smtp_sender(settings.STATUS_SENDER)
    msg["To"] = sub.address
    msg["List-Unsubscribe"] = f"<{links['unsubscribe']}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Warroom-Idempotency-Key"] = info["idempotency_key"]
    msg.set_content(f"{pub.name}\n\n{label}: {upd.body}\n\nUnsubscribe: {links['unsubscribe']}\n")
    smtp_send(msg)
