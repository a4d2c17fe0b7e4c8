"""Severity levels and their response targets (pure data and rules).

The defaults follow the incident-response playbook: minutes are the latest time
by which each thing should have happened after the incident is declared.
"""

from __future__ import annotations

from typing import Any

TARGET_FIELDS: dict[str, str] = {
    "ack_minutes": "responder acknowledges",
    "ic_minutes": "incident commander assigned",
    "leadership_minutes": "leadership notified",
    "status_page_minutes": "status page updated",
    "customer_comms_minutes": "customers informed",
    "internal_update_minutes": "internal update cadence",
    "external_update_minutes": "external update cadence",
    "postmortem_due_hours": "postmortem due after resolution",
}
POSTMORTEM_POLICIES = ("required", "recommended", "optional")

DEFAULT_SEVERITIES: list[dict[str, Any]] = [
    {
        "name": "SEV-1",
        "rank": 1,
        "label": "Critical",
        "description": (
            "Complete outage, data loss, security breach or revenue-blocking failure "
            "affecting all or most users."
        ),
        "targets": {
            "ack_minutes": 5,
            "ic_minutes": 10,
            "leadership_minutes": 15,
            "status_page_minutes": 20,
            "customer_comms_minutes": 30,
            "internal_update_minutes": 30,
            "external_update_minutes": 60,
            "war_room": True,
            "postmortem": "required",
            "postmortem_due_hours": 48,
        },
    },
    {
        "name": "SEV-2",
        "rank": 2,
        "label": "Major",
        "description": (
            "Significant degradation of a core feature for a large subset of users; "
            "the service is up but meaningfully impaired."
        ),
        "targets": {
            "ack_minutes": 15,
            "ic_minutes": 30,
            "leadership_minutes": 30,
            "status_page_minutes": 60,
            "customer_comms_minutes": 120,
            "internal_update_minutes": 30,
            "external_update_minutes": 60,
            "war_room": True,
            "postmortem": "required",
            "postmortem_due_hours": 72,
        },
    },
    {
        "name": "SEV-3",
        "rank": 3,
        "label": "Minor",
        "description": (
            "Minor degradation for a small subset of users; core functionality unaffected."
        ),
        "targets": {
            "ack_minutes": 30,
            "internal_update_minutes": 120,
            "war_room": False,
            "postmortem": "recommended",
            "postmortem_due_hours": 168,
        },
    },
    {
        "name": "SEV-4",
        "rank": 4,
        "label": "Low",
        "description": (
            "Cosmetic issue, minor inconvenience or internal tooling problem with no "
            "customer impact."
        ),
        "targets": {"war_room": False, "postmortem": "optional"},
    },
]


def is_downgrade(old_rank: int, new_rank: int) -> bool:
    """A higher rank number is a lower severity (SEV-1 is the most severe)."""
    return new_rank > old_rank


def timer_targets(targets: dict[str, Any]) -> dict[str, int]:
    """The response targets that the engine watches after declaration."""
    out: dict[str, int] = {}
    for field in ("ack_minutes", "ic_minutes"):
        value = targets.get(field)
        if isinstance(value, int) and value > 0:
            out[field] = value
    return out
