"""Analytics routes: /api/v1/analytics/summary and /api/v1/analytics/timeseries (viewer reads).

Both take `from`, `to` (dates or ISO instants; default the last 30 days), `severity`,
`service` and `team`; the definitions are in docs/analytics.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from warroom.analytics import metrics, queries
from warroom.core.clock import Clock
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.http import clock, db, needs

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
viewer = Depends(needs("viewer"))


class AnalyticsMetric(BaseModel):
    n: int
    mean_minutes: float | None
    median_minutes: float | None
    p90_minutes: float | None
    target_minutes: float | None
    met: bool | None


class AnalyticsMetrics(BaseModel):
    mttd: AnalyticsMetric
    mtta: AnalyticsMetric
    mttm: AnalyticsMetric
    mttr: AnalyticsMetric


class AnalyticsPhases(BaseModel):
    """Seed 003's phase durations (docs/analytics.md#phases)."""

    triage: AnalyticsMetric = Field(description="detected to declared (triage done)")
    mitigation_start: AnalyticsMetric = Field(description="declared to mitigation started")
    customer_comms: AnalyticsMetric = Field(
        description="mitigation started to customers informed (informed before it: 0)"
    )


class AnalyticsRate(BaseModel):
    percent: float | None
    part: int
    whole: int
    target: str | None
    met: bool | None


class AnalyticsRates(BaseModel):
    customer_detected_rate: AnalyticsRate
    postmortem_completion_rate: AnalyticsRate
    postmortem_on_time_rate: AnalyticsRate
    action_item_completion_rate: AnalyticsRate
    action_items_overdue: int
    repeat_rate: AnalyticsRate = Field(description="incidents marked as a repeat of an earlier one")


class AnalyticsFilters(BaseModel):
    severity: str | None
    service: str | None
    team: str | None


class AnalyticsSeverityRow(BaseModel):
    severity: str
    count: int
    metrics: AnalyticsMetrics
    phases: AnalyticsPhases


class AnalyticsServiceRow(BaseModel):
    service: str
    count: int
    mtbf_hours: float | None


class AnalyticsTeamRow(BaseModel):
    team: str
    count: int


class AnalyticsSourceRow(BaseModel):
    detection_source: str
    count: int


class AnalyticsSummaryOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    filters: AnalyticsFilters
    incident_count: int
    drills_left_out: int
    metrics: AnalyticsMetrics
    phases: AnalyticsPhases
    rates: AnalyticsRates
    not_measured: list[str]
    by_severity: list[AnalyticsSeverityRow]
    by_service: list[AnalyticsServiceRow]
    by_team: list[AnalyticsTeamRow]
    by_detection_source: list[AnalyticsSourceRow]
    oncall_health: str = Field(description="where the on-call load figures are")


class AnalyticsPoint(BaseModel):
    start: str
    count: int | None = None
    n: int | None = None
    mean_minutes: float | None = None


class AnalyticsTimeseriesOut(BaseModel):
    metric: str
    interval: str
    from_: str = Field(alias="from")
    to: str
    filters: AnalyticsFilters
    points: list[AnalyticsPoint]
    trend: str | None


FROM = Query(None, alias="from", description="start, inclusive: 2026-03-01 or an ISO instant")
TO = Query(None, description="end, exclusive (default now)")


@router.get(
    "/summary",
    response_model=AnalyticsSummaryOut,
    response_model_by_alias=True,
    summary="Incident metrics over a range",
)
def get_summary(
    from_: str | None = FROM,
    to: str | None = TO,
    severity: str | None = None,
    service: str | None = None,
    team: str | None = None,
    principal: Principal = viewer,
    database: Database = Depends(db),
    now: Clock = Depends(clock),
) -> Any:
    """MTTD, MTTA, MTTM and MTTR (n, mean, median, p90, target, met), breakdowns and rates of
    the incidents declared in [from, to), drills left out."""
    with database.session() as s:
        f = queries.filters(
            s, now, start=from_, end=to, severity=severity, service=service, team=team
        )
        return queries.summary(s, principal, f)


@router.get(
    "/timeseries",
    response_model=AnalyticsTimeseriesOut,
    response_model_by_alias=True,
    summary="Incident count or an MTTx mean per week or month",
)
def get_timeseries(
    metric: str = Query("count", description="count, mttd, mtta, mttm or mttr"),
    interval: str = Query("week", description="week (from Monday, UTC) or month"),
    from_: str | None = FROM,
    to: str | None = TO,
    severity: str | None = None,
    service: str | None = None,
    team: str | None = None,
    principal: Principal = viewer,
    database: Database = Depends(db),
    now: Clock = Depends(clock),
) -> Any:
    """One point per bucket in the range, empty buckets included, and the trend of counts."""
    with database.session() as s:
        f = queries.filters(
            s, now, start=from_, end=to, severity=severity, service=service, team=team
        )
        return queries.timeseries(s, principal, f, metric, interval)


metrics_router = APIRouter(tags=["metrics"])


@metrics_router.get("/metrics", include_in_schema=False)
def get_metrics(
    principal: Principal = viewer,
    database: Database = Depends(db),
    now: Clock = Depends(clock),
) -> Response:
    """warroom's own health in the Prometheus text format (docs/analytics.md#prometheus)."""
    return Response(metrics.exposition(database, now), media_type=metrics.CONTENT_TYPE)
