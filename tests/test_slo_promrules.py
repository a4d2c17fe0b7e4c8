"""Prometheus rules for SLOs: their shape, their errors, `promtool check rules` accepts them,
and `promtool test rules` shows the burn alerts fire just above their factor and stay
quiet just below (synthetic counters at a chosen error rate, one sample a minute)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e._programs import require_program
from warroom.core.errors import ValidationFailed
from warroom.slos import promrules
from warroom.slos.rules import BURN_ALERTS, BURN_SPANS, SloSpec, parse_window

PROMTOOL = Path("/usr/bin/promtool")
PACKAGE = "prometheus"

TOTAL = 'http_requests_total{job="api"}'
BAD = 'http_requests_total{job="api",code=~"5.."}'
GOOD = 'http_requests_total{job="api",code!~"5.."}'


def ratio_slo(name: str = "checkout-availability", **kw: Any) -> SloSpec:
    fields: dict[str, Any] = {"source": "prometheus", "total": TOTAL, "bad": BAD}
    fields.update(kw)
    return SloSpec(name=name, service="checkout", objective=99.9, **fields)


def threshold_slo() -> SloSpec:
    return SloSpec(
        name="checkout-latency",
        service="checkout",
        objective=99.0,
        window=parse_window(calendar="month"),
        source="prometheus",
        budgeting="timeslices",
        threshold_query='histogram_quantile(0.99, sum by (le) (rate(rq_seconds_bucket{job="api"}[5m])))',
        threshold_op="<",
        threshold_value=0.5,
    )


def alerts(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in group["rules"] if "alert" in r]


# -- shape -------------------------------------------------------------------------------


def test_a_recording_rule_per_burn_span_labelled_slo_and_service() -> None:
    group = promrules.rules_for(ratio_slo())
    records = [r for r in group["rules"] if "record" in r]
    assert [r["record"] for r in records] == [
        f"slo:sli_error:ratio_rate{span}" for span, _ in BURN_SPANS
    ]
    assert [span for span, _ in BURN_SPANS] == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    for r in records:
        assert r["labels"] == {"slo": "checkout-availability", "service": "checkout"}
    assert records[0]["expr"] == (f"sum(rate({BAD}[5m])) / sum(rate({TOTAL}[5m]))")


def test_good_and_threshold_error_ratios() -> None:
    good = ratio_slo(bad=None, good=GOOD)
    assert promrules.error_ratio(good, "1h") == (
        f"1 - (sum(rate({GOOD}[1h])) / sum(rate({TOTAL}[1h])))"
    )
    expr = promrules.error_ratio(threshold_slo(), "30m")
    assert expr.startswith("1 - avg(avg_over_time(((histogram_quantile(")
    assert expr.endswith(") < bool 0.5)[30m:1m]))")


def test_one_alert_per_multiwindow_condition_with_the_numbers() -> None:
    found = alerts(promrules.rules_for(ratio_slo()))
    assert [(a["labels"]["severity"], a["labels"]["long_window"], a["labels"]["short_window"])
            for a in found] == [
        ("page", "1h", "5m"),
        ("page", "6h", "30m"),
        ("ticket", "1d", "2h"),
        ("ticket", "3d", "6h"),
    ]  # fmt: skip
    assert [c.factor for c in BURN_ALERTS] == [14.4, 6.0, 3.0, 1.0]
    page = found[0]
    assert page["alert"] == "SLOErrorBudgetBurn"
    assert page["expr"] == (
        'slo:sli_error:ratio_rate1h{slo="checkout-availability",service="checkout"} > 0.0144\n'
        "and\n"
        'slo:sli_error:ratio_rate5m{slo="checkout-availability",service="checkout"} > 0.0144'
    )
    assert page["labels"]["slo"] == "checkout-availability"
    assert page["labels"]["service"] == "checkout"
    text = page["annotations"]["description"]
    for needle in ("1.44%", "1h", "5m", "14.4x", "0.1%", "99.9%", "30d", "2.1 days"):
        assert needle in text, (needle, text)
    assert "14.4x" in page["annotations"]["summary"]
    ticket = found[3]["annotations"]["description"]
    assert "0.1%" in ticket and "3d" in ticket and "30.0 days" in ticket


def test_label_values_are_quoted_for_promql() -> None:
    spec = SloSpec(
        name='odd "name"', service="a\\b", objective=99.5, source="prometheus", total=TOTAL, bad=BAD
    )
    expr = alerts(promrules.rules_for(spec))[0]["expr"]
    assert '{slo="odd \\"name\\"",service="a\\\\b"}' in expr


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (SloSpec("inc", "checkout", 99.9), "source", "no Prometheus rules"),
        (ratio_slo(total=None), "prometheus.total", "total query"),
        (ratio_slo(good=GOOD), "prometheus.good", "exactly one of good and bad"),
        (ratio_slo(bad=None), "prometheus.good", "exactly one of good and bad"),
        (ratio_slo(total=f"sum({TOTAL})"), "prometheus.total", "counter selector"),
        (ratio_slo(bad=f"rate({BAD}[5m])"), "prometheus.bad", "not an expression"),
        (
            ratio_slo(threshold_query="up", threshold_op="<", threshold_value=1),
            "prometheus",
            "not both",
        ),
        (
            ratio_slo(total=None, bad=None, threshold_query="up", threshold_value=1.0),
            "prometheus.threshold.op",
            "op must be one of",
        ),
        (
            ratio_slo(total=None, bad=None, threshold_query="up", threshold_op=">"),
            "prometheus.threshold.value",
            "needs a value",
        ),
        (
            ratio_slo(
                total=None, bad=None, threshold_query=" ", threshold_op=">", threshold_value=1
            ),
            "prometheus.threshold.query",
            "needs a query",
        ),
    ],
)
def test_errors_name_the_field(spec: SloSpec, field: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        promrules.rules_for(spec)
    assert e.value.field == field
    assert words in e.value.message


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(ValidationFailed) as e:
        promrules.rules_yaml([ratio_slo(), ratio_slo()])
    assert e.value.field == "name"


def test_selectors() -> None:
    for ok in ("up", 'a_total{x="}{",y!~"a\\"b"}', '{__name__="x"}', "ns:metric:rate5m"):
        assert promrules.is_selector(ok), ok
    for bad in ("", "sum(up)", "up[5m]", "up + 1", "up{x=1}", "up{x='}"):
        assert not promrules.is_selector(bad), bad


# -- promtool ----------------------------------------------------------------------------


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    require_program(PROMTOOL, PACKAGE)
    return subprocess.run(
        [str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_rules_accepts_the_file(tmp_path: Path) -> None:
    specs = [
        ratio_slo(),
        ratio_slo("checkout-good", bad=None, good=GOOD, window=parse_window("4w")),
        threshold_slo(),
        ratio_slo("quarterly", window=parse_window(calendar="quarter")),
    ]
    text = promrules.rules_yaml(specs)
    (tmp_path / "slo.rules.yml").write_text(text)
    done = promtool("check", "rules", "slo.rules.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(specs) * (len(BURN_SPANS) + len(BURN_ALERTS))} rules found" in (
        done.stdout
    )
    assert [g["name"] for g in yaml.safe_load(text)["groups"]] == [
        "warroom-slo-checkout-availability",
        "warroom-slo-checkout-good",
        "warroom-slo-checkout-latency",
        "warroom-slo-quarterly",
    ]


PER_MINUTE = 1000.0  # requests a minute, split between code="200" and code="500"


def counters(errors_per_minute: list[float]) -> list[dict[str, str]]:
    """Two counters from 0, one sample per interval: code="500" grows by the sample's
    errors, code="200" by the rest of PER_MINUTE."""
    bad, good = [0.0], [0.0]
    for e in errors_per_minute:
        bad.append(bad[-1] + e)
        good.append(good[-1] + PER_MINUTE - e)

    def values(xs: list[float]) -> str:
        return " ".join(f"{x:.6f}".rstrip("0").rstrip(".") for x in xs)

    return [
        {"series": 'http_requests_total{job="api",code="500"}', "values": values(bad)},
        {"series": 'http_requests_total{job="api",code="200"}', "values": values(good)},
    ]


def expected(spec: SloSpec, windows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The alerts of `spec` for the given (long, short) conditions, labels and annotations."""
    out = []
    for rule in alerts(promrules.rules_for(spec)):
        if (rule["labels"]["long_window"], rule["labels"]["short_window"]) in windows:
            out.append({"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]})
    return out


def run_rule_test(
    tmp_path: Path,
    spec: SloSpec,
    series: list[dict[str, str]],
    eval_at: str,
    firing: list,
    interval: str = "1m",
) -> None:
    (tmp_path / "slo.rules.yml").write_text(promrules.rules_yaml([spec]))
    test = {
        "rule_files": ["slo.rules.yml"],
        "evaluation_interval": interval,
        "tests": [
            {
                "interval": interval,
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": eval_at,
                        "alertname": promrules.ALERT_NAME,
                        "exp_alerts": expected(spec, firing),
                    }
                ],
            }
        ],
    }
    (tmp_path / "slo.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = promtool("test", "rules", "slo.test.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("form", ["bad", "good"])
@pytest.mark.parametrize(("burn", "pages"), [(14.5, True), (14.3, False)])
def test_the_fast_page_fires_just_above_14_4x_and_not_below(
    tmp_path: Path, form: str, burn: float, pages: bool
) -> None:
    """Ten quiet hours, then 90 minutes at `burn` x the 0.1% allowed. Over 1h and 5m the
    error ratio is the burst's; over 6h it is burn x 90/360 (< 6x: the slow page stays
    quiet), over 1d burn x 90/690 (< 3x: no 1d/2h ticket), while 3d/6h (> 1x) tickets."""
    spec = ratio_slo() if form == "bad" else ratio_slo(bad=None, good=GOOD)
    errors = [0.0] * 600 + [burn * PER_MINUTE / 1000] * 90
    firing = [("3d", "6h")] + ([("1h", "5m")] if pages else [])
    run_rule_test(tmp_path, spec, counters(errors), "690m", firing)


@pytest.mark.parametrize(("burn", "tickets"), [(3.1, True), (2.9, False)])
def test_the_1d_ticket_fires_just_above_3x_and_not_below(
    tmp_path: Path, burn: float, tickets: bool
) -> None:
    """A steady burn for 25 hours, a sample every 5 minutes: 1d/2h tickets above 3x only;
    3d/6h (1x) always; the pages (6x, 14.4x) never."""
    errors = [burn * PER_MINUTE / 1000] * 300
    firing = [("3d", "6h")] + ([("1d", "2h")] if tickets else [])
    run_rule_test(tmp_path, ratio_slo(), counters(errors), "1490m", firing, interval="5m")


def test_an_idle_service_never_alerts(tmp_path: Path) -> None:
    """No requests at all: 0/0 is NaN, and NaN is above no threshold."""
    flat = " ".join(["0"] * 200)
    series = [
        {"series": 'http_requests_total{job="api",code="500"}', "values": flat},
        {"series": 'http_requests_total{job="api",code="200"}', "values": flat},
    ]
    run_rule_test(tmp_path, ratio_slo(), series, "190m", [])


@pytest.mark.parametrize(("bad_minutes", "pages"), [(10, True), (7, False)])
def test_a_threshold_sli_pages_on_its_bad_minutes(
    tmp_path: Path, bad_minutes: int, pages: bool
) -> None:
    """Latency good (0.3 s < 0.5 s) for six hours, then bad for the last `bad_minutes`:
    over the last hour that is about 16% of one-minute slices for 10 minutes (above
    14.4 x 1%), about 12% for 7 (below); the 3d/6h ticket (1x) fires either way."""
    spec = SloSpec(
        name="checkout-latency",
        service="checkout",
        objective=99.0,
        source="prometheus",
        budgeting="timeslices",
        threshold_query='rq_latency_seconds{job="api"}',
        threshold_op="<",
        threshold_value=0.5,
    )
    values = ["0.3"] * (376 - bad_minutes) + ["0.8"] * bad_minutes
    series = [{"series": 'rq_latency_seconds{job="api"}', "values": " ".join(values)}]
    firing = [("3d", "6h")] + ([("1h", "5m")] if pages else [])
    run_rule_test(tmp_path, spec, series, "375m", firing)
