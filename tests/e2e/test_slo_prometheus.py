"""Debian's Prometheus scrapes a small exporter the test runs; warroom measures SLOs from it.

The exporter's counters move only when scraped: every scrape adds 80 good and 20 bad
requests, so the error share is exactly 20% over any span, whatever the timing. Its
latency gauge stays at 0.3 s. Prometheus scrapes every second; the spans passed in are
seconds long, so a few seconds of scraping suffice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tests.conftest import free_port
from tests.e2e._programs import scraped_exporter
from warroom.slos import prometheus
from warroom.slos.rules import SloSpec, parse_window, status_from_ratios

PROMETHEUS = Path("/usr/bin/prometheus")
DEADLINE = 60.0
SPANS = {"5s": timedelta(seconds=5), "10s": timedelta(seconds=10)}


class Traffic(Collector):
    """Per scrape: 80 requests with code 200, 20 with code 500; latency 0.3 s."""

    def __init__(self) -> None:
        self.scrapes = 0
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self.scrapes += 1
            n = self.scrapes
        requests = CounterMetricFamily("demo_requests", "Requests served.", labels=["code"])
        requests.add_metric(["200"], 80.0 * n)
        requests.add_metric(["500"], 20.0 * n)
        yield requests
        yield GaugeMetricFamily("demo_latency_seconds", "Request latency.", value=0.3)


def slo(**kw: Any) -> SloSpec:
    fields: dict[str, Any] = {
        "source": "prometheus",
        "total": 'demo_requests_total{job="demo"}',
        "bad": 'demo_requests_total{job="demo",code="500"}',
    }
    fields.update(kw)
    return SloSpec(name="demo", service="demo", objective=99.0, window=parse_window("1h"), **fields)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus that has scraped the exporter at least four times; its base URL."""
    with scraped_exporter(
        tmp_path_factory.mktemp("slo-prometheus"),
        Traffic(),
        job="demo",
        ready='count_over_time(demo_requests_total{code="500"}[1m])',
        samples=4,
        timeout=DEADLINE,
    ) as (base, _):
        yield base


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "127.0.0.1")


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.usefixtures("allow_loopback")
def test_bad_ratios_reflect_the_exporters_error_share(prom: str) -> None:
    at = now()
    got = prometheus.bad_ratios(slo(), prom, at, SPANS)
    assert got.at == at
    assert got.window == pytest.approx(0.2)
    assert got.spans == pytest.approx({"5s": 0.2, "10s": 0.2})
    assert got.missing == ()
    status = status_from_ratios(slo(), got.window, got.spans, at)
    # 20% bad over the hour's window: 12 of its 0.6 budget minutes (99%), burning 20x.
    assert status.consumed_minutes == pytest.approx(12.0)
    assert status.budget_minutes == pytest.approx(0.6)
    assert got.spans["5s"] / slo().allowed_ratio == pytest.approx(20.0)


@pytest.mark.usefixtures("allow_loopback")
def test_a_good_selector_gives_the_same_ratio(prom: str) -> None:
    spec = slo(bad=None, good='demo_requests_total{job="demo",code="200"}')
    got = prometheus.bad_ratios(spec, prom + "/", now(), SPANS)
    assert got.window == pytest.approx(0.2)
    assert got.spans == pytest.approx({"5s": 0.2, "10s": 0.2})


@pytest.mark.usefixtures("allow_loopback")
def test_threshold_slis(prom: str) -> None:
    def spec(op: str) -> SloSpec:
        return slo(
            total=None,
            bad=None,
            threshold_query='demo_latency_seconds{job="demo"}',
            threshold_op=op,
            threshold_value=0.5,
        )

    # One-second slices: the default minute-long ones need a minute boundary behind them.
    one = timedelta(seconds=1)
    good = prometheus.bad_ratios(spec("<"), prom, now(), SPANS, threshold_slice=one)  # holds
    assert good.window == 0.0 and good.spans == {"5s": 0.0, "10s": 0.0}
    bad = prometheus.bad_ratios(spec(">="), prom, now(), SPANS, threshold_slice=one)  # never
    assert bad.window == 1.0 and bad.spans == {"5s": 1.0, "10s": 1.0}


@pytest.mark.usefixtures("allow_loopback")
def test_a_selector_that_matches_nothing_is_no_data(prom: str) -> None:
    spec = slo(total='nothing_total{job="demo"}', bad='nothing_total{job="demo",code="500"}')
    with pytest.raises(prometheus.PrometheusNoData) as e:
        prometheus.bad_ratios(spec, prom, now(), SPANS)
    assert "no data for SLO 'demo'" in e.value.message


@pytest.mark.usefixtures("allow_loopback")
def test_a_query_prometheus_cannot_parse_is_refused(prom: str) -> None:
    spec = slo(total=None, bad=None, threshold_query="up +", threshold_op="<", threshold_value=1)
    with pytest.raises(prometheus.PrometheusQueryFailed) as e:
        prometheus.bad_ratios(spec, prom, now(), SPANS)
    assert "refused the query: bad_data" in e.value.message


@pytest.mark.usefixtures("allow_loopback")
def test_an_unreachable_prometheus() -> None:
    with pytest.raises(prometheus.PrometheusUnreachable) as e:
        prometheus.bad_ratios(slo(), f"http://127.0.0.1:{free_port()}", now(), SPANS)
    assert "is unreachable" in e.value.message


def test_the_outbound_policy_applies(prom: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARROOM_OUTBOUND_ALLOW", raising=False)
    with pytest.raises(prometheus.PrometheusUnreachable) as e:
        prometheus.bad_ratios(slo(), prom, now(), SPANS)
    assert "WARROOM_OUTBOUND_ALLOW" in e.value.message
