"""Integrations: where monitoring sends alerts. Each has a secret URL key (stored only
as a hash; shown once at creation or rotation), an optional HMAC secret for signed
bodies, a default service and a payload mapping."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Integration
from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed, require_choice
from warroom.org.models import Service

KINDS = ("pagerduty", "alertmanager", "grafana", "webhook")
HEARTBEAT_KINDS = ("alertmanager", "grafana")  # whose notifications name their alerts
INTERNAL_KIND = "heartbeat"  # the alerts of a heartbeat monitor; no intake path takes it


def hash_key(key: str) -> str:
    """Returns the SHA-256 hex digest under which an integration's URL key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """32 characters, the length PagerDuty clients expect of a routing key."""
    return secrets.token_hex(16)


# --- integrations -----------------------------------------------------------------------


def create_integration(
    session: Session,
    clock: Clock,
    *,
    name: str,
    kind: str,
    service: str | None = None,
    hmac_secret: str | None = None,
    mapping: dict[str, Any] | None = None,
    rate_per_minute: int | None = None,
    heartbeat: dict[str, str] | None = None,
) -> tuple[Integration, str]:
    """Creates an integration and returns it with its new URL key, the only time the key is shown.
    Raises ValidationFailed (422) for an unknown kind (field `kind`), a name that is empty or over
    100 characters (`name`), a rate below 1 (`rate_per_minute`) or an unknown service
    (`service`), a `heartbeat` that is not `{alert, monitor}` on an Alertmanager or Grafana
    integration (`heartbeat`), and Conflict (409, field `name`) when the name is taken. Checks
    no role (the API requires admin); runs in the caller's transaction and publishes nothing."""
    require_choice(kind, KINDS, "kind")
    alert, monitor = check_heartbeat(kind, heartbeat)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name must be 1-100 characters", field="name")
    if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Conflict(f"an integration named {name!r} exists already", field="name")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValidationFailed("rate_per_minute must be at least 1", field="rate_per_minute")
    svc_id = service_id(session, service) if service else None
    key = new_key()
    row = Integration(
        name=name,
        kind=kind,
        service_id=svc_id,
        key_hash=hash_key(key),
        key_hint=key[:4],
        hmac_secret=hmac_secret or None,
        mapping=mapping or {},
        rate_per_minute=rate_per_minute,
        heartbeat_alert=alert,
        heartbeat_monitor=monitor,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row, key


def check_heartbeat(kind: str, heartbeat: dict[str, str] | None) -> tuple[str | None, str | None]:
    """Returns the (alert name, monitor name) of an integration's heartbeat declaration, or
    (None, None) without one. Raises ValidationFailed (422, field `heartbeat`) unless both
    are non-empty text of at most 100 characters on an Alertmanager or Grafana integration."""
    if not heartbeat:
        return None, None
    if kind not in HEARTBEAT_KINDS:
        raise ValidationFailed(
            f"heartbeat is for {' and '.join(HEARTBEAT_KINDS)} integrations", field="heartbeat"
        )
    alert, monitor = heartbeat.get("alert"), heartbeat.get("monitor")
    extra = set(heartbeat) - {"alert", "monitor"}
    if extra:
        raise ValidationFailed(
            f"heartbeat has unknown field {sorted(extra)[0]!r}", field="heartbeat"
        )
    for name, value in (("alert", alert), ("monitor", monitor)):
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise ValidationFailed(
                f"heartbeat.{name} must be 1-100 characters", field=f"heartbeat.{name}"
            )
    assert isinstance(alert, str) and isinstance(monitor, str)
    return alert.strip(), monitor.strip()


def set_heartbeat(row: Integration, heartbeat: dict[str, str] | None) -> None:
    """Declares (or with None, removes) the integration's always-firing heartbeat alert;
    raises as `check_heartbeat` does."""
    row.heartbeat_alert, row.heartbeat_monitor = check_heartbeat(row.kind, heartbeat)


def internal_integration(session: Session, clock: Clock, name: str, service_id: int) -> Integration:
    """Returns the internal integration named `name` (kind `heartbeat`), made now if missing,
    with `service_id` as its service: a heartbeat monitor's alerts belong to it and route like
    any other alert. No intake path accepts its key, which is random and never shown."""
    row = session.scalar(select(Integration).where(Integration.name == name))
    if row is not None:
        if row.kind != INTERNAL_KIND:
            raise Conflict(f"an integration named {name!r} exists already", field="name")
        row.service_id = service_id
        return row
    key = new_key()
    row = Integration(
        name=name,
        kind=INTERNAL_KIND,
        service_id=service_id,
        key_hash=hash_key(key),
        key_hint=key[:4],
        mapping={},
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def rotate_key(session: Session, clock: Clock, name: str) -> str:
    """Gives the integration a new URL key and returns it; the old key stops working on commit.
    Raises NotFound (404, field `integration`) for an unknown name. Checks no role (the API
    requires admin); runs in the caller's transaction."""
    row = integration_by_name(session, name)
    if row.kind == INTERNAL_KIND:
        raise NotFound(f"no integration named {name!r}", field="integration")
    key = new_key()
    row.key_hash, row.key_hint, row.rotated_at = hash_key(key), key[:4], clock.now()
    return key


def integration_by_name(session: Session, name: str) -> Integration:
    """Returns the integration named `name`; raises NotFound (404, field `integration`)."""
    row = session.scalar(select(Integration).where(Integration.name == name))
    if row is None:
        raise NotFound(f"no integration named {name!r}", field="integration")
    return row


def integration_by_key(session: Session, key: str) -> Integration | None:
    """Returns the integration whose URL key is `key`, or None; reads only and checks no role."""
    return session.scalar(
        select(Integration).where(
            Integration.key_hash == hash_key(key), Integration.kind != INTERNAL_KIND
        )
    )


def verify_signature(secret: str | None, body: bytes, header: str | None) -> bool:
    """`X-Warroom-Signature: sha256=<hex HMAC of the raw body>`; no secret, no check."""
    if not secret:
        return True
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


def service_id(session: Session, name: str) -> int:
    """Returns the id of the service named `name`.
    Raises ValidationFailed (422, field `service`) for an unknown name."""
    sid = session.scalar(select(Service.id).where(Service.name == name))
    if sid is None:
        raise ValidationFailed(f"unknown service {name!r}", field="service")
    return int(sid)


def integration_dict(session: Session, row: Integration) -> dict[str, Any]:
    """Returns the API form of an integration: its key only as a hint, a secret only as `signed`."""
    svc = session.get(Service, row.service_id) if row.service_id else None
    return {
        "name": row.name,
        "kind": row.kind,
        "service": svc.name if svc else None,
        "key_hint": row.key_hint + "…",
        "signed": bool(row.hmac_secret),
        "rate_per_minute": row.rate_per_minute,
        "mapping": dict(row.mapping or {}),
        "heartbeat": heartbeat_dict(row),
        "created_at": iso(row.created_at),
        "rotated_at": iso(row.rotated_at),
    }


def heartbeat_dict(row: Integration) -> dict[str, str] | None:
    """The integration's heartbeat declaration as `{alert, monitor}`, or None."""
    if row.heartbeat_alert and row.heartbeat_monitor:
        return {"alert": row.heartbeat_alert, "monitor": row.heartbeat_monitor}
    return None
