"""OpenSLO v1 import and export: the spec's own example shapes, round trips, warroom's config
entries, and errors that name the document and the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.core.errors import ValidationFailed
from warroom.slos.openslo import from_openslo, prometheus_urls, to_config, to_openslo
from warroom.slos.rules import SloSpec, Window, parse_window

# The shape of OpenSLO's pkg/openslo/v1/examples/slos.yaml: a YAML list of documents, an
# inline indicator whose queries are `sum(<selector>)`, a calendar week, Timeslices.
SPEC_EXAMPLE = """
- apiVersion: openslo/v1
  kind: SLO
  metadata:
    name: web-availability
    displayName: SLO for web availability
    labels:
      env:
        - prod
      team:
        - team-a
        - team-b
  spec:
    description: X% of search requests are successful
    service: web
    indicator:
      metadata:
        name: web-successful-requests-ratio
      spec:
        ratioMetric:
          counter: true
          good:
            metricSource:
              type: Prometheus
              spec:
                query: sum(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"})
          total:
            metricSource:
              type: Prometheus
              spec:
                query: sum(http_requests{k8s_cluster="prod",component="web"})
    timeWindow:
      - duration: 1w
        isRolling: false
        calendar:
          startTime: 2022-01-01 12:00:00
          timeZone: America/New_York
    budgetingMethod: Timeslices
    objectives:
      - displayName: Good
        op: gt
        target: 0.995
        timeSliceTarget: 0.95
        timeSliceWindow: 1m
"""

# A separate SLI (indicatorRef), a DataSource the metric sources refer to, targetPercent,
# a Service document (ignored), `---` separated.
REF_EXAMPLE = """
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
spec:
  description: The checkout API
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-errors
spec:
  service: checkout
  indicatorRef: checkout-error-ratio
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.9
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-error-ratio
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: prom
        spec:
          query: http_requests_total{job="checkout",code=~"5.."}
    total:
      metricSource:
        metricSourceRef: prom
        spec:
          query: http_requests_total{job="checkout"}
---
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom
spec:
  type: Prometheus
  connectionDetails:
    url: http://prometheus.internal:9090
"""

# The shape of examples/budgeting-method/occurences-slo.yaml: a thresholdMetric with the
# objective's op and value, a rolling two weeks.
THRESHOLD_EXAMPLE = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-slo
  displayName: Searching time
spec:
  description: Regardless of the number of parallel searches it never should be more than 500ms.
  service: web-shop
  indicator:
    metadata:
      name: search-latency
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: histogram_quantile(0.99, sum by (le) (rate(search_seconds_bucket[5m]))) * 1000
  timeWindow:
    - duration: 2w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good experience
      op: lt
      value: 500
      target: 0.99
"""

INCIDENTS_EXAMPLE = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  annotations:
    warroom/source: incidents
spec:
  service: checkout
  indicatorRef: anything
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: UTC
  budgetingMethod: Timeslices
  objectives:
    - target: 0.9999
"""


def test_the_specs_own_example() -> None:
    assert from_openslo(SPEC_EXAMPLE) == [
        SloSpec(
            name="web-availability",
            service="web",
            objective=99.5,
            window=Window(calendar="week"),
            source="prometheus",
            budgeting="timeslices",
            description="X% of search requests are successful",
            good='http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"}',
            total='http_requests{k8s_cluster="prod",component="web"}',
        )
    ]


def test_an_indicator_ref_a_datasource_and_target_percent() -> None:
    assert from_openslo(REF_EXAMPLE) == [
        SloSpec(
            name="checkout-errors",
            service="checkout",
            objective=99.9,
            window=parse_window("30d"),
            source="prometheus",
            bad='http_requests_total{job="checkout",code=~"5.."}',
            total='http_requests_total{job="checkout"}',
        )
    ]
    assert prometheus_urls(REF_EXAMPLE) == {"checkout-errors": "http://prometheus.internal:9090"}


def test_a_threshold_metric() -> None:
    (spec,) = from_openslo(THRESHOLD_EXAMPLE)
    assert spec.source == "prometheus"
    assert spec.window == Window(rolling=timedelta(weeks=2))
    assert spec.threshold_query == (
        "histogram_quantile(0.99, sum by (le) (rate(search_seconds_bucket[5m]))) * 1000"
    )
    assert (spec.threshold_op, spec.threshold_value, spec.objective) == ("<", 500.0, 99.0)
    assert spec.good is spec.bad is spec.total is None


def test_incident_sourced_slos() -> None:
    (spec,) = from_openslo(INCIDENTS_EXAMPLE)  # the annotation: the indicator is not read
    assert spec == SloSpec(
        name="checkout-availability",
        service="checkout",
        objective=99.99,
        window=Window(calendar="month"),
        source="incidents",
        budgeting="timeslices",
    )
    typed = THRESHOLD_EXAMPLE.replace("type: Prometheus", "type: warroom-incidents")
    assert from_openslo(typed)[0].source == "incidents"


@pytest.mark.parametrize(
    ("item", "window"),
    [
        ({"duration": "1w", "calendar": {}}, Window(calendar="week")),
        ({"duration": "7d", "isRolling": False}, Window(calendar="week")),
        ({"duration": "1M", "isRolling": False}, Window(calendar="month")),
        ({"duration": "1Q", "calendar": {"timeZone": "UTC"}}, Window(calendar="quarter")),
        ({"duration": "3M", "isRolling": False}, Window(calendar="quarter")),
        ({"duration": "28d", "isRolling": True}, Window(rolling=timedelta(days=28))),
        ({"duration": "36h"}, Window(rolling=timedelta(hours=36))),
        ({"duration": "2160m", "isRolling": True}, Window(rolling=timedelta(hours=36))),
        ({"duration": "1Y", "isRolling": True}, Window(rolling=timedelta(days=365))),
    ],
)
def test_time_windows(item: dict[str, Any], window: Window) -> None:
    doc = yaml.safe_load(INCIDENTS_EXAMPLE)
    doc["spec"]["timeWindow"] = [item]
    assert from_openslo(yaml.safe_dump(doc))[0].window == window


def test_no_time_window_is_a_rolling_30_days() -> None:
    doc = yaml.safe_load(INCIDENTS_EXAMPLE)
    del doc["spec"]["timeWindow"]
    assert from_openslo(yaml.safe_dump(doc))[0].window == parse_window("30d")


# -- round trip --------------------------------------------------------------------------

SPECS = [
    SloSpec("checkout-availability", "checkout", 99.9),
    SloSpec("checkout-4w", "checkout", 99.99, window=parse_window("4w"), budgeting="timeslices"),
    SloSpec(
        "api-errors",
        "api",
        99.95,
        window=parse_window(calendar="month"),
        source="prometheus",
        description="5xx share of API requests",
        bad='http_requests_total{job="api",code=~"5.."}',
        total='http_requests_total{job="api"}',
    ),
    SloSpec(
        "api-good",
        "api",
        99.5,
        window=parse_window(calendar="quarter"),
        source="prometheus",
        good='http_requests_total{job="api",code!~"5.."}',
        total='http_requests_total{job="api"}',
    ),
    SloSpec(
        "api-latency",
        "api",
        99.0,
        window=parse_window(calendar="week"),
        source="prometheus",
        budgeting="timeslices",
        threshold_query='histogram_quantile(0.99, sum by (le) (rate(rq_bucket{job="api"}[5m])))',
        threshold_op=">=",
        threshold_value=0.25,
    ),
    SloSpec("short", "edge", 90.0, window=parse_window("36h")),
]


def test_round_trip() -> None:
    text = to_openslo(SPECS)
    assert from_openslo(text) == SPECS
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert {d["apiVersion"] for d in docs} == {"openslo/v1"}
    assert [d["kind"] for d in docs] == ["SLO"] * len(SPECS)
    first = docs[0]
    assert first["metadata"]["annotations"] == {"warroom/source": "incidents"}
    assert first["spec"]["objectives"] == [{"displayName": "99.9%", "target": 0.999}]
    assert first["spec"]["budgetingMethod"] == "Occurrences"
    latency = docs[4]["spec"]
    assert latency["objectives"][0]["op"] == "gte"
    assert latency["objectives"][0]["timeSliceWindow"] == "1m"
    assert latency["timeWindow"][0]["duration"] == "1w"
    assert latency["timeWindow"][0]["isRolling"] is False


def test_round_trip_with_datasources() -> None:
    urls = {"api-errors": "http://prom-a:9090", "api-good": "http://prom-b:9090"}
    text = to_openslo(SPECS, urls)
    assert from_openslo(text) == SPECS
    assert prometheus_urls(text) == urls
    kinds = [d["kind"] for d in yaml.safe_load_all(text) if d]
    assert kinds == ["DataSource", "DataSource"] + ["SLO"] * len(SPECS)


names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    name=names,
    service=names,
    objective=st.decimals(min_value="50", max_value="99.999", places=3).map(float),
    window=st.one_of(
        st.builds(lambda n: parse_window(f"{n}d"), st.integers(1, 400)),
        st.builds(lambda n: parse_window(f"{n}h"), st.integers(1, 9600)),
        st.sampled_from([parse_window(calendar=c) for c in ("week", "month", "quarter")]),
    ),
    budgeting=st.sampled_from(["occurrences", "timeslices"]),
    description=st.text(max_size=40),
    kind=st.sampled_from(["incidents", "bad", "good", "threshold"]),
    value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_round_trip_property(
    name: str,
    service: str,
    objective: float,
    window: Window,
    budgeting: str,
    description: str,
    kind: str,
    value: float,
) -> None:
    fields: dict[str, Any] = {}
    if kind in ("bad", "good"):
        fields = {"source": "prometheus", kind: 'x_total{code="5"}', "total": "x_total"}
    elif kind == "threshold":
        fields = {
            "source": "prometheus",
            "threshold_query": "avg(up)",
            "threshold_op": "<",
            "threshold_value": value,
        }
    spec = SloSpec(
        name,
        service,
        objective,
        window=window,
        budgeting=budgeting,
        description=description.strip(),
        **fields,
    )
    assert from_openslo(to_openslo([spec])) == [spec]


# -- config entries ----------------------------------------------------------------------


def test_config_entries() -> None:
    entries = to_config(SPECS, {"api-errors": "http://prometheus:9090"})
    assert entries[0] == {
        "name": "checkout-availability",
        "service": "checkout",
        "objective": 99.9,
        "window": "30d",
        "source": "incidents",
        "budgeting": "occurrences",
    }
    assert entries[1]["window"] == "28d" and entries[1]["budgeting"] == "timeslices"
    assert entries[2] == {
        "name": "api-errors",
        "service": "api",
        "objective": 99.95,
        "calendar": "month",
        "source": "prometheus",
        "budgeting": "occurrences",
        "description": "5xx share of API requests",
        "prometheus": {
            "url": "http://prometheus:9090",
            "bad": 'http_requests_total{job="api",code=~"5.."}',
            "total": 'http_requests_total{job="api"}',
        },
    }
    assert entries[3]["prometheus"] == {
        "good": 'http_requests_total{job="api",code!~"5.."}',
        "total": 'http_requests_total{job="api"}',
    }
    assert entries[4]["calendar"] == "week"
    assert entries[4]["prometheus"] == {
        "threshold": {
            "query": 'histogram_quantile(0.99, sum by (le) (rate(rq_bucket{job="api"}[5m])))',
            "op": ">=",
            "value": 0.25,
        }
    }
    assert "window" not in entries[4] and "calendar" not in entries[5]


def test_the_config_entries_read_back() -> None:
    """Each entry gives back its spec through rules.parse_window (as the config does)."""
    for spec, entry in zip(SPECS, to_config(SPECS), strict=True):
        prom = entry.get("prometheus", {})
        threshold = prom.get("threshold", {})
        again = SloSpec(
            name=entry["name"],
            service=entry["service"],
            objective=entry["objective"],
            window=parse_window(entry.get("window"), entry.get("calendar")),
            source=entry["source"],
            budgeting=entry["budgeting"],
            description=entry.get("description", ""),
            good=prom.get("good"),
            bad=prom.get("bad"),
            total=prom.get("total"),
            threshold_query=threshold.get("query"),
            threshold_op=threshold.get("op"),
            threshold_value=threshold.get("value"),
        )
        assert again == spec


# -- errors ------------------------------------------------------------------------------


def edited(text: str, edit: Any) -> str:
    doc = yaml.safe_load(text)
    edit(doc)
    return yaml.safe_dump(doc)


def _set(path: str, value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is KeyError:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


RATIO = "spec.indicator.spec.ratioMetric"


@pytest.mark.parametrize(
    ("base", "edit", "field", "words"),
    [
        (THRESHOLD_EXAMPLE, _set("apiVersion", "openslo/v1alpha"), "apiVersion", "openslo/v1"),
        (THRESHOLD_EXAMPLE, _set("kind", "Slo"), "kind", "must be one of"),
        (THRESHOLD_EXAMPLE, _set("metadata.name", KeyError), "metadata.name", "is required"),
        (THRESHOLD_EXAMPLE, _set("spec.service", KeyError), "spec.service", "is required"),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.indicatorRef", "x"),
            "spec.indicator",
            "exactly one of indicator and indicatorRef",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.indicator.spec.thresholdMetric.metricSource.type", "Datadog"),
            "spec.indicator.spec.thresholdMetric.metricSource.type",
            "'Datadog' is not supported",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.objectives.0.op", KeyError),
            "spec.objectives[0].op",
            "needs op",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.objectives.0.target", 1.5),
            "spec.objectives[0].target",
            "between 0 and 1",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.objectives.0.targetPercent", 99),
            "spec.objectives[0].target",
            "exactly one of target and targetPercent",
        ),
        (THRESHOLD_EXAMPLE, _set("spec.objectives", []), "spec.objectives", "at least one"),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.budgetingMethod", "RatioTimeslices"),
            "spec.budgetingMethod",
            "RatioTimeslices is not supported",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.budgetingMethod", KeyError),
            "spec.budgetingMethod",
            "is required",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.timeWindow", [{"duration": "2M", "isRolling": False}]),
            "spec.timeWindow[0].duration",
            "a week (1w), a month (1M) or a quarter (1Q)",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.timeWindow", [{"duration": "1M", "isRolling": True}]),
            "spec.timeWindow[0].duration",
            "give days (30d)",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.timeWindow", [{"duration": "500d", "isRolling": True}]),
            "spec.timeWindow[0].duration",
            "between 1h and 400d",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("spec.timeWindow", [{"duration": "30 days"}]),
            "spec.timeWindow[0].duration",
            "must be a duration",
        ),
        (
            THRESHOLD_EXAMPLE,
            _set("metadata.annotations", {"warroom/source": "datadog"}),
            "metadata.annotations.warroom/source",
            "incidents or prometheus",
        ),
        (
            SPEC_EXAMPLE,
            _set(f"0.{RATIO}.counter", False),
            f"{RATIO}.counter",
            "counter must be true",
        ),
        (
            SPEC_EXAMPLE,
            _set(f"0.{RATIO}.bad", {"metricSource": {"type": "Prometheus", "spec": {}}}),
            f"{RATIO}.good",
            "exactly one of good and bad",
        ),
        (SPEC_EXAMPLE, _set(f"0.{RATIO}.total", KeyError), f"{RATIO}.total", "is required"),
        (
            SPEC_EXAMPLE,
            _set(f"0.{RATIO}.raw", {"metricSource": {"type": "Prometheus"}}),
            f"{RATIO}.raw",
            "not supported",
        ),
        (
            SPEC_EXAMPLE,
            _set(f"0.{RATIO}.good.metricSource.spec.query", "sum(rate(x[5m]))"),
            f"{RATIO}.good.metricSource.spec.query",
            "must be a counter selector",
        ),
        (
            SPEC_EXAMPLE,
            _set(f"0.{RATIO}.total.metricSource.spec", {}),
            f"{RATIO}.total.metricSource.spec.query",
            "is required",
        ),
    ],
)
def test_errors_name_the_document_and_the_field(
    base: str, edit: Any, field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as e:
        from_openslo(edited(base, edit))
    assert e.value.field == field
    assert words in e.value.message
    assert e.value.message.startswith("document 1")
    assert f"{field}:" in e.value.message
    assert e.value.extra["document"] == 1


def test_errors_in_later_documents_and_referenced_slis() -> None:
    with pytest.raises(ValidationFailed) as e:
        from_openslo(REF_EXAMPLE.replace("indicatorRef: checkout-error-ratio", "indicatorRef: x"))
    assert e.value.message.startswith("document 2 (SLO 'checkout-errors'): spec.indicatorRef")
    assert e.value.extra == {"document": 2, "slo": "checkout-errors"}
    with pytest.raises(ValidationFailed) as e:
        from_openslo(REF_EXAMPLE.replace("name: prom\n", "name: other\n"))
    assert e.value.message.startswith("document 3 (SLI 'checkout-error-ratio')")
    assert e.value.field == "spec.ratioMetric.bad.metricSource.metricSourceRef"
    with pytest.raises(ValidationFailed) as e:
        from_openslo(THRESHOLD_EXAMPLE + "---\n" + THRESHOLD_EXAMPLE)
    assert e.value.message.startswith("document 2 (SLO 'search-slo'): metadata.name")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind: SLO\n  bad: [", "not valid YAML at line"),
        ("just a string", "document 1: an OpenSLO document is a mapping"),
    ],
)
def test_not_openslo_at_all(text: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        from_openslo(text)
    assert words in e.value.message
    assert e.value.field == "document"


def test_an_empty_text_has_no_slos() -> None:
    assert from_openslo("") == []
    assert from_openslo("---\n---\n") == []


def test_a_prometheus_spec_without_queries_is_not_exported() -> None:
    with pytest.raises(ValidationFailed) as e:
        to_openslo([SloSpec("x", "y", 99.0, source="prometheus")])
    assert e.value.field == "prometheus.total"
