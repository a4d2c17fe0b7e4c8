"""Imports every module's tables so that metadata and migrations see them all."""

from warroom.alerts.models import Alert, AlertRule, ChangeEvent, Integration, Silence
from warroom.analytics.models import (
    IncidentFact,
    IncidentFactMonth,
    IncidentFactService,
    ReportSchedule,
)
from warroom.auth.models import ApiToken, AuditEntry, PasswordReset, WebSession
from warroom.comms.models import CommsTemplate
from warroom.db.base import Base
from warroom.engine.models import Job
from warroom.heartbeats.models import Heartbeat, HeartbeatOutage
from warroom.incidents.models import (
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
    TimelineEvent,
)
from warroom.oncall.models import (
    FeedToken,
    LayerMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from warroom.org.models import Service, ServiceDependency, Severity, Team, TeamMember, User
from warroom.paging.models import (
    ContactMethod,
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    InstanceKey,
    Notification,
    NotificationRule,
)
from warroom.postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemReview,
    PostmortemRevision,
    PostmortemRules,
    TimelineStar,
)
from warroom.slos.models import Slo, SloException
from warroom.statuspage.models import (
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentUpdate,
    StatusComponent,
    StatusPage,
    StatusSubscriber,
)
from warroom.triage.models import TriageSettings

__all__ = [
    "IncidentFact",
    "IncidentFactMonth",
    "IncidentFactService",
    "ReportSchedule",
    "ActionItem",
    "Postmortem",
    "PostmortemReview",
    "PostmortemRevision",
    "PostmortemRules",
    "TimelineStar",
    "Alert",
    "AlertRule",
    "ChangeEvent",
    "CommsTemplate",
    "FeedToken",
    "Heartbeat",
    "HeartbeatOutage",
    "LayerMember",
    "Schedule",
    "ScheduleLayer",
    "ScheduleOverride",
    "Integration",
    "Silence",
    "ApiToken",
    "AuditEntry",
    "PasswordReset",
    "Base",
    "Incident",
    "IncidentParticipant",
    "IncidentService",
    "Job",
    "RoleAssignment",
    "Service",
    "ServiceDependency",
    "Severity",
    "Team",
    "TeamMember",
    "TimelineEvent",
    "User",
    "WebSession",
    "ContactMethod",
    "Escalation",
    "EscalationLevel",
    "EscalationPolicy",
    "InstanceKey",
    "Notification",
    "NotificationRule",
    "ComponentStatusChange",
    "PublicIncident",
    "PublicIncidentUpdate",
    "StatusComponent",
    "StatusPage",
    "StatusSubscriber",
    "Slo",
    "SloException",
    "TriageSettings",
]
