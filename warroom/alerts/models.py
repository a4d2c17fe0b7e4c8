"""Alert tables: integrations, alerts, routing rules, silences and maintenance, changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Integration(Base):
    """A source of alerts. Its key is a secret: only its SHA-256 is stored."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), nullable=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(8))
    hmac_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # An always-firing alert (Alertmanager's Watchdog) whose notifications ping the
    # heartbeat monitor named `heartbeat_monitor` instead of being ingested.
    heartbeat_alert: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_monitor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AlertRule(Base):
    """Routing: alerts whose labels match go to a service, get a severity, and may
    open (or join) an incident."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), nullable=True
    )
    severity: Mapped[str | None] = mapped_column(String(32), nullable=True)
    open_incident: Mapped[bool] = mapped_column(Boolean, default=True)
    # Page the service's escalation policy for an alert that opens no incident.
    page: Mapped[bool] = mapped_column(Boolean, default=False)
    group_window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    flap_count: Mapped[int] = mapped_column(Integer, default=3)
    flap_window_minutes: Mapped[int] = mapped_column(Integer, default=30)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per dedup key and integration.
        Index(
            "uq_alerts_open_dedup",
            "integration_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alerts_dedup_seen", "integration_id", "dedup_key", "first_seen"),
        Index("ix_alerts_status_id", "status", "id"),
        Index("ix_alerts_incident", "incident_id"),
        # Grouping: the newest alert of a service that joined an active incident lately,
        # found from the newest end instead of reading every alert of every open incident.
        Index("ix_alerts_service_seen", "service_id", "first_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), nullable=True
    )
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True
    )
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(255), default="")
    source_severity: Mapped[str] = mapped_column(String(16), default="error")
    severity: Mapped[str | None] = mapped_column(String(32), nullable=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime | None] = mapped_column(nullable=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    suppressed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    noise: Mapped[str | None] = mapped_column(String(32), nullable=True)
    noise_note: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """A silence (matchers) or a maintenance window (services): matching alerts are
    stored and shown but open nothing and page no one."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="silence")
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ChangeEvent(Base):
    """A deploy, config change or feature-flag flip."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_service_at", "service_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), nullable=True
    )
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="deploy")
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
