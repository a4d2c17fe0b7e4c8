"""Silences (label matchers) and maintenance windows (services): alerts that match
while one is active are recorded as suppressed, open no incident and page nobody."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.integrations import service_id
from warroom.alerts.matching import check_pattern
from warroom.alerts.models import Silence
from warroom.core.clock import Clock, iso
from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder


def add_silence(
    session: Session,
    clock: Clock,
    who: Principal,
    *,
    matchers: list[dict[str, Any]],
    services: list[str],
    starts_at: datetime | None,
    ends_at: datetime,
    comment: str,
    kind: str = "silence",
) -> Silence:
    """Creates a silence (label matchers) or a maintenance window (services) and returns it.
    Needs the responder role (Forbidden, 403). Raises ValidationFailed (422) for a kind other than
    silence or maintenance (`kind`), a silence without matchers (`matchers`), a maintenance window
    without services (`services`), a regex matcher RE2 cannot compile (`matchers.N`: backreferences,
    lookaround), an unknown service (`service`), an empty comment (`comment`) or an end not after
    the start (`ends_at`). Starts now unless `starts_at` is given; suppresses only
    alerts that arrive while it is active. Runs in the caller's transaction; publishes nothing."""
    require_responder(who)
    if kind not in ("silence", "maintenance"):
        raise ValidationFailed("kind must be silence or maintenance", field="kind")
    if kind == "silence" and not matchers:
        raise ValidationFailed("a silence needs at least one matcher", field="matchers")
    for i, m in enumerate(matchers):
        if m.get("op") in ("=~", "!~"):
            try:
                check_pattern(str(m.get("value", "")))
            except ValueError as exc:
                raise ValidationFailed(str(exc), field=f"matchers.{i}") from exc
    if kind == "maintenance" and not services:
        raise ValidationFailed("a maintenance window needs at least one service", field="services")
    for s in services:
        service_id(session, s)
    if not comment.strip():
        raise ValidationFailed("comment must say why", field="comment")
    start = starts_at or clock.now()
    if ends_at <= start:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    row = Silence(
        kind=kind,
        matchers=matchers,
        services=services,
        starts_at=start,
        ends_at=ends_at,
        created_by=who.name,
        comment=comment.strip(),
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def expire_silence(session: Session, clock: Clock, who: Principal, silence_id: int) -> Silence:
    """Ends a silence or maintenance window now and returns it; one already ended is left as it is.
    Needs the responder role (Forbidden, 403); raises NotFound (404, field `silence_id`) for a
    missing one. A pending one ends now as well, so it never applies. Runs in the caller's
    transaction."""
    require_responder(who)
    row = session.get(Silence, silence_id) if 0 < silence_id < 2**31 else None
    if row is None:
        raise NotFound(f"silence {silence_id} not found", field="silence_id")
    if row.ends_at > clock.now():
        row.ends_at = clock.now()
    return row


def list_silences(session: Session, clock: Clock, active_only: bool = True) -> list[Silence]:
    """Returns silences and maintenance windows, newest first; by default only those not yet ended.
    Pending ones (not started yet) count as not ended. Checks no role; reads only."""
    q = select(Silence).order_by(Silence.id.desc())
    if active_only:
        q = q.where(Silence.ends_at > clock.now())
    return list(session.scalars(q))


def silence_dict(s: Silence, now: datetime) -> dict[str, Any]:
    """Returns the API form of a silence, with its state at `now` (pending, active or expired)."""
    state = "expired" if s.ends_at <= now else "active" if s.starts_at <= now else "pending"
    return {
        "id": s.id,
        "kind": s.kind,
        "matchers": list(s.matchers or []),
        "services": list(s.services or []),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "created_by": s.created_by,
        "comment": s.comment,
        "state": state,
    }
