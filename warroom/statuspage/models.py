"""Status page tables: the page, components and their history, public incidents and
maintenance with their updates, subscribers.

Public rows carry a `code` (12 lowercase letters and digits, like Statuspage's ids), so
the public API never exposes internal row ids or internal incident numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class StatusPage(Base):
    """One row (id 1). `version` goes up in the transaction of every public change; each
    process re-renders its cached bodies when it sees a new version."""

    __tablename__ = "status_page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="Etc/UTC")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class StatusComponent(Base):
    __tablename__ = "status_components"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_components.id", ondelete="SET NULL"), nullable=True, index=True
    )
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="operational")
    only_show_if_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    showcase: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ComponentStatusChange(Base):
    """Append-only status history of a component: the source of the uptime bars."""

    __tablename__ = "status_component_changes"
    __table_args__ = (Index("ix_status_component_changes_component_at", "component_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class PublicIncident(Base):
    """A public incident (kind `incident`, linked to an internal incident) or a scheduled
    maintenance (kind `maintenance`)."""

    __tablename__ = "status_incidents"
    __table_args__ = (Index("ix_status_incidents_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    impact: Mapped[str] = mapped_column(String(16))
    components: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime]
    monitoring_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    scheduled_for: Mapped[datetime | None] = mapped_column(nullable=True)
    scheduled_until: Mapped[datetime | None] = mapped_column(nullable=True)


class PublicIncidentUpdate(Base):
    __tablename__ = "status_incident_updates"
    __table_args__ = (Index("ix_status_incident_updates_incident", "public_incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    public_incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incidents.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    affected_components: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    display_at: Mapped[datetime]


class StatusSubscriber(Base):
    """An email (double opt-in) or webhook subscriber. Its link tokens are in
    StatusSubscriberToken, as hashes."""

    __tablename__ = "status_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(500))
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]


class StatusSubscriberToken(Base):
    """The SHA-256 of one token in the links (confirm, unsubscribe) of a message sent to a
    subscriber: each message carries a new token, and the token itself is never stored.
    A token grants confirming and unsubscribing its subscription, nothing else."""

    __tablename__ = "status_subscriber_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("status_subscribers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
