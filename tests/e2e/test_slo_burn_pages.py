"""A fast burn of a Prometheus-measured SLO pages the service's on-call person, with real
parts: Debian's Prometheus scrapes an exporter the test runs, warroom (served over HTTP,
on real time) is configured through its API, and its engine's `slo_evaluate` job asks
that Prometheus, raises the burn alert into warroom's own intake, opens an incident and
pages alice's webhook.

The exporter's counter `http_requests_total{code}` moves only when scraped: every scrape
adds 100 requests, `error_percent` of them with code 500. Every sample is younger than
the shortest burn span (5m), so each span from 5m to the 30d window measures the same
exact share: 50% errors burn the 99.9% objective 500 times too fast over 1h and 5m
(page: above 14.4x over both). Prometheus scrapes every second.

After the page the errors stop: the budget burnt stays in every span (all spans still
hold the bad requests), so the evaluator keeps the page while the burn rates fall. Then
Prometheus is stopped: the next evaluation records the error and keeps the last status
and the alert as they were.

Timing is real (Prometheus only answers for real time): the test waits by polling
state, never by sleeping. warroom reaches Prometheus and the webhook on 127.0.0.1 because
tests/conftest.py allow-lists it (WARROOM_OUTBOUND_ALLOW), as an admin would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from tests.e2e._programs import Program, admin_token, scraped_exporter, serve, wait_until
from tests.paging_support import SECRET, organisation
from tests.receivers import WebhookReceiver
from warroom.app import create_app
from warroom.core.clock import SystemClock
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.slos import evaluator

pytestmark = pytest.mark.e2e

PROMETHEUS = Path("/usr/bin/prometheus")
DEADLINE = 60.0  # seconds any awaited state may take
PER_SCRAPE = 100
SLO = "checkout-availability"


class Requests(Collector):
    """checkout's request counter: each scrape adds PER_SCRAPE requests, `error_percent`
    of them with code 500 and the rest with code 200."""

    def __init__(self, error_percent: int) -> None:
        self.error_percent = error_percent
        self.counts = {"200": 0, "500": 0}
        self.lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            bad = PER_SCRAPE * self.error_percent // 100
            self.counts["500"] += bad
            self.counts["200"] += PER_SCRAPE - bad
            counts = dict(self.counts)
        family = CounterMetricFamily("http_requests", "Requests served.", labels=["code"])
        for code, n in counts.items():
            family.add_metric([code], float(n))
        yield family


@dataclass
class Prom:
    url: str
    program: Program
    traffic: Requests


@pytest.fixture
def prom(tmp_path: Path) -> Iterator[Prom]:
    """Prometheus scraping the exporter (50% errors) every second, after two scrapes with
    errors; stopped at teardown (the test may stop it earlier)."""
    traffic = Requests(error_percent=50)
    with scraped_exporter(
        tmp_path,
        traffic,
        job="checkout",
        ready='count_over_time(http_requests_total{code="500"}[1m])',
        samples=2,
        timeout=DEADLINE,
    ) as (base, program):
        yield Prom(base, program, traffic)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def alice_on_call_now(doc: dict[str, Any]) -> None:
    """The payments rotation (alice, bob; weekly from Monday 09:00 UTC) started two weeks
    before this week's shift, so this week is alice's, whatever today's date."""
    now = datetime.now(UTC) - timedelta(hours=9)
    monday = now.date() - timedelta(days=now.weekday())
    [layer] = doc["schedules"][0]["layers"]
    layer["start"] = (monday - timedelta(weeks=2)).isoformat()


def config(hook: WebhookReceiver, prom_url: str) -> dict[str, Any]:
    doc = organisation(hook)
    alice_on_call_now(doc)
    doc["slos"] = [
        {
            "name": SLO,
            "service": "checkout",
            "objective": 99.9,
            "window": "30d",
            "source": "prometheus",
            "prometheus": {
                "url": prom_url,
                "bad": 'http_requests_total{code=~"5.."}',
                "total": "http_requests_total",
            },
        }
    ]
    return doc


