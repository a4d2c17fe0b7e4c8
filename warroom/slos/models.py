"""SLO tables: the objectives and the exceptions granted to a service's release freeze.

An SLO row keeps its declaration as config wrote it (`spec`, so an export applies as a
no-op) and what the engine saw last (`last`, `alert_state`): the gate and the pages read
incident-sourced SLOs live, and Prometheus-sourced ones from their last evaluation.
An exception is never deleted: revoking it stamps `revoked_at`, so the record of who let
a release through a freeze, and why, stays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Slo(Base):
    __tablename__ = "slos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    objective: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # "" (quiet), "page" or "ticket": the burn alert raised into the intake, if any.
    alert_state: Mapped[str] = mapped_column(String(16), default="")
    evaluated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str] = mapped_column(Text, default="")


class SloException(Base):
    """Lets releases of a frozen service through, until `expires_at`."""

    __tablename__ = "slo_exceptions"
    __table_args__ = (Index("ix_slo_exceptions_service", "service_id", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "p0" | "security"
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
