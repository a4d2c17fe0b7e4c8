"""Checks and look-ups shared by the status page's service modules.

Invariants: nothing here writes to the store or checks a role (the public functions that
call these do both), and every ValidationFailed raised here names the offending field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import ValidationFailed
from warroom.core.text import NUL, NUL_MESSAGE
from warroom.incidents.models import Incident
from warroom.statuspage import rules
from warroom.statuspage.models import PublicIncident


def clean_text(value: str | None, field: str, max_len: int, required: bool = True) -> str:
    """The value stripped; ValidationFailed on `field` when empty (if required), longer
    than `max_len` or holding a NUL character (which PostgreSQL cannot store)."""
    text = (value or "").strip()
    if NUL in text:
        raise ValidationFailed(f"{field} {NUL_MESSAGE}", field=field)
    if required and not text:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(text) > max_len:
        raise ValidationFailed(f"{field} is longer than {max_len} characters", field=field)
    return text


def choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """The value; ValidationFailed on `field` (listing the allowed values) otherwise."""
    if value not in allowed:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(allowed)}", field=field, allowed=list(allowed)
        )
    return value


def unique_code(session: Session, model: Any) -> str:
    """A new public code that no row of `model` has yet."""
    while True:
        code = rules.new_code()
        if session.scalar(select(model.id).where(model.code == code)) is None:
            return code


def linked_private(session: Session, pub: PublicIncident) -> bool:
    """Whether the public incident's internal incident is now private (then it is hidden:
    not updated, not sent to subscribers)."""
    if pub.incident_id is None:
        return False
    return bool(session.scalar(select(Incident.private).where(Incident.id == pub.incident_id)))
