"""Imports every module's tables so that metadata and migrations see them all."""

from warroom.auth.models import ApiToken, WebSession
from warroom.db.base import Base
from warroom.engine.models import Job
from warroom.incidents.models import (
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
    TimelineEvent,
)
from warroom.org.models import Service, ServiceDependency, Severity, Team, TeamMember, User

__all__ = [
    "ApiToken",
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
]
