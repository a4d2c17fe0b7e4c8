"""GET /metrics: warroom's own health in the Prometheus text format, on both stores."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import T0, Api
from tests.e2e._programs import require_program
from warroom.analytics import metrics
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.incidents.models import Incident

PROMTOOL = Path("/usr/bin/promtool")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(who: Api) -> str:
    r = who.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return str(r.text)


def _incident(s: Any, severity: str, status: str, drill: bool = False) -> None:
    s.add(
        Incident(
            title="x",
            severity=severity,
            status=status,
            detection_source="other",
            drill=drill,
            channel="#x",
            declared_at=T0,
            updated_at=T0,
        )
    )


def test_store_figures(db: Database, carol: Api) -> None:
    with db.session() as s:
        _incident(s, "SEV-1", "investigating")
        _incident(s, "SEV-1", "monitoring")
        _incident(s, "SEV-2", "identified")
        _incident(s, "SEV-2", "resolved")
        _incident(s, "SEV-1", "investigating", drill=True)
        for i, (due, state) in enumerate(
            [
                (T0 - timedelta(seconds=90), "pending"),
                (T0 - timedelta(seconds=10), "pending"),
                (T0 + timedelta(hours=1), "pending"),
                (T0 - timedelta(hours=5), "done"),
            ]
        ):
            s.add(Job(kind="k", key=f"j{i}", payload={}, state=state, due_at=due, created_at=T0))
    got = samples(scrape(carol))
    assert got[("warroom_open_incidents", (("severity", "SEV-1"),))] == 2
    assert got[("warroom_open_incidents", (("severity", "SEV-2"),))] == 1
    assert got[("warroom_engine_queue_depth", ())] == 2
    assert got[("warroom_engine_oldest_due_job_age_seconds", ())] == 90
    assert got[("warroom_engine_jobs_pending", (("kind", "k"),))] == 3
    assert got[("warroom_unacknowledged_pages", (("state", "triggered"),))] == 0
    assert all(name.startswith("warroom_") for name, _ in got)


def test_requests_and_intake_are_counted(carol: Api, client: Any) -> None:
    key = (
        "warroom_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/analytics/summary"), ("status", "200")),
    )
    before = samples(scrape(carol)).get(key, 0)
    assert carol.get("/api/v1/analytics/summary").status_code == 200
    assert carol.get("/api/v1/analytics/summary").status_code == 200
    intake = (
        "warroom_alert_intake_requests_total",
        (("integration", "alertmanager"), ("outcome", "unknown_integration")),
    )
    intake_before = samples(scrape(carol)).get(intake, 0)
    assert client.post("/integrations/alertmanager/not-a-key", json={}).status_code == 404
    got = samples(scrape(carol))
    assert got[key] == before + 2
    assert got[intake] == intake_before + 1
    # the route template, never the path with its values
    client.get("/api/v1/incidents/INC-999999")
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples(scrape(carol))
        if name == "warroom_http_requests_total"
    }
    assert "/api/v1/incidents/{incident_id}" in routes
    assert not any("INC-999999" in str(r) for r in routes)


def test_needs_a_token(client: Any) -> None:
    assert client.get("/metrics").status_code == 401


def test_intake_labels_never_hold_the_key() -> None:
    assert metrics.intake_labels(("webhook", "grafana", "s3cret"), 202) == ("grafana", "accepted")
    assert metrics.intake_labels(("/v2/enqueue",), 429) == ("pagerduty", "rate_limited")
    assert metrics.intake_labels(("webhook", "weird", "k"), 503) == ("other", "error")


def test_promtool_accepts_the_exposition(carol: Api, tmp_path: Path) -> None:
    require_program(PROMTOOL, "prometheus")
    carol.get("/api/v1/analytics/summary")
    text = scrape(carol)
    check = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_multiprocess_dir_is_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"old")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    assert metrics.prepare_multiprocess_dir() == str(folder)
    assert not list(folder.glob("*.db"))