def test_a_fast_burn_measured_by_prometheus_pages_on_call_and_survives_an_outage(
    db: Database, prom: Prom, hook: WebhookReceiver
) -> None:
    clock = SystemClock()
    worker = Worker(db, clock)
    token = admin_token(db)
    with (
        serve(create_app(db, clock)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10, trust_env=False
        ) as api,
    ):
        r = api.post("/api/v1/config/apply", json={"config": config(hook, prom.url)})
        assert r.status_code == 200, r.text
        oncall = api.get("/api/v1/schedules/payments/oncall").json()["oncall"]
        assert "alice" in str(oncall), oncall

        # The apply started the evaluation chain; the engine runs its first cycle, which
        # measures 50% errors, raises the burn alert, opens the incident and pages.
        def paged() -> list[Any] | None:
            worker.run_due()
            return [h for h in hook.at("/alice") if h.json()["event"] == "page"] or None

        [hit] = wait_until(paged, "alice's page", DEADLINE, prom.program.output)

        [alert] = api.get("/api/v1/alerts").json()["items"]
        assert alert["dedup_key"] == f"slo:{SLO}:burn" and alert["status"] == "triggered"
        assert alert["labels"] == {
            "alertname": "ErrorBudgetBurn",
            "slo": SLO,
            "service": "checkout",
            "burn": "page",
        }
        # raised through warroom's own internal integration, not an outside sender
        assert alert["service"] == "checkout" and alert["integration"].startswith("slo:")
        assert alert["source_severity"] == "critical" and alert["source"] == "warroom slo"
        assert alert["summary"].startswith(f"{SLO} is burning its error budget fast")
        [incident] = api.get("/api/v1/incidents").json()["items"]
        assert alert["incident"] == incident["id"]
        assert "checkout" in str(incident["services"])

        assert hit.signed_by(SECRET)
        body = hit.json()
        assert body["recipient"] == "alice" and body["escalation"]["policy"] == "payments"
        assert body["incident"]["id"] == incident["id"]
        assert body["alert"]["summary"] == alert["summary"]

        first = api.get(f"/api/v1/slos/{SLO}").json()
        assert first["source"] == "prometheus" and first["alert"] == "page"
        assert first["error"] is None and first["evaluated_at"] is not None
        assert set(first["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
        assert first["burn_rates"] == pytest.approx(dict.fromkeys(first["burn_rates"], 500.0))
        assert first["budget_minutes"] == pytest.approx(43.2)
        # half of the window's 43,200 minutes were bad: the budget is long gone
        assert first["consumed_minutes"] == pytest.approx(21600.0, rel=1e-3)
        assert first["exhausted"] is True
        gate = api.get("/api/v1/slos/gate", params={"service": "checkout"}).json()
        assert gate["go"] is False and gate["state"] == "freeze"

        # The errors stop. Every span still holds the bad requests, so the burn rates fall
        # but stay far above 14.4x over 1h and 5m: the page stays, nothing is resolved.
        prom.traffic.error_percent = 0

        def diluted() -> dict[str, Any] | None:
            evaluator.run(db, clock, {})
            got = api.get(f"/api/v1/slos/{SLO}").json()
            return got if got["burn_rates"]["5m"] < 499.0 else None

        later = wait_until(diluted, "a measurement with fewer errors", DEADLINE)
        assert later["alert"] == "page" and later["error"] is None
        assert 14.4 < later["burn_rates"]["1h"] < 500.0
        assert later["evaluated_at"] >= first["evaluated_at"]

        # Prometheus goes away: the next evaluation records why and changes nothing else.
        prom.program.stop()
        evaluator.run(db, clock, {})
        worker.run_due()
        down = api.get(f"/api/v1/slos/{SLO}").json()
        assert down["error"] is not None and "is unreachable" in down["error"]
        kept = {k: v for k, v in down.items() if k != "error"}
        assert kept == {k: v for k, v in later.items() if k != "error"}
        assert down["alert"] == "page"
        gate = api.get("/api/v1/slos/gate", params={"service": "checkout"}).json()
        assert gate["go"] is False and gate["state"] == "freeze"
        [alert] = api.get("/api/v1/alerts").json()["items"]
        assert alert["status"] == "triggered" and alert["resolved_at"] is None
        [incident] = api.get("/api/v1/incidents").json()["items"]
        assert incident["status"] not in ("resolved", "closed")
        assert [h for h in hook.at("/alice") if h.json()["event"] == "page"] == [hit]
