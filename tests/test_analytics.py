"""Analytics summary and timeseries on both stores, against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import T0, Api
from warroom.analytics.facts import backfill
from warroom.db.session import Database
from warroom.incidents.models import Incident, IncidentService
from warroom.org.models import Service, Team

MIN = timedelta(minutes=1)
FROM, TO = "2026-03-02", "2026-03-09"  # T0 is Monday 2026-03-02 09:00
TO_T = datetime(2026, 3, 9, tzinfo=UTC)


def _incident(
    s: Any,
    services: list[int],
    *,
    declared: datetime,
    severity: str = "SEV-2",
    started: float | None = None,
    ack: float | None = None,
    mitigated: float | None = None,
    resolved: float | None = None,
    source: str = "automated_alert",
    drill: bool = False,
    private: bool = False,
) -> Incident:
    """Milestones in minutes after detection (= declaration); `started` is minutes before."""

    def at(minutes: float | None) -> datetime | None:
        return None if minutes is None else declared + minutes * MIN

    inc = Incident(
        title="x",
        severity=severity,
        status="resolved" if resolved is not None else "investigating",
        detection_source=source,
        drill=drill,
        private=private,
        channel="#inc",
        started_at=None if started is None else declared - started * MIN,
        detected_at=declared,
        acknowledged_at=at(ack),
        declared_at=declared,
        mitigated_at=at(mitigated),
        resolved_at=at(resolved),
        updated_at=declared,
    )
    s.add(inc)
    s.flush()
    for sid in services:
        s.add(IncidentService(incident_id=inc.id, service_id=sid))
    return inc


@pytest.fixture
def fill(db: Database, people: dict[str, str]) -> None:
    with db.session() as s:
        core, data = Team(name="core"), Team(name="data")
        s.add_all([core, data])
        s.flush()
        api, store = (
            Service(name="api", owner_team_id=core.id),
            Service(name="db", owner_team_id=data.id),
        )
        s.add_all([api, store])
        s.flush()
        day = timedelta(days=1)
        # 1: on the range's first instant
        _incident(
            s,
            [api.id],
            declared=T0 - 9 * 60 * MIN,
            severity="SEV-1",
            started=2,
            ack=3,
            mitigated=18,
            resolved=58,
            source="customer_report",
        )
        _incident(
            s,
            [api.id],
            declared=T0 - 9 * 60 * MIN + day,
            started=4,
            ack=10,
            mitigated=30,
            resolved=90,
        )
        _incident(s, [store.id], declared=T0 - 9 * 60 * MIN + 2 * day, started=9, ack=1)
        # declared inside (03-08 23:00; db gaps 03-04 00:00 to here: 119 h), resolved after
        # the range's end: counts, with its MTTR
        _incident(s, [store.id], declared=TO_T - 60 * MIN, severity="SEV-3", ack=30, resolved=120)
        # a drill: never counts
        _incident(
            s,
            [api.id],
            declared=T0,
            severity="SEV-1",
            started=100,
            ack=100,
            mitigated=100,
            resolved=100,
            drill=True,
        )
        # declared before the range, resolved inside: does not count
        _incident(s, [api.id], declared=T0 - 10 * 60 * MIN, started=50, ack=50, resolved=500)
        # declared on the range's end: does not count
        _incident(s, [api.id], declared=TO_T, started=50, ack=50, resolved=500)
        # private, nobody's participant but the admin may see it
        _incident(s, [], declared=T0 + day, severity="SEV-4", source="other", private=True)
        # Written past the lifecycle: their facts are rebuilt as the migration does.
        s.flush()
        backfill(s.connection())


def _summary(who: Api, **params: str) -> dict[str, Any]:
    r = who.get("/api/v1/analytics/summary", params={"from": FROM, "to": TO, **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_summary_figures(carol: Api, fill: None) -> None:
    body = _summary(carol)
    assert body["from"] == "2026-03-02T00:00:00Z" and body["to"] == "2026-03-09T00:00:00Z"
    assert body["incident_count"] == 4
    assert body["drills_left_out"] == 1
    m = body["metrics"]
    # MTTD 2, 4, 9: median 4, p90 4 + 0.8 * 5
    assert m["mttd"] == {
        "n": 3,
        "mean_minutes": 5.0,
        "median_minutes": 4.0,
        "p90_minutes": 8.0,
        "target_minutes": 5.0,
        "met": False,
    }
    # MTTA 1, 3, 10, 30: median (3 + 10) / 2, p90 10 + 0.7 * 20; SEV-1..3 targets differ
    assert m["mtta"] == {
        "n": 4,
        "mean_minutes": 11.0,
        "median_minutes": 6.5,
        "p90_minutes": 24.0,
        "target_minutes": None,
        "met": None,
    }
    assert m["mttm"] == {
        "n": 2,
        "mean_minutes": 24.0,
        "median_minutes": 24.0,
        "p90_minutes": 28.8,
        "target_minutes": None,
        "met": None,
    }
    # MTTR 58, 90, 120 (the last resolved after the range's end)
    assert m["mttr"] == {
        "n": 3,
        "mean_minutes": 89.33,
        "median_minutes": 90.0,
        "p90_minutes": 114.0,
        "target_minutes": None,
        "met": None,
    }
    rate = body["rates"]["customer_detected_rate"]
    assert rate == {"percent": 25.0, "part": 1, "whole": 4, "target": "< 10%", "met": False}
    assert body["not_measured"] == []
    assert body["rates"]["repeat_rate"] == {
        "percent": 0.0,
        "part": 0,
        "whole": 4,
        "target": None,
        "met": None,
    }
    assert body["rates"]["postmortem_completion_rate"]["percent"] is None
    assert body["by_service"] == [
        {"service": "api", "count": 2, "mtbf_hours": 24.0},
        {"service": "db", "count": 2, "mtbf_hours": 119.0},
    ]
    assert body["by_team"] == [{"team": "core", "count": 2}, {"team": "data", "count": 2}]
    assert body["by_detection_source"] == [
        {"detection_source": "automated_alert", "count": 3},
        {"detection_source": "customer_report", "count": 1},
    ]
    sev = {row["severity"]: row for row in body["by_severity"]}
    assert [r["severity"] for r in body["by_severity"]] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert sev["SEV-1"]["count"] == 1
    assert sev["SEV-1"]["metrics"]["mtta"]["target_minutes"] == 5.0
    assert sev["SEV-1"]["metrics"]["mtta"]["met"] is True
    assert sev["SEV-1"]["metrics"]["mttm"] == {
        "n": 1,
        "mean_minutes": 18.0,
        "median_minutes": 18.0,
        "p90_minutes": 18.0,
        "target_minutes": 30.0,
        "met": True,
    }
    assert sev["SEV-2"]["metrics"]["mttr"]["target_minutes"] == 60.0
    assert sev["SEV-2"]["metrics"]["mttr"]["met"] is False
    assert sev["SEV-4"]["count"] == 0
    assert sev["SEV-4"]["metrics"]["mttd"]["n"] == 0


def test_filters(carol: Api, admin: Api, fill: None) -> None:
    sev2 = _summary(carol, severity="SEV-2")
    assert sev2["incident_count"] == 2
    assert sev2["metrics"]["mttd"]["median_minutes"] == 6.5  # 4 and 9: an even count
    assert sev2["metrics"]["mttr"] == {
        "n": 1,
        "mean_minutes": 90.0,
        "median_minutes": 90.0,
        "p90_minutes": 90.0,
        "target_minutes": 60.0,
        "met": False,
    }
    assert _summary(carol, service="db")["incident_count"] == 2
    assert _summary(carol, team="core")["metrics"]["mttr"]["n"] == 2
    # the admin also sees the private incident
    everything = _summary(admin)
    assert everything["incident_count"] == 5
    assert everything["rates"]["customer_detected_rate"]["percent"] == 20.0


def test_empty_range(carol: Api, fill: None) -> None:
    body = _summary(carol, **{"from": "2025-01-01", "to": "2025-02-01"})
    assert body["incident_count"] == 0
    assert body["metrics"]["mttr"]["n"] == 0 and body["metrics"]["mttr"]["mean_minutes"] is None
    assert body["rates"]["customer_detected_rate"]["percent"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-03-09", "to": "2026-03-02"}, "from"),
        ({"severity": "SEV-9"}, "severity"),
        ({"service": "nope"}, "service"),
        ({"team": "nope"}, "team"),
    ],
)
def test_bad_parameters_name_the_field(carol: Api, params: dict[str, str], field: str) -> None:
    r = carol.get("/api/v1/analytics/summary", params=params)
    assert r.status_code in (404, 422)
    assert r.json()["field"] == field


def test_needs_a_token(client: Any) -> None:
    assert client.get("/api/v1/analytics/summary").status_code == 401


def test_timeseries_weeks(carol: Api, fill: None) -> None:
    r = carol.get(
        "/api/v1/analytics/timeseries",
        params={"from": "2026-02-23", "to": "2026-03-16", "interval": "week"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["points"] == [
        {"start": "2026-02-23", "count": 1, "n": None, "mean_minutes": None},
        {"start": "2026-03-02", "count": 4, "n": None, "mean_minutes": None},
        {"start": "2026-03-09", "count": 1, "n": None, "mean_minutes": None},
    ]
    assert body["trend"] == "flat"
    r = carol.get(
        "/api/v1/analytics/timeseries",
        params={"from": "2026-02-23", "to": "2026-03-16", "metric": "mttr"},
    )
    assert [(p["n"], p["mean_minutes"]) for p in r.json()["points"]] == [
        (1, 500.0),
        (3, 89.33),
        (1, 500.0),
    ]


def test_timeseries_months(carol: Api, fill: None) -> None:
    r = carol.get(
        "/api/v1/analytics/timeseries",
        params={"from": "2026-01-01", "to": "2026-04-01", "interval": "month"},
    )
    body = r.json()
    assert [(p["start"], p["count"]) for p in body["points"]] == [
        ("2026-01-01", 0),
        ("2026-02-01", 0),
        ("2026-03-01", 6),
    ]
    assert body["trend"] == "up"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "mtbf"}, "metric"),
        ({"interval": "day"}, "interval"),
        ({"from": "1990-01-01", "to": "2026-01-01"}, "from"),
    ],
)
def test_timeseries_bad_parameters(carol: Api, params: dict[str, str], field: str) -> None:
    r = carol.get("/api/v1/analytics/timeseries", params=params)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_configured_targets_win(db: Database, carol: Api, fill: None) -> None:
    from sqlalchemy import select

    from warroom.config.schema import TargetsDoc
    from warroom.org.models import Severity

    assert TargetsDoc(mttr_minutes=100).mttr_minutes == 100
    with db.session() as s:
        sev = s.scalars(select(Severity).where(Severity.name == "SEV-2")).one()
        sev.targets = {**sev.targets, "mttr_minutes": 100, "mttd_minutes": 7}
    body = _summary(carol, severity="SEV-2")
    assert body["metrics"]["mttr"]["target_minutes"] == 100.0
    assert body["metrics"]["mttr"]["met"] is True  # 90 < 100
    assert body["metrics"]["mttd"]["target_minutes"] == 7.0  # 6.5 < 7
    assert body["metrics"]["mttd"]["met"] is True
    # mixed severities no longer share an MTTD target
    assert _summary(carol)["metrics"]["mttd"]["target_minutes"] is None


def test_postmortem_and_action_item_rates(db: Database, carol: Api, fill: None) -> None:
    from sqlalchemy import select

    from warroom.postmortems.models import ActionItem, Postmortem

    day = timedelta(days=1)
    with db.session() as s:
        incs = list(s.scalars(select(Incident).order_by(Incident.id)))
        first, second, third, late, drill = incs[:5]

        def pm(
            inc: Incident,
            requirement: str,
            status: str,
            due: datetime | None,
            published: datetime | None,
        ) -> None:
            s.add(
                Postmortem(
                    incident_id=inc.id,
                    status=status,
                    requirement=requirement,
                    reasons=[],
                    due_at=due,
                    created_at=T0,
                    updated_at=T0,
                    published_at=published,
                )
            )

        pm(first, "required", "published", T0 + 2 * day, T0 + day)  # on time
        pm(second, "required", "published", T0 + 2 * day, T0 + 3 * day)  # late
        pm(third, "required", "draft", T0 + 2 * day, None)
        pm(late, "recommended", "published", None, T0)  # not required: not counted
        pm(drill, "required", "draft", T0, None)  # a drill: not counted

        def item(
            inc: Incident,
            status: str,
            *,
            done_after: timedelta | None = None,
            due: datetime | None = None,
        ) -> None:
            s.add(
                ActionItem(
                    incident_id=inc.id,
                    title="t",
                    created_by="x",
                    created_at=T0,
                    updated_at=T0,
                    status=status,
                    due_at=due,
                    completed_at=None if done_after is None else T0 + done_after,
                )
            )

        item(first, "done", done_after=10 * day)
        item(first, "done", done_after=30 * day)  # on the window's last instant: counts
        item(first, "done", done_after=30 * day + MIN)
        item(first, "wont_do")  # not counted at all
        item(second, "open", due=T0 - 60 * MIN)  # overdue at the clock's now (T0)
        item(second, "in_progress", due=T0 + day)
        item(drill, "done", done_after=day)
    rates = _summary(carol)["rates"]
    assert rates["postmortem_completion_rate"] == {
        "percent": 66.7,
        "part": 2,
        "whole": 3,
        "target": "> 90%",
        "met": False,
    }
    assert rates["postmortem_on_time_rate"]["percent"] == 33.3
    assert rates["action_item_completion_rate"] == {
        "percent": 40.0,
        "part": 2,
        "whole": 5,
        "target": "> 75%",
        "met": False,
    }
    assert rates["action_items_overdue"] == 1


def test_timeseries_at_the_end_of_time(carol: Api) -> None:
    for interval in ("week", "month"):
        r = carol.get(
            "/api/v1/analytics/timeseries",
            params={"from": "9999-11-01", "to": "9999-12-31T23:59:59", "interval": interval},
        )
        assert r.status_code == 200, r.text
        assert r.json()["points"][-1]["start"] >= "9999-12-01"
