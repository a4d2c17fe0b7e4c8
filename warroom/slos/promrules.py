"""Prometheus recording and alerting rules for an SLO (pure: no store, no clock, no engine).

`rules_for(spec)` gives one rule group per Prometheus-sourced SLO; `rules_yaml(specs)` a
whole rule file (`promtool check rules` accepts it). The same PromQL (`error_ratio`) is
what warroom's own evaluator (warroom.slos.prometheus) asks Prometheus, so the rules and
the SLO page agree.

Invariants:
- One recording rule per burn span of rules.BURN_SPANS (5m, 30m, 1h, 2h, 6h, 1d, 3d),
  named `slo:sli_error:ratio_rate<span>` (Sloth/Pyrra style), labelled `slo` and
  `service`, and nothing else: the expression aggregates every series away (`sum`,
  `avg`), so each SLO records exactly one series per span.
- The error ratio of a ratio SLI is `sum(rate(bad[w])) / sum(rate(total[w]))`, or
  `1 - sum(rate(good[w])) / sum(rate(total[w]))` when `good` is given. `good`, `bad` and
  `total` must be counter selectors (`http_requests_total{job="api",code!~"5.."}`), not
  expressions: warroom wraps them in `rate(...[w])` itself.
- The error ratio of a threshold SLI is the share of one-minute slices over the span in
  which `query op value` did not hold: `1 - avg(avg_over_time(((query) op bool value)
  [w:1m]))` (a query that returns several series is averaged across them).
- No traffic is no error: 0/0 is NaN in PromQL and every comparison with NaN is false, so
  an idle service never alerts.
- One alerting rule `SLOErrorBudgetBurn` per condition of rules.BURN_ALERTS (page: 14.4x
  over 1h and 5m, 6x over 6h and 30m; ticket: 3x over 1d and 2h, 1x over 3d and 6h). It
  fires while the error ratio over both its long and its short span is strictly above
  factor x (1 - objective) (rules.Status.alerting's rule); its labels are `severity`
  (page | ticket), `slo`, `service`, `long_window` and `short_window`; its annotations
  (summary, description) name the numbers and hold no template, so they are static.
- Only `source: prometheus` SLOs have rules: an incident-sourced SLO's budget is spent by
  incidents, which Prometheus does not see; asking for its rules raises ValidationFailed
  (field `source`), as does a missing or malformed query (field `prometheus.<key>`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from warroom.core.errors import ValidationFailed
from warroom.slos.rules import BURN_ALERTS, BURN_SPANS, THRESHOLD_OPS, SloSpec

ALERT_NAME = "SLOErrorBudgetBurn"
RECORD_PREFIX = "slo:sli_error:ratio_rate"
THRESHOLD_STEP = "1m"  # the slice of a threshold SLI in the recording rules

# A PromQL vector selector: an optional metric name and optional {matchers}, each matcher
# `label op "string"` (double, single or back quotes; escapes inside the first two).
_STRING = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"""
_MATCHER = rf"\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*{_STRING}\s*"
_SELECTOR = re.compile(
    rf"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*(?:\{{(?:{_MATCHER}(?:,{_MATCHER})*,?\s*)?\}})?\s*$"
)
_SPAN_DURATION = re.compile(r"^\d+[smhdwy]$")


def record_name(span: str) -> str:
    """The recording rule's metric for a span label: `slo:sli_error:ratio_rate5m`."""
    return f"{RECORD_PREFIX}{span}"


def quote(value: str) -> str:
    """A PromQL (and Go) double-quoted string literal for a label value."""
    return json.dumps(value, ensure_ascii=False)


def number(value: float) -> str:
    """A float as PromQL writes it, without binary noise (0.0144, not 0.014400000000000001)."""
    return repr(float(f"{value:.12g}"))


def is_selector(text: str) -> bool:
    """True for a plain vector selector (`name`, `name{a="b"}`, `{__name__="x"}`)."""
    return bool(text.strip()) and bool(_SELECTOR.match(text))


def check(spec: SloSpec) -> None:
    """Raises ValidationFailed naming the field unless `spec` is a Prometheus SLO that
    rules can be made for: a ratio SLI (total and exactly one of good / bad, all counter
    selectors) or a threshold SLI (query, op in rules.THRESHOLD_OPS, and a value)."""
    if spec.source != "prometheus":
        raise ValidationFailed(
            f"SLO {spec.name!r} has source {spec.source!r}: its budget is spent by "
            "incidents, not measured by Prometheus, so there are no Prometheus rules for it "
            "(warroom evaluates it itself)",
            field="source",
        )
    ratio = any(v is not None for v in (spec.good, spec.bad, spec.total))
    threshold = any(
        v is not None for v in (spec.threshold_query, spec.threshold_op, spec.threshold_value)
    )
    if ratio and threshold:
        raise ValidationFailed(
            f"SLO {spec.name!r}: give either good/bad/total (a ratio SLI) or a threshold "
            "query, not both",
            field="prometheus",
        )
    if threshold:
        if not (spec.threshold_query or "").strip():
            raise ValidationFailed(
                f"SLO {spec.name!r}: a threshold SLI needs a query",
                field="prometheus.threshold.query",
            )
        if spec.threshold_op not in THRESHOLD_OPS:
            raise ValidationFailed(
                f"SLO {spec.name!r}: the threshold op must be one of {', '.join(THRESHOLD_OPS)}",
                field="prometheus.threshold.op",
            )
        if spec.threshold_value is None:
            raise ValidationFailed(
                f"SLO {spec.name!r}: a threshold SLI needs a value",
                field="prometheus.threshold.value",
            )
        return
    if not (spec.total or "").strip():
        raise ValidationFailed(
            f"SLO {spec.name!r}: a Prometheus SLO needs a total query (with good or bad), or "
            "a threshold query",
            field="prometheus.total",
        )
    if (spec.good is None) == (spec.bad is None):
        raise ValidationFailed(
            f"SLO {spec.name!r}: give exactly one of good and bad (with total)",
            field="prometheus.good",
        )
    for key, text in (("good", spec.good), ("bad", spec.bad), ("total", spec.total)):
        if text is not None and not is_selector(text):
            raise ValidationFailed(
                f"SLO {spec.name!r}: prometheus.{key} must be a counter selector such as "
                f'http_requests_total{{job="api"}}, not an expression (warroom rates and sums '
                f"it itself): {text!r}",
                field=f"prometheus.{key}",
            )


