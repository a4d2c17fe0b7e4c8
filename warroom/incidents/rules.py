"""Incident rules as pure functions: statuses, roles, kinds, channel names."""

from __future__ import annotations

import re
from datetime import datetime

from warroom.core.errors import Conflict

STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
ACTIVE_STATUSES = ("investigating", "identified", "monitoring")
ROLES = ("commander", "deputy", "scribe", "comms", "tech", "sme")
ROLE_TITLES = {
    "commander": "Incident Commander",
    "deputy": "Deputy IC",
    "scribe": "Scribe",
    "comms": "Communications Lead",
    "tech": "Technical Lead",
    "sme": "Subject-Matter Expert",
}
SINGLE_HOLDER_ROLES = frozenset(ROLES) - {"sme"}
DETECTION_SOURCES = (
    "automated_alert",
    "synthetic",
    "internal_report",
    "customer_report",
    "social_media",
    "other",
)
EVENT_KINDS = (
    "note",
    "decision",
    "action",
    "status",
    "severity",
    "role",
    "alert",
    "page",
    "communication",
    "milestone",
    "warning",
)
USER_EVENT_KINDS = ("note", "decision", "action", "communication")
MILESTONES = (
    "started",
    "detected",
    "acknowledged",
    "declared",
    "ic_assigned",
    "mitigation_started",
    "customers_informed",
    "mitigated",
    "resolved",
)
SPAN_OF_CONTROL = 7
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every store


def allowed_transitions(current: str) -> tuple[str, ...]:
    """Forward moves are free (a fix may be found at once); an active incident may step
    back when a mitigation fails; a resolved incident may reopen or be closed."""
    if current in ACTIVE_STATUSES:
        return tuple(s for s in STATUSES if s not in (current, "closed"))
    if current == "resolved":
        return ("investigating", "identified", "monitoring", "closed")
    return ()


def slugify(text: str, max_len: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug[:max_len].rstrip("-")
    return slug or "incident"


def channel_name(declared_at: datetime, title: str) -> str:
    return f"#inc-{declared_at:%Y-%m-%d}-{slugify(title)}"


def short_id(number: int) -> str:
    return f"INC-{number}"


def parse_incident_ref(ref: str | int) -> int | None:
    """`INC-42`, `inc-42` and `42` all name incident 42."""
    text = str(ref).strip()
    m = re.fullmatch(r"(?:inc-)?(\d{1,12})", text, flags=re.IGNORECASE)
    return int(m.group(1)) if m else None


def milestone_order_problems(ms: dict[str, datetime | None]) -> list[str]:
    """Milestones that precede ones they logically follow (e.g. resolved before started)."""
    problems = []
    started = ms.get("started")
    for name in ("detected", "declared", "mitigation_started", "mitigated", "resolved"):
        value = ms.get(name)
        if started and value and value < started:
            problems.append(f"{name} is before started")
    mitigated, resolved = ms.get("mitigated"), ms.get("resolved")
    if mitigated and resolved and resolved < mitigated:
        problems.append("resolved is before mitigated")
    return problems


def require_open(incident_id: int, status: str, what: str) -> None:
    """Raises Conflict (409) when the incident is closed: `what` is not possible then."""
    if status == "closed":
        raise Conflict(f"{short_id(incident_id)} is closed; {what} is not possible")
