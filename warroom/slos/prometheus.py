"""Measuring a Prometheus-sourced SLO: its error ratio over the window so far and over each
burn span, asked of the Prometheus HTTP API (`GET /api/v1/query` with `time=`).

The PromQL is warroom.slos.promrules.error_ratio, the same expression as the recording
rules of `warroom slo rules`, so the SLO page and Prometheus's own alerts agree.
`rules.status_from_ratios(spec, r.window, r.spans, now)` turns the result into a Status.

Invariants:
- Every query is an instant query at `now` (`time=` is now's Unix time), so a run is
  reproducible and a test can move time.
- The window so far is [window start, min(window end, now)]: a rolling window's full
  length, or a calendar period's elapsed part (`rate(...[<seconds>s])`).
- A ratio of 0/0 (no requests at all over the span) is NaN in PromQL; it is read as 0:
  no traffic is no error. Negative ratios (counter resets over tiny spans) become 0.
- An empty result for the window so far raises PrometheusNoData (nothing measures this
  SLO: a wrong selector, or a Prometheus that never scraped it). An empty result for a
  burn span only leaves the span out of `spans` and names it in `missing` (a short span
  right after a scrape gap), so the other spans still count.
- Outbound policy: the default client is warroom.notify.channels.outbound_client, so
  Prometheus is reached only at a public address or one WARROOM_OUTBOUND_ALLOW names (an
  in-cluster Prometheus such as `http://prometheus:9090` needs its host or network
  there); it follows no redirect and uses no environment proxy. A caller may pass its
  own httpx client.
- Errors: PrometheusUnreachable (no connection, a refused address, a timeout, an HTTP
  5xx, a body that is not the API's JSON), PrometheusQueryFailed (Prometheus refused the
  query: 4xx, `status: error`, or an unexpected result type), PrometheusNoData (above).
  All are PrometheusError; their messages hold no full URL (warroom.core.redact).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from warroom.core.redact import redact_text
from warroom.notify.channels import AddressRefused, outbound_client
from warroom.slos import promrules
from warroom.slos.rules import BURN_SPANS, SloSpec

TIMEOUT_SECONDS = 10.0
QUERY_PATH = "/api/v1/query"


class PrometheusError(Exception):
    """Measuring an SLO in Prometheus failed; `message` is safe to show and store."""

    def __init__(self, message: str, query: str = "") -> None:
        super().__init__(redact_text(message))
        self.message = redact_text(message)
        self.query = query


class PrometheusUnreachable(PrometheusError):
    """No usable answer from Prometheus: connection, address policy, timeout, 5xx, body."""


class PrometheusQueryFailed(PrometheusError):
    """Prometheus answered, but refused or could not run the query."""


class PrometheusNoData(PrometheusError):
    """The query ran and returned no series."""


@dataclass(frozen=True)
class PromRatios:
    """Measured error ratios at `at`: over the window so far, and per burn span label."""

    at: datetime
    window: float
    spans: dict[str, float] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # span labels Prometheus had no data for


def promql_duration(span: timedelta) -> str:
    """A PromQL duration in the largest unit that fits (`30d`, `6h`, `5m`, `90s`; whole
    seconds, at least 1s): the burn spans come out as the recording rules write them."""
    secs = max(1, int(span.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def threshold_step(span: timedelta, slice_: timedelta | None = None) -> str:
    """A threshold SLI's slice over `span`: `slice_` when given; else one minute (as the
    recording rules use), or a fifth of a span shorter than five minutes (at least 1s)."""
    if slice_ is not None:
        return promql_duration(slice_)
    if span >= timedelta(minutes=5):
        return promrules.THRESHOLD_STEP
    return f"{max(1, int(span.total_seconds() / 5))}s"


def _query_url(base_url: str) -> str:
    return base_url.rstrip("/") + QUERY_PATH


def query_value(client: httpx.Client, base_url: str, promql: str, at: datetime) -> float | None:
    """The single value of an instant query at `at`; None when it returns no series.
    NaN stays NaN. Raises PrometheusUnreachable or PrometheusQueryFailed."""
    where = redact_text(base_url.rstrip("/"))
    try:
        r = client.get(_query_url(base_url), params={"query": promql, "time": _unix(at)})
    except httpx.HTTPError as exc:
        raise PrometheusUnreachable(
            f"Prometheus at {where} is unreachable: {type(exc).__name__}: {exc}", promql
        ) from exc
    except (AddressRefused, OSError) as exc:  # the outbound policy, a resolver error
        raise PrometheusUnreachable(
            f"Prometheus at {where} is unreachable: {type(exc).__name__}: {exc}", promql
        ) from exc
    body: Any
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 500 or not isinstance(body, dict):
        raise PrometheusUnreachable(
            f"Prometheus at {where} answered HTTP {r.status_code} without the API's JSON",
            promql,
        )
    if r.status_code >= 400 or body.get("status") != "success":
        reason = body.get("error") or f"HTTP {r.status_code}"
        raise PrometheusQueryFailed(
            f"Prometheus at {where} refused the query: {body.get('errorType', 'error')}: {reason}",
            promql,
        )
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return float(result[1])
    if kind != "vector" or not isinstance(result, list):
        raise PrometheusQueryFailed(
            f"Prometheus at {where} returned a {kind} for the query, not one series", promql
        )
    if not result:
        return None
    if len(result) > 1:
        raise PrometheusQueryFailed(
            f"Prometheus at {where} returned {len(result)} series for the query, not one",
            promql,
        )
    try:
        return float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusQueryFailed(
            f"Prometheus at {where} returned a sample warroom cannot read", promql
        ) from exc


def _unix(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{at.timestamp():.3f}"


def _ratio(value: float) -> float:
    if math.isnan(value) or value < 0:
        return 0.0
    return value


def _span_items(
    spans: Mapping[str, timedelta] | Iterable[tuple[str, timedelta]],
) -> list[tuple[str, timedelta]]:
    if isinstance(spans, Mapping):
        return list(spans.items())
    return list(spans)


def bad_ratios(
    spec: SloSpec,
    base_url: str,
    now: datetime,
    spans: Mapping[str, timedelta] | Iterable[tuple[str, timedelta]] = BURN_SPANS,
    *,
    client: httpx.Client | None = None,
    timeout: float = TIMEOUT_SECONDS,
    threshold_slice: timedelta | None = None,
) -> PromRatios:
    """The SLO's error ratio over its window so far and over each span (label -> span),
    measured at `now` by the Prometheus at `base_url` (`http://prometheus:9090`).
    `threshold_slice` is a threshold SLI's slice (default: see threshold_step); slices are
    aligned to multiples of their length, so a threshold SLO has no data over a window
    until one slice boundary has passed since Prometheus first saw its series.

    Raises ValidationFailed for a spec without Prometheus queries (promrules.check),
    PrometheusNoData when the window so far has no data, and PrometheusUnreachable or
    PrometheusQueryFailed (see the module)."""
    promrules.check(spec)
    start, end = spec.window.bounds(now)
    elapsed = min(end, now) - start
    own = client is None
    if client is None:
        client = outbound_client(timeout)
    try:
        window_q = promrules.error_ratio(
            spec, promql_duration(elapsed), threshold_step(elapsed, threshold_slice)
        )
        got = query_value(client, base_url, window_q, now)
        if got is None:
            raise PrometheusNoData(
                f"Prometheus at {redact_text(base_url.rstrip('/'))} has no data for SLO "
                f"{spec.name!r} over its window ({spec.window.text}): check its queries",
                window_q,
            )
        measured: dict[str, float] = {}
        missing: list[str] = []
        for label, span in _span_items(spans):
            q = promrules.error_ratio(
                spec, promql_duration(span), threshold_step(span, threshold_slice)
            )
            value = query_value(client, base_url, q, now)
            if value is None:
                missing.append(label)
            else:
                measured[label] = _ratio(value)
        return PromRatios(at=now, window=_ratio(got), spans=measured, missing=tuple(missing))
    finally:
        if own:
            client.close()
