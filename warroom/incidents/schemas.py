"""API shapes for incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from warroom.incidents.rules import DETECTION_SOURCES, MAX_ID

DetectionSource = Literal[DETECTION_SOURCES]  # type: ignore[valid-type]
Role = Literal["commander", "deputy", "scribe", "comms", "tech", "sme"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    severity: str
    services: list[str] = []
    impact_summary: str = ""
    detection_source: DetectionSource = "internal_report"
    customer_facing: bool = False
    private: bool = False
    drill: bool = False
    bridge_url: str = ""
    started_at: datetime | None = None
    detected_at: datetime | None = None
    commander: str | None = None


class EventIn(Strict):
    text: str = Field(min_length=1, max_length=10_000)
    kind: Literal["note", "decision", "action", "communication"] = "note"
    role: Role | None = None
    corrects: int | None = Field(default=None, ge=1, le=MAX_ID)


class RoleIn(Strict):
    role: Role
    user: str


class StatusIn(Strict):
    status: Literal["investigating", "identified", "monitoring", "resolved", "closed"]
    note: str = ""


class SeverityIn(Strict):
    severity: str
    reason: str = ""


class ResolveIn(Strict):
    summary: str = ""


class MilestoneIn(Strict):
    milestone: Literal[
        "started",
        "detected",
        "acknowledged",
        "declared",
        "ic_assigned",
        "mitigation_started",
        "customers_informed",
        "mitigated",
        "resolved",
    ]
    at: datetime | None


class RepeatIn(Strict):
    of: str | None = Field(
        description="the earlier incident this one repeats (INC-12 or 12), or null to clear"
    )


class ParticipantIn(Strict):
    user: str


class IncidentPatch(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    impact_summary: str | None = None
    bridge_url: str | None = None
    customer_facing: bool | None = None
    # percent of users or requests affected; null clears it (not recorded)
    affected_percent: float | None = Field(default=None, gt=0, le=100, strict=True)
    private: bool | None = None
    services: list[str] | None = None

    def changes(self) -> dict[str, Any]:
        out = self.model_dump(exclude_unset=True, exclude_none=True)
        if "affected_percent" in self.model_fields_set:
            out["affected_percent"] = self.affected_percent
        return out


class IncidentPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None
