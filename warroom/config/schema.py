"""The config-as-code document: severities, teams, users, services."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetsDoc(Doc):
    ack_minutes: int | None = Field(default=None, ge=1)
    ic_minutes: int | None = Field(default=None, ge=1)
    leadership_minutes: int | None = Field(default=None, ge=1)
    status_page_minutes: int | None = Field(default=None, ge=1)
    customer_comms_minutes: int | None = Field(default=None, ge=1)
    internal_update_minutes: int | None = Field(default=None, ge=1)
    external_update_minutes: int | None = Field(default=None, ge=1)
    war_room: bool = False
    postmortem: Literal["required", "recommended", "optional"] = "optional"
    postmortem_due_hours: int | None = Field(default=None, ge=1)


class SeverityDoc(Doc):
    name: str = Field(min_length=1, max_length=32)
    rank: int = Field(ge=1, le=99)
    label: str = Field(min_length=1, max_length=64)
    description: str = ""
    targets: TargetsDoc = TargetsDoc()


class TeamDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    channel: str = ""
    members: list[str] = []


class UserDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    email: str
    full_name: str = ""
    timezone: str = "UTC"
    role: Literal["viewer", "responder", "admin"] = "responder"


class ServiceDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    owner: str | None = None
    tier: int = Field(default=2, ge=1, le=4)
    depends_on: list[str] = []
    runbooks: list[str] = []


class IntegrationDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["pagerduty", "alertmanager", "grafana", "webhook"]
    service: str | None = None
    rate_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)
    mapping: dict[str, Any] = {}


class AlertRuleDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    matchers: list[str] = []
    service: str | None = None
    severity: str | None = None
    open_incident: bool = True
    group_window_minutes: int = Field(default=60, ge=0, le=10_080)
    flap_count: int = Field(default=3, ge=0, le=1000)
    flap_window_minutes: int = Field(default=30, ge=1, le=10_080)


class ConfigDoc(Doc):
    severities: list[SeverityDoc] | None = None
    teams: list[TeamDoc] | None = None
    users: list[UserDoc] | None = None
    services: list[ServiceDoc] | None = None
    integrations: list[IntegrationDoc] | None = None
    alert_rules: list[AlertRuleDoc] | None = None


KINDS = ("severities", "teams", "users", "services", "integrations", "alert_rules")
# Sections whose absent entries are kept (never deleted by an apply).
KEEP_ABSENT = ("users", "integrations")
