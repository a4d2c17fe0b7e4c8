"""The Prometheus evaluator client against a fake HTTP API (httpx.MockTransport): the
queries it sends, how it reads NaN, empty spans and the API's errors. The real thing is
tests/e2e/test_slo_prometheus.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from warroom.core.errors import ValidationFailed
from warroom.slos import prometheus, promrules
from warroom.slos.rules import BURN_SPANS, SloSpec, parse_window

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
URL = "http://user:secret@prometheus.example:9090/prefix/"
SPEC = SloSpec(
    name="api",
    service="checkout",
    objective=99.9,
    source="prometheus",
    total='http_requests_total{job="api"}',
    bad='http_requests_total{job="api",code=~"5.."}',
)


def vector(value: str | None) -> dict[str, Any]:
    result = [] if value is None else [{"metric": {}, "value": [NOW.timestamp(), value]}]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def client(answer: Callable[[str], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request.url.params["query"])

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_one_instant_query_per_span_at_now_with_the_rules_promql() -> None:
    seen: list[httpx.Request] = []
    got = prometheus.bad_ratios(
        SPEC, URL, NOW, client=client(lambda q: httpx.Response(200, json=vector("0.002")), seen)
    )
    assert got == prometheus.PromRatios(
        at=NOW, window=0.002, spans={label: 0.002 for label, _ in BURN_SPANS}
    )
    assert [r.url.path for r in seen] == ["/prefix/api/v1/query"] * (1 + len(BURN_SPANS))
    assert {r.url.params["time"] for r in seen} == {f"{NOW.timestamp():.3f}"}
    queries = [r.url.params["query"] for r in seen]
    assert queries[0] == promrules.error_ratio(SPEC, "30d")  # the rolling 30 days
    assert queries[1:] == [promrules.error_ratio(SPEC, label) for label, _ in BURN_SPANS]


def test_a_calendar_window_so_far_is_its_elapsed_part() -> None:
    spec = SloSpec(**{**SPEC.__dict__, "window": parse_window(calendar="month")})
    seen: list[httpx.Request] = []
    prometheus.bad_ratios(
        spec, URL, NOW, {}, client=client(lambda q: httpx.Response(200, json=vector("0")), seen)
    )
    elapsed = NOW - datetime(2026, 3, 1, tzinfo=UTC)
    assert elapsed == timedelta(days=9, hours=12)
    assert seen[0].url.params["query"] == promrules.error_ratio(spec, "228h")


def test_nan_is_no_error_and_an_empty_span_is_missing() -> None:
    def answer(q: str) -> httpx.Response:
        if "[5m]" in q:
            return httpx.Response(200, json=vector(None))
        if "[1h]" in q:
            return httpx.Response(200, json=vector("NaN"))
        return httpx.Response(200, json=vector("0.01"))

    got = prometheus.bad_ratios(SPEC, URL, NOW, client=client(answer, []))
    assert got.window == 0.01
    assert got.missing == ("5m",)
    assert "5m" not in got.spans and got.spans["1h"] == 0.0 and got.spans["30m"] == 0.01


def test_an_empty_window_is_no_data() -> None:
    with pytest.raises(prometheus.PrometheusNoData) as e:
        prometheus.bad_ratios(
            SPEC, URL, NOW, client=client(lambda q: httpx.Response(200, json=vector(None)), [])
        )
    assert "no data for SLO 'api'" in e.value.message
    assert "secret" not in e.value.message and "prefix" not in e.value.message
    assert "prometheus.example:9090" in e.value.message


@pytest.mark.parametrize(
    ("response", "error", "words"),
    [
        (httpx.Response(503, text="down"), prometheus.PrometheusUnreachable, "HTTP 503"),
        (httpx.Response(200, text="<html>"), prometheus.PrometheusUnreachable, "API's JSON"),
        (
            httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            ),
            prometheus.PrometheusQueryFailed,
            "refused the query: bad_data: parse error",
        ),
        (
            httpx.Response(
                200,
                json={"status": "success", "data": {"resultType": "matrix", "result": []}},
            ),
            prometheus.PrometheusQueryFailed,
            "returned a matrix",
        ),
        (
            httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": {"a": "1"}, "value": [0, "1"]}] * 2,
                    },
                },
            ),
            prometheus.PrometheusQueryFailed,
            "2 series",
        ),
    ],
)
def test_api_errors(response: httpx.Response, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as e:
        prometheus.bad_ratios(SPEC, URL, NOW, client=client(lambda q: response, []))
    assert isinstance(e.value, prometheus.PrometheusError)
    assert words in e.value.message
    assert "secret" not in str(e.value)


def test_a_connection_error_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    c = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(prometheus.PrometheusUnreachable) as e:
        prometheus.bad_ratios(SPEC, URL, NOW, client=c)
    assert "unreachable: ConnectError: connection refused" in e.value.message


def test_an_incident_slo_is_not_measured_in_prometheus() -> None:
    with pytest.raises(ValidationFailed) as e:
        prometheus.bad_ratios(SloSpec("x", "checkout", 99.9), URL, NOW)
    assert e.value.field == "source"


def test_durations_and_slices() -> None:
    assert prometheus.promql_duration(timedelta(days=30)) == "30d"
    assert prometheus.promql_duration(timedelta(minutes=90)) == "90m"
    assert prometheus.promql_duration(timedelta(seconds=90.5)) == "90s"
    assert prometheus.promql_duration(timedelta(0)) == "1s"
    assert prometheus.threshold_step(timedelta(hours=1)) == "1m"
    assert prometheus.threshold_step(timedelta(seconds=10)) == "2s"
    assert prometheus.threshold_step(timedelta(days=1), timedelta(seconds=30)) == "30s"
