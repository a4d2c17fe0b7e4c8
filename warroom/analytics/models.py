"""Analytics tables: one row of facts per incident, and one per incident and service.

Invariants:
- `incident_facts` holds, for every incident, the columns the summary filters on
  (declared_at, severity, detection source, drill, private, repeat) and every duration in
  minutes (NULL where the metric does not count: a milestone missing, or the end before
  the start). It is derived data: `analytics.facts.refresh` rewrites an incident's rows
  from the incident in the transaction that changed it (a `seam.on` reaction to every
  incident event), and `analytics.facts.backfill` rebuilds them all (migration 0017).
- `incident_fact_services` has one row per incident and affected service, with the
  incident's filter columns repeated and `multi` set when the incident affects more than
  one service (a team's distinct incident count is exact without a DISTINCT over all).
- The partial covering indexes let a quantile be read by walking an index (SQLite) and
  the grouped counts scan an index, never the incidents table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base

# Durations kept per incident, in minutes: the four MTTx and the three phases.
DURATIONS = ("mttd", "mtta", "mttm", "mttr", "triage", "mitigation_start", "customer_comms")


def _metric_indexes() -> tuple[Index, ...]:
    out: list[Index] = []
    for m in DURATIONS:
        where = text(f"{m} IS NOT NULL")
        out.append(
            Index(
                f"ix_incident_facts_sev_{m}",
                "drill",
                "severity",
                m,
                "declared_at",
                "private",
                sqlite_where=where,
                postgresql_where=where,
            )
        )
        out.append(
            Index(
                f"ix_incident_facts_all_{m}",
                "drill",
                m,
                "declared_at",
                "private",
                sqlite_where=where,
                postgresql_where=where,
            )
        )
    return tuple(out)


class IncidentFact(Base):
    __tablename__ = "incident_facts"
    __table_args__ = (
        Index(
            "ix_incident_facts_scan",
            "drill",
            "declared_at",
            "private",
            "severity",
            "detection_source",
            "is_repeat",
        ),
        # a reader's private incidents, by range
        Index("ix_incident_facts_private", "private", "drill", "declared_at"),
        *_metric_indexes(),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    declared_at: Mapped[datetime]
    severity: Mapped[str] = mapped_column(String(32))
    detection_source: Mapped[str] = mapped_column(String(32))
    drill: Mapped[bool] = mapped_column(Boolean)
    private: Mapped[bool] = mapped_column(Boolean)
    is_repeat: Mapped[bool] = mapped_column(Boolean)
    mttd: Mapped[float | None] = mapped_column(Float, nullable=True)
    mtta: Mapped[float | None] = mapped_column(Float, nullable=True)
    mttm: Mapped[float | None] = mapped_column(Float, nullable=True)
    mttr: Mapped[float | None] = mapped_column(Float, nullable=True)
    triage: Mapped[float | None] = mapped_column(Float, nullable=True)
    mitigation_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    customer_comms: Mapped[float | None] = mapped_column(Float, nullable=True)


class IncidentFactService(Base):
    __tablename__ = "incident_fact_services"
    __table_args__ = (
        Index(
            "ix_incident_fact_services_scan",
            "drill",
            "service_id",
            "multi",
            "declared_at",
            "private",
            "incident_id",
        ),
        # a team's incidents that affect several services, by range
        Index(
            "ix_incident_fact_services_multi",
            "drill",
            "multi",
            "declared_at",
            "service_id",
            "private",
            "incident_id",
        ),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    declared_at: Mapped[datetime]
    drill: Mapped[bool] = mapped_column(Boolean)
    private: Mapped[bool] = mapped_column(Boolean)
    multi: Mapped[bool] = mapped_column(Boolean)


class ReportSchedule(Base):
    """A scheduled operational review (config as code, `reports:`): the entry as applied."""

    __tablename__ = "report_schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class IncidentFactMonth(Base):
    """Monthly rollup of `incident_facts` (UTC calendar months of declaration): per
    severity, detection source, private and drill, the incident count, the repeats and n
    and sum of every duration. Kept by `analytics.facts` with the facts (a row's deltas),
    so a range's whole months are read from here and only its partial months from the
    facts."""

    __tablename__ = "incident_fact_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-03
    severity: Mapped[str] = mapped_column(String(32), primary_key=True)
    detection_source: Mapped[str] = mapped_column(String(32), primary_key=True)
    private: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    drill: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[int] = mapped_column(Integer)
    mttd_n: Mapped[int] = mapped_column(Integer)
    mttd_sum: Mapped[float] = mapped_column(Float)
    mtta_n: Mapped[int] = mapped_column(Integer)
    mtta_sum: Mapped[float] = mapped_column(Float)
    mttm_n: Mapped[int] = mapped_column(Integer)
    mttm_sum: Mapped[float] = mapped_column(Float)
    mttr_n: Mapped[int] = mapped_column(Integer)
    mttr_sum: Mapped[float] = mapped_column(Float)
    triage_n: Mapped[int] = mapped_column(Integer)
    triage_sum: Mapped[float] = mapped_column(Float)
    mitigation_start_n: Mapped[int] = mapped_column(Integer)
    mitigation_start_sum: Mapped[float] = mapped_column(Float)
    customer_comms_n: Mapped[int] = mapped_column(Integer)
    customer_comms_sum: Mapped[float] = mapped_column(Float)
