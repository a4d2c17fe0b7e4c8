"""The operational review in each format, from the API and through `warroom report`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import Api, LiveServer
from tests.test_analytics import fill  # noqa: F401  (the hand-computed incidents)
from warroom.analytics import report
from warroom.cli.main import main


def _run(server: LiveServer, token: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}
    )


@pytest.mark.usefixtures("fill")
def test_report_formats(live_server: LiveServer, people: dict[str, str], carol: Api) -> None:
    token = people["carol"]
    # 2026-03-10 lies in the week from 03-09: the last complete week is 03-02 to 03-09
    r = _run(live_server, token, "report", "--period", "week", "--before", "2026-03-10", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["from"] == "2026-03-02T00:00:00Z"
    assert summary["incident_count"] == 4
    assert summary["metrics"]["mttd"]["median_minutes"] == 4.0
    same = _run(live_server, token, "report", "--before", "2026-03-10", "--format", "json")
    assert json.loads(same.output) == summary

    md = _run(live_server, token, "report", "--before", "2026-03-10").output
    assert md.startswith("# Operational review: week of 2026-03-02\n")
    assert "4 incidents declared from 2026-03-02T00:00:00Z to 2026-03-09T00:00:00Z" in md
    assert "| MTTD (mean time to detect) | 3 | 5 | 4 | 8 | < 5 min | missed |" in md
    assert "| MTTR (mean time to resolve) | 3 | 89.3 | 90 | 114 | - | - |" in md
    assert "| Customer-detected rate | 25% | 1 of 4 | < 10% | missed |" in md
    assert "| api | 2 | 24 |" in md
    assert "| SEV-2 | 2 | 5.5 (-) | 30 (-) | 90 (missed) |" in md
    assert "## Phase durations by severity (mean / target in minutes)" in md
    assert "| SEV-1 | 0 / < 5 min (met) | no data / < 15 min (-) | no data / < 5 min (-) |" in md
    assert "| SEV-4 | no data / < 120 min (-) | no data / < 240 min (-) | no data / - (-) |" in md
    assert "| Repeats (marked as a repeat of an earlier incident) | 0% | 0 of 4 | - | - |" in md

    page = _run(live_server, token, "report", "--before", "2026-03-10", "--format", "html")
    assert page.output.startswith("<!doctype html>")
    assert "<td>MTTD (mean time to detect)</td><td>3</td><td>5</td>" in page.output
    assert "<script" not in page.output

    month = _run(
        live_server, token, "report", "--period", "month", "--before", "2026-04-02", "--json"
    )
    assert (
        json.loads(month.output)["incident_count"] == 6
    )  # all of March but the drill and the private one

    bad = _run(live_server, token, "report", "--before", "soon")
    assert bad.exit_code != 0 and "--before" in bad.output


def test_empty_figures_read_no_data() -> None:
    empty = {
        "n": 0,
        "mean_minutes": None,
        "median_minutes": None,
        "p90_minutes": None,
        "target_minutes": 5.0,
        "met": None,
    }
    summary = {
        "from": "a",
        "to": "b",
        "incident_count": 0,
        "drills_left_out": 0,
        "metrics": {k: empty for k in ("mttd", "mtta", "mttm", "mttr")},
        "rates": {
            "customer_detected_rate": {
                "percent": None,
                "part": 0,
                "whole": 0,
                "target": "< 10%",
                "met": None,
            }
        },
        "not_measured": ["repeat_rate"],
        "by_severity": [],
        "by_service": [],
        "by_team": [],
        "by_detection_source": [{"detection_source": "<b>", "count": 1}],
    }
    md = report.render(summary, "markdown")
    assert "| MTTD (mean time to detect) | 0 | no data | no data | no data | < 5 min | - |" in md
    assert "Not measured: repeat_rate." in md
    assert "&lt;b&gt;" in report.render(summary, "html")
    with pytest.raises(KeyError):
        report.render(summary, "pdf")
