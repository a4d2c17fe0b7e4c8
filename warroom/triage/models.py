"""Triage table: the `triage:` section of config as code, one row (id 1); absent means
the seeds' matrix and ladder, and no audience beyond the owning team and its lead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base


class TriageSettings(Base):
    __tablename__ = "triage_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
