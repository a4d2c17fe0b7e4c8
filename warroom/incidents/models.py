"""Incident tables: the incident, its services, roles, participants and timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_id", "status", "id"),
        Index("ix_incidents_severity_id", "severity", "id"),
        Index("ix_incidents_private_id", "private", "id"),
        # analytics: the incidents declared in a range (docs/analytics.md)
        Index("ix_incidents_declared_at", "declared_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(ForeignKey("severities.name", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))
    impact_summary: Mapped[str] = mapped_column(Text, default="")
    resolution_summary: Mapped[str] = mapped_column(Text, default="")
    detection_source: Mapped[str] = mapped_column(String(32))
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    # The share of users or requests affected, in percent (0 < x <= 100), when recorded:
    # an SLO's budget is spent at this weight (all of it when unknown).
    affected_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(120))
    bridge_url: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    detected_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    declared_at: Mapped[datetime]
    ic_assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Phase milestones (docs/analytics.md#phases): set by a responder, or on the first
    # status that says so / the first external update or status page post.
    mitigation_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    customers_informed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]
    # An earlier incident this one repeats (docs/analytics.md#repeat-rate); never itself.
    repeat_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True
    )


class IncidentService(Base):
    __tablename__ = "incident_services"
    __table_args__ = (UniqueConstraint("incident_id", "service_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )


class IncidentParticipant(Base):
    """Who may see a private incident: its declarer and everyone who held a role."""

    __tablename__ = "incident_participants"
    __table_args__ = (
        UniqueConstraint("incident_id", "user_id"),
        Index("ix_incident_participants_user", "user_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (Index("ix_role_assignments_incident", "incident_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    assigned_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TimelineEvent(Base):
    """Append-only: rows are never updated; a correction is a new row pointing back."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_events.id", ondelete="RESTRICT"), nullable=True
    )
