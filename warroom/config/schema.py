"""The config-as-code document: severities, teams, users, services, ... and single sign-on."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)


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
    # Incident-metric targets in minutes (docs/analytics.md#targets); unset: the seeds'.
    mttd_minutes: int | None = Field(default=None, ge=1)
    mtta_minutes: int | None = Field(default=None, ge=1)
    mttm_minutes: int | None = Field(default=None, ge=1)
    mttr_minutes: int | None = Field(default=None, ge=1)
    # Phase targets in minutes (docs/analytics.md#phases); unset: seed 003's.
    phase_triage_minutes: int | None = Field(default=None, ge=1)
    phase_mitigation_start_minutes: int | None = Field(default=None, ge=1)
    phase_customer_comms_minutes: int | None = Field(default=None, ge=1)


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
    # How the channel is reached: an Apprise URL (slack://, msteams://, ntfy://...) or an
    # https webhook. Escalation fallbacks notify it.
    channel_url: str = Field(default="", max_length=1000)
    members: list[str] = []
    # The team's lead (a user): overdue postmortem and action item reminders reach them
    # before the admins.
    lead: str = Field(default="", max_length=100)


class ContactMethodDoc(Doc):
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["email", "webhook", "apprise"]
    address: str = Field(min_length=1, max_length=1000)
    secret: str = Field(default="", max_length=200)  # webhook: the HMAC key


class NotificationRuleDoc(Doc):
    method: str = Field(min_length=1, max_length=64)
    after_minutes: int = Field(default=0, ge=0, le=24 * 60)


class UserDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    email: str
    full_name: str = ""
    timezone: str = "UTC"
    role: Literal["viewer", "responder", "admin"] = "responder"
    # Absent: the person's contact methods and rules (set through the API or CLI) stay.
    contact_methods: list[ContactMethodDoc] | None = None
    notification_rules: list[NotificationRuleDoc] | None = None


USER_CONTACT_FIELDS = {"contact_methods", "notification_rules"}


class ServiceDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    owner: str | None = None
    tier: int = Field(default=2, ge=1, le=4)
    depends_on: list[str] = []
    runbooks: list[str] = []
    escalation_policy: str | None = None


class IntegrationHeartbeatDoc(Doc):
    """An always-firing alert (Alertmanager's Watchdog) that pings a heartbeat monitor."""

    alert: str = Field(min_length=1, max_length=100)
    monitor: str = Field(min_length=1, max_length=100)


class IntegrationDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["pagerduty", "alertmanager", "grafana", "webhook"]
    service: str | None = None
    rate_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)
    mapping: dict[str, Any] = {}
    heartbeat: IntegrationHeartbeatDoc | None = None


class HeartbeatDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    service: str = Field(min_length=1, max_length=100)
    interval: str = Field(min_length=1, max_length=32)
    grace: str = Field(default="0s", min_length=1, max_length=32)
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    description: str = Field(default="", max_length=500)
    paused: bool = False


class SloThresholdDoc(Doc):
    """Good while `query op value` holds (a gauge-like PromQL query), budgeted by timeslices."""

    query: str = Field(min_length=1, max_length=2000)
    op: Literal["<", "<=", ">", ">="]
    value: float


class SloPrometheusDoc(Doc):
    """Where and what to ask Prometheus: `total` with `good` or `bad` (counter selectors),
    or a `threshold`."""

    url: str = Field(min_length=1, max_length=500)
    good: str | None = Field(default=None, min_length=1, max_length=2000)
    bad: str | None = Field(default=None, min_length=1, max_length=2000)
    total: str | None = Field(default=None, min_length=1, max_length=2000)
    threshold: SloThresholdDoc | None = None


class SloDoc(Doc):
    """An SLO (docs/slos.md): `window: 30d` (rolling) or `calendar: month`."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    service: str = Field(min_length=1, max_length=100)
    objective: float = Field(gt=0, lt=100)
    window: str | None = Field(default=None, max_length=32)
    calendar: Literal["week", "month", "quarter"] | None = None
    source: Literal["incidents", "prometheus"] = "incidents"
    budgeting: Literal["occurrences", "timeslices"] = "occurrences"
    description: str = Field(default="", max_length=1000)
    prometheus: SloPrometheusDoc | None = None


class TriageRungDoc(Doc):
    """One rung of the blast-radius ladder: its severity and who it pages."""

    severity: str = Field(min_length=1, max_length=32)
    page: list[
        Literal[
            "owning_team",
            "team_lead",
            "incident_commander",
            "engineering_management",
            "security",
            "ciso",
            "legal",
        ]
    ] = Field(min_length=1)


class TriageAudienceDoc(Doc):
    """Who an audience is: an escalation policy, or people (or both)."""

    escalation_policy: str | None = Field(default=None, min_length=1, max_length=100)
    users: list[str] = []


ImpactName = Literal["complete_loss", "degraded", "inconvenience"]
ScopeName = Literal["widespread", "limited", "minimal"]
BlastRadiusName = Literal[
    "single_user",
    "single_feature",
    "single_region",
    "core_workflow",
    "all_users",
    "data_integrity",
    "security_breach",
]
AudienceName = Literal["incident_commander", "engineering_management", "security", "ciso", "legal"]


class TriageDoc(Doc):
    """The severity matrix (all nine cells when given), blast-radius rungs that differ from
    the seeds', and who the audiences beyond the owning team and its lead are."""

    matrix: dict[ImpactName, dict[ScopeName, str]] | None = None
    blast_radius: dict[BlastRadiusName, TriageRungDoc] = {}
    audiences: dict[AudienceName, TriageAudienceDoc] = {}


class AlertRuleDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    matchers: list[str] = []
    service: str | None = None
    severity: str | None = None
    open_incident: bool = True
    page: bool = False
    group_window_minutes: int = Field(default=60, ge=0, le=10_080)
    flap_count: int = Field(default=3, ge=0, le=1000)
    flap_window_minutes: int = Field(default=30, ge=1, le=10_080)


def _quoted_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 10:00 as the number 600.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('write times in quotes, e.g. "10:00" (YAML reads 10:00 as a number)')
    return value


class RestrictionDoc(Doc):
    days: str | list[str] = "daily"
    start: str = "00:00"
    end: str = "00:00"

    _times = field_validator("start", "end", mode="before")(_quoted_time)


class LayerDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    members: list[str] = Field(min_length=1)
    level: int = Field(default=1, ge=1, le=9)
    shift: str = "weekly"
    handoff: str = "Monday 09:00"
    timezone: str | None = None
    start: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    offset: int = Field(default=0, ge=0, le=10_000)
    restrictions: list[RestrictionDoc] = []

    _times = field_validator("handoff", mode="before")(_quoted_time)

    @field_validator("start", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-01-05 as a date; keep the text.
        return value.isoformat() if isinstance(value, date) else value


class CompensationDoc(Doc):
    currency: str = Field(default="USD", min_length=1, max_length=8)
    business_hours: str = "09:00-17:00"
    weekday: float = Field(default=0, ge=0)
    off_hours: float = Field(default=0, ge=0)
    weekend: float = Field(default=0, ge=0)


class ScheduleDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    team: str
    description: str = ""
    timezone: str = "UTC"
    compensation: CompensationDoc | None = None
    layers: list[LayerDoc] = Field(min_length=1)


class StatusComponentDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    group: str | None = None
    is_group: bool = False
    service: str | None = None
    only_show_if_degraded: bool = False
    showcase: bool = True


class TemplateDoc(Doc):
    name: str = Field(min_length=1, max_length=64)
    severity: str | None = None
    service: str | None = None
    body: str = Field(min_length=1, max_length=20_000)


class TargetDoc(Doc):
    user: str | None = None
    schedule: str | None = None
    team: str | None = None
    level: int = Field(default=1, ge=1, le=9)  # for schedules: 1 primary, 2 secondary

    def kind_name(self) -> tuple[str, str] | None:
        given = [
            (k, v)
            for k, v in (("user", self.user), ("schedule", self.schedule), ("team", self.team))
            if v
        ]
        return given[0] if len(given) == 1 else None


class EscalationLevelDoc(Doc):
    timeout_minutes: int = Field(ge=1, le=24 * 60)
    targets: list[TargetDoc] = Field(min_length=1)


class EscalationPolicyDoc(Doc):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    repeat: int = Field(default=0, ge=0, le=10)
    fallback: str | None = None  # a team, whose channel_url is notified when exhausted
    levels: list[EscalationLevelDoc] = Field(min_length=1, max_length=20)


RoleName = Literal["viewer", "responder", "admin"]


class SsoRolesDoc(Doc):
    claim: str = Field(default="groups", min_length=1, max_length=100)
    map: dict[str, RoleName] = {}
    default: RoleName = "viewer"
    sync: bool = False  # at every sign-in the user's role becomes the mapped one


class SsoDoc(Doc):
    """Single sign-on with one OpenID Connect provider (docs/config-as-code.md)."""

    name: str = Field(default="", max_length=100)  # "Sign in with <name>"
    issuer: str = Field(min_length=1, max_length=190)
    client_id: str = Field(min_length=1, max_length=190)
    # The client secret never appears in config: the server reads this environment variable.
    client_secret_env: str = Field(
        default="", max_length=100, pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$"
    )
    scopes: list[str] = ["openid", "email", "profile"]
    create_users: bool = True
    require_verified_email: bool = True
    roles: SsoRolesDoc = SsoRolesDoc()

    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, data: Any) -> Any:
        if isinstance(data, dict) and "client_secret" in data:
            raise ValueError(
                "client_secret is not accepted in config: put the secret in an environment "
                "variable of the server and name it in client_secret_env"
            )
        return data


