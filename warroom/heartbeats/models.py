"""Heartbeat tables: monitors and their outages.

A monitor's ping URL secret is stored only as its SHA-256 (`core.security.hash_token`).
Its last pings (at most `MAX_PINGS`) are kept on the row itself, so a ping is one row
update and the sparkline one read; outages (down to up) are rows of their own, for the
history and the on-call handoff.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base

MAX_PINGS = 30


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    # The alerts of this monitor belong to an internal integration of its own (kind
    # "heartbeat", which no intake path accepts), so they route like any other alert.
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="RESTRICT"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(8))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16), default="critical")
    description: Mapped[str] = mapped_column(String(500), default="")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # down while an outage is open; the other states are computed (rules.state).
    down: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    since: Mapped[datetime]  # start of the current interval
    last_ping_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_ping_source: Mapped[str] = mapped_column(String(32), default="")
    pings: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO times, oldest first
    # The engine job that fires at the deadline (moved in place by each ping).
    job_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class HeartbeatOutage(Base):
    """From the deadline a monitor missed to the ping (or pause) that ended it."""

    __tablename__ = "heartbeat_outages"
    __table_args__ = (Index("ix_heartbeat_outages_span", "heartbeat_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    heartbeat_id: Mapped[int] = mapped_column(ForeignKey("heartbeats.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_by: Mapped[str] = mapped_column(String(32), default="")
