"""The analytics page and its CSV downloads, without a browser, on both stores."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_analytics import fill  # noqa: F401  (the hand-computed incidents)
from tests.test_web import give_password, login, text_of
from warroom.db.session import Database
from warroom.web.analytics_pages import column_chart, hbar_chart

Q = "?from=2026-03-02&to=2026-03-09"


@pytest.fixture
def carol_web(db: Database, client: TestClient, people: dict[str, str]) -> TestClient:
    give_password(db, "carol")
    assert login(client, "carol").status_code == 200
    return client


@pytest.mark.usefixtures("fill")
def test_page_shows_the_figures_and_charts(carol_web: TestClient) -> None:
    r = carol_web.get("/analytics" + Q)
    assert r.status_code == 200, r.text
    assert "<script" not in r.text.split("</nav>", 1)[1]
    text = text_of(r.text)
    assert "4 incidents declared from 2026-03-02T00:00:00Z to 2026-03-09T00:00:00Z" in text
    assert "MTTD started → detected 3 5 4 8 < 5 min missed" in text
    assert "customer detected rate 25% 1 of 4 < 10% missed" in text
    assert "repeat rate 0% 0 of 4" in text
    # phases: fill's incidents are declared when detected (triage 0) and record no
    # mitigation start; SEV-1's triage target is seed 003's 5 minutes
    assert "SEV-1 0 (n 1, < 5) met no data (n 0, < 15) no data (n 0, < 5)" in text
    assert r.text.count("<svg") == 7
    assert '<svg class="chart"' in r.text and "Incidents by severity" in r.text
    assert 'href="/analytics/severity.csv?from=2026-03-02&amp;to=2026-03-09"' in r.text


@pytest.mark.usefixtures("fill")
def test_csv_per_chart(carol_web: TestClient) -> None:
    r = carol_web.get("/analytics/durations.csv" + Q)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="warroom-durations.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [
        "metric",
        "n",
        "mean_minutes",
        "median_minutes",
        "p90_minutes",
        "target_minutes",
        "met",
    ]
    assert rows[1] == ["mttd", "3", "5.0", "4.0", "8.0", "5.0", "False"]
    assert rows[4][:5] == ["mttr", "3", "89.33", "90.0", "114.0"]
    svc = list(csv.reader(io.StringIO(carol_web.get("/analytics/service.csv" + Q).text)))
    assert svc == [
        ["service", "incidents", "mtbf_hours"],
        ["api", "2", "24.0"],
        ["db", "2", "119.0"],
    ]
    trend = carol_web.get("/analytics/trend.csv?from=2026-02-23&to=2026-03-16").text
    assert trend.splitlines() == ["start,incidents", "2026-02-23,1", "2026-03-02,4", "2026-03-09,1"]
    assert carol_web.get("/analytics/nope.csv").status_code == 404


def test_bad_filter_is_an_error_page(carol_web: TestClient) -> None:
    r = carol_web.get("/analytics?severity=SEV-9")
    assert r.status_code == 404
    assert "SEV-9" in r.text


def test_signed_out_goes_to_login(client: TestClient) -> None:
    r = client.get("/analytics", follow_redirects=False)
    assert r.status_code in (302, 303, 307)
    assert r.headers["location"].startswith("/login")


def test_charts_escape_and_say_no_data() -> None:
    svg = str(hbar_chart([("<b>", None), ("x", 2.0)], "t"))
    assert "&lt;b&gt;" in svg and "no data" in svg and "<b>" not in svg
    col: Any = str(column_chart([("2026-03-02", 3), ("2026-03-09", None)], "c"))
    assert "2026-03-02: 3" in col and "2026-03-09: no data" in col
