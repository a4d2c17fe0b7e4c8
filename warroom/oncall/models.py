"""On-call tables: schedules (owned by teams), their layers and members, overrides,
secret calendar-feed tokens (only their SHA-256 is stored).

Layers keep the human forms they were declared with (shift 'weekly', handoff
'Monday 10:00', restriction windows), so an export gives back exactly what was applied;
the expansion in rules.py parses them. The final schedule is never stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Schedule(Base):
    __tablename__ = "oncall_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    compensation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class ScheduleLayer(Base):
    __tablename__ = "oncall_layers"
    __table_args__ = (UniqueConstraint("schedule_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer, default=1)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    shift: Mapped[str] = mapped_column(String(32))
    handoff: Mapped[str] = mapped_column(String(32))
    start: Mapped[date | None] = mapped_column(Date, nullable=True)
    offset_shifts: Mapped[int] = mapped_column(Integer, default=0)
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class LayerMember(Base):
    __tablename__ = "oncall_layer_members"
    __table_args__ = (UniqueConstraint("layer_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("oncall_layers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class ScheduleOverride(Base):
    """One person covers another (or takes a level) for a span."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_schedules.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    covering_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class FeedToken(Base):
    """A secret calendar URL for one schedule or one user."""

    __tablename__ = "oncall_feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("oncall_schedules.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    created_at: Mapped[datetime]
