"""Shift tables: handoff notes between the people of a schedule's level, and the remarks
people add to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Handoff(Base):
    """One handoff at one level of a schedule: the outgoing person's note, drafted from
    what happened during their shift, and the incoming person's start-of-shift checklist.
    Names are kept beside the ids so an old note stays readable."""

    __tablename__ = "oncall_handoffs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "level", "at"),
        Index("ix_oncall_handoffs_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    shift_start: Mapped[datetime]
    outgoing_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    incoming_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    outgoing: Mapped[str] = mapped_column(String(100))
    incoming: Mapped[str] = mapped_column(String(100))
    note: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]


class HandoffRemark(Base):
    """Free text a person adds to a handoff note: the outgoing person's own words, the
    incoming person's questions."""

    __tablename__ = "oncall_handoff_remarks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_handoffs.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