class PostmortemsDoc(Doc):
    """When a postmortem is required beyond the severity's policy, and its review gate."""

    longer_than_minutes: int | None = Field(default=30, ge=1, le=100_000)
    customer_detected: bool = True
    error_budget_percent: float | None = Field(default=20.0, gt=0, le=100)
    drills: Literal["required", "recommended", "optional"] = "optional"
    min_whys: int = Field(default=3, ge=1, le=10)
    default_due_hours: int = Field(default=168, ge=1, le=10_000)
    remind_before_hours: int = Field(default=24, ge=0, le=10_000)
    repeat_hours: int = Field(default=24, ge=1, le=10_000)
    action_items_webhook_url: str = Field(default="", max_length=500)
    action_items_webhook_secret_env: str = Field(
        default="", max_length=100, pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$"
    )

    @field_validator("action_items_webhook_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and (
            not value.startswith(("http://", "https://")) or any(c.isspace() for c in value)
        ):
            raise ValueError("action_items_webhook_url must be an http:// or https:// URL")
        return value


class ReportRecipientsDoc(Doc):
    email: list[str] = Field(default=[], max_length=50)
    webhook: str = Field(default="", max_length=1000)
    # The HMAC key of the webhook is read from this environment variable when sending.
    webhook_secret_env: str = Field(
        default="", max_length=100, pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$"
    )
    # Teams whose chat channel (channel_url) gets the review.
    team_channel: list[str] = Field(default=[], max_length=50)

    @field_validator("email", "team_channel", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("webhook")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and (
            not value.startswith(("http://", "https://")) or any(c.isspace() for c in value)
        ):
            raise ValueError("webhook must be an http:// or https:// URL")
        return value


class ReportDoc(Doc):
    """An operational review delivered on a schedule (docs/analytics.md#scheduled)."""

    name: str = Field(min_length=1, max_length=64)
    period: Literal["week", "month", "quarter"] = "week"
    # "MON 09:00" for a week; "[day 1-28] HH:MM" for a month or quarter.
    at: str = Field(default="MON 09:00", max_length=16)
    zone: str = Field(default="UTC", max_length=64)
    severity: str | None = None
    service: str | None = None
    team: str | None = None
    to: ReportRecipientsDoc

    @field_validator("at")
    @classmethod
    def _at(cls, value: str, info: ValidationInfo) -> str:
        from warroom.analytics.rules import parse_report_at

        parse_report_at(str(info.data.get("period", "week")), value)
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"zone {value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _someone(self) -> ReportDoc:
        if not (self.to.email or self.to.webhook or self.to.team_channel):
            raise ValueError("to: name at least one email address, webhook or team_channel")
        return self


class ConfigDoc(Doc):
    severities: list[SeverityDoc] | None = None
    teams: list[TeamDoc] | None = None
    users: list[UserDoc] | None = None
    services: list[ServiceDoc] | None = None
    integrations: list[IntegrationDoc] | None = None
    alert_rules: list[AlertRuleDoc] | None = None
    heartbeats: list[HeartbeatDoc] | None = None
    slos: list[SloDoc] | None = None
    schedules: list[ScheduleDoc] | None = None
    escalation_policies: list[EscalationPolicyDoc] | None = None
    status_components: list[StatusComponentDoc] | None = None
    templates: list[TemplateDoc] | None = None
    # A mapping, not a list: absent leaves single sign-on as it is, null turns it off.
    sso: SsoDoc | None = None
    # A mapping: absent leaves the postmortem rules as they are, null restores the defaults.
    postmortems: PostmortemsDoc | None = None
    # A mapping: absent leaves triage as it is, null restores the seeds' defaults.
    triage: TriageDoc | None = None
    # Absent leaves the scheduled reviews as they are; a list replaces them all.
    reports: list[ReportDoc] | None = None


KINDS = (
    "severities",
    "teams",
    "users",
    "services",
    "integrations",
    "alert_rules",
    "heartbeats",
    "slos",
    "schedules",
    "escalation_policies",
    "status_components",
    "templates",
)
# Sections that are one mapping rather than a list of named entries.
SINGLE = ("sso", "postmortems", "triage")
# Sections whose absent entries are kept (never deleted by an apply).
KEEP_ABSENT = ("users", "integrations")