def _duration(span: str) -> str:
    if not _SPAN_DURATION.match(span):
        raise ValueError(f"not a PromQL duration: {span!r}")
    return span


def error_ratio(spec: SloSpec, span: str, step: str = THRESHOLD_STEP) -> str:
    """The PromQL for the SLO's error ratio over `span` (a PromQL duration such as `5m`
    or `3600s`); `step` is a threshold SLI's slice. Raises ValidationFailed (see check)."""
    check(spec)
    w = _duration(span)
    if spec.threshold_query is not None:
        assert spec.threshold_op is not None and spec.threshold_value is not None
        good = (
            f"({spec.threshold_query.strip()}) {spec.threshold_op} bool "
            f"{number(spec.threshold_value)}"
        )
        return f"1 - avg(avg_over_time(({good})[{w}:{_duration(step)}]))"
    assert spec.total is not None
    total = f"sum(rate({spec.total.strip()}[{w}]))"
    if spec.bad is not None:
        return f"sum(rate({spec.bad.strip()}[{w}])) / {total}"
    assert spec.good is not None
    return f"1 - (sum(rate({spec.good.strip()}[{w}])) / {total})"


def _labels(spec: SloSpec) -> dict[str, str]:
    return {"slo": spec.name, "service": spec.service}


def _selector(spec: SloSpec, span: str) -> str:
    return f"{record_name(span)}{{slo={quote(spec.name)},service={quote(spec.service)}}}"


def _pct(ratio: float) -> str:
    return f"{float(f'{ratio * 100:.6g}'):g}%"


def _lasts(spec: SloSpec, factor: float) -> str:
    """How long the whole budget lasts at `factor`x (nominal length for calendar windows)."""
    if spec.window.calendar:
        days = {"week": 7.0, "month": 30.0, "quarter": 91.0}[spec.window.calendar]
        label = f"a {spec.window.calendar}'s budget"
    else:
        assert spec.window.rolling is not None
        days = spec.window.rolling.total_seconds() / 86400
        label = f"the {spec.window.text} budget"
    hours = days * 24 / factor
    when = f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
    return f"at this rate {label} is gone in {when}"


def rules_for(spec: SloSpec) -> dict[str, Any]:
    """One Prometheus rule group for `spec`: the recording rules of every burn span, then
    one alerting rule per multiwindow, multi-burn-rate condition. Raises ValidationFailed
    for an incident-sourced SLO or a missing query (see check)."""
    check(spec)
    labels = _labels(spec)
    rules: list[dict[str, Any]] = [
        {"record": record_name(span), "expr": error_ratio(spec, span), "labels": dict(labels)}
        for span, _ in BURN_SPANS
    ]
    allowed = spec.allowed_ratio
    for cond in BURN_ALERTS:
        limit = cond.factor * allowed
        expr = (
            f"{_selector(spec, cond.long)} > {number(limit)}\n"
            f"and\n"
            f"{_selector(spec, cond.short)} > {number(limit)}"
        )
        factor = f"{cond.factor:g}x"
        rules.append(
            {
                "alert": ALERT_NAME,
                "expr": expr,
                "labels": {
                    "severity": cond.severity,
                    **labels,
                    "long_window": cond.long,
                    "short_window": cond.short,
                },
                "annotations": {
                    "summary": (
                        f"{spec.service}: SLO {spec.name} is burning its error budget "
                        f"{factor} too fast ({cond.severity})"
                    ),
                    "description": (
                        f"The error ratio of {spec.name} ({spec.service}) is above "
                        f"{_pct(limit)} over both the last {cond.long} and the last "
                        f"{cond.short}: {factor} the {_pct(allowed)} that the "
                        f"{number(spec.objective)}% objective over {spec.window.text} allows; "
                        f"{_lasts(spec, cond.factor)}."
                    ),
                },
            }
        )
    return {"name": f"warroom-slo-{spec.name}", "rules": rules}


def rules_yaml(specs: list[SloSpec]) -> str:
    """A Prometheus rule file with one group per SLO (in the given order). Raises
    ValidationFailed for an SLO without rules (see check) or a name given twice."""
    seen: set[str] = set()
    groups = []
    for spec in specs:
        if spec.name in seen:
            raise ValidationFailed(f"SLO {spec.name!r} is given twice", field="name")
        seen.add(spec.name)
        groups.append(rules_for(spec))
    header = (
        "# Prometheus rules for warroom's SLOs: recording rules of the error ratio over each\n"
        "# burn span, and multiwindow, multi-burn-rate alerts (generated by warroom).\n"
    )
    body = yaml.dump(
        {"groups": groups},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return header + body


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (the alerts' expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
