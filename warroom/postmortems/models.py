"""Postmortem tables: the document, its revisions and reviews, action items, and the
`postmortems:` rules from config as code.

Invariants:
- At most one postmortem per incident (`incident_id` is unique); reopening a published
  one starts a new revision of the same document, never a second document.
- A snapshot row is written whenever the document changes state (submitted, published,
  reopened) and is never updated afterwards: revisions are kept and viewable (a revision
  sent back for changes and submitted again has two `submitted` snapshots).
- An action item belongs to an incident, and to its postmortem once there is one.
- A star marks one timeline event for the postmortem (one row per starred event; the
  timeline itself stays append-only): starred events come first in the drafted timeline.
- The full-text index of incidents (`incident_search`: titles and postmortems' root
  causes) is no model: migration 0016 creates it with the store's own SQL (FTS5 /
  tsvector) and its triggers keep it current (`warroom.postmortems.similar` reads it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class Postmortem(Base):
    __tablename__ = "postmortems"
    __table_args__ = (Index("ix_postmortems_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))  # draft | in_review | published
    requirement: Mapped[str] = mapped_column(String(16))  # required | recommended | optional
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # finding key (rules.finding_key) -> {"reason", "by", "at"}
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PostmortemRevision(Base):
    """A frozen copy of the document as it was when it left a state."""

    __tablename__ = "postmortem_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(
        ForeignKey("postmortems.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))  # submitted | published | reopened
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class PostmortemReview(Base):
    __tablename__ = "postmortem_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(
        ForeignKey("postmortems.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reviewer: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(20))  # approve | request_changes | comment
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class ActionItem(Base):
    __tablename__ = "action_items"
    __table_args__ = (
        Index("ix_action_items_incident", "incident_id", "id"),
        Index("ix_action_items_owner_status", "owner_id", "status"),
        Index("ix_action_items_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    postmortem_id: Mapped[int | None] = mapped_column(
        ForeignKey("postmortems.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    priority: Mapped[str | None] = mapped_column(String(2), nullable=True)  # P0..P3
    kind: Mapped[str] = mapped_column(String(16), default="prevent")
    status: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str] = mapped_column(Text, default="")  # why won't do
    tracker_url: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PostmortemRules(Base):
    """The `postmortems:` section of config as code: one row (id 1), absent = defaults."""

    __tablename__ = "postmortem_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TimelineStar(Base):
    """A timeline event starred in the room (for the postmortem's timeline)."""

    __tablename__ = "timeline_stars"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_events.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
