"""OpenSLO v1 in and out, and warroom's own `slos:` config entries (pure: no store, no
clock, no engine).

`from_openslo(text)` reads OpenSLO v1 YAML (several documents, `---`-separated or a YAML
list) into rules.SloSpec; `to_openslo(specs)` writes OpenSLO v1 that reads back to the
same specs; `to_config(specs)` gives the entries of warroom's `slos:` config.

Invariants:
- Read: `kind: SLO` documents of `apiVersion: openslo/v1`, each with an inline
  `indicator` (`metadata` + `spec`, `kind: SLI` optional) or an `indicatorRef` to a
  `kind: SLI` document anywhere in the text. `DataSource` documents resolve a
  `metricSourceRef`'s type (and its `connectionDetails.url`, see prometheus_urls).
  Service, AlertPolicy, AlertCondition and AlertNotificationTarget documents are
  ignored; any other kind or apiVersion is an error.
- Source: `incidents` when the SLO's `metadata.annotations` has `warroom/source:
  incidents` or a metricSource has `type: warroom-incidents` (the indicator is then not
  read); `prometheus` when every metricSource is `type: Prometheus` (or refers to a
  Prometheus DataSource). Any other type is an error: warroom measures nothing else.
- Indicator: `ratioMetric` with `total` and exactly one of `good` / `bad`, each a
  `metricSource.spec.query` that is a counter selector (a `sum(<selector>)` around it, as
  in OpenSLO's own examples, is taken off: warroom sums and rates it itself), or
  `thresholdMetric` with a query, whose `objectives[0].op` (lt, lte, gt, gte) and
  `value` say when it is good. `raw` ratios and `counter: false` are refused.
- Objective: the first of `objectives`: `target` in (0, 1) or `targetPercent` in
  (0, 100), exactly one; warroom keeps one objective per SLO. `timeSliceTarget` and
  `timeSliceWindow` are not read (warroom's timeslices are one minute).
- Window: `timeWindow` (one item; a rolling 30 days when absent). Rolling: `duration` in
  m (whole hours), h, d, w or Y (365d), 1h..400d. Calendar (`calendar:` given or
  `isRolling: false`): `1w` / `7d` is the week, `1M` the month, `1Q` / `3M` the quarter;
  warroom's calendar periods are UTC (weeks start on Monday), whatever the `calendar`'s
  startTime and timeZone say.
- `budgetingMethod` (required): Occurrences or Timeslices; RatioTimeslices is refused.
- Errors are ValidationFailed whose message names the document (its position, kind and
  name) and the field, `field` is the field's path (`spec.objectives[0].target`), and
  `document` (1-based) and `slo` are extras.
- Write: one `kind: SLO` document per spec with an inline indicator (Prometheus queries
  as `type: Prometheus` metric sources; an incident-sourced SLO carries the
  `warroom/source: incidents` annotation and `type: warroom-incidents` sources), and,
  when URLs are given, one `kind: DataSource` per Prometheus URL that its metric sources
  refer to. from_openslo(to_openslo(specs)) == specs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from warroom.core.errors import ValidationFailed
from warroom.slos import promrules
from warroom.slos.rules import SloSpec, Window, parse_window

API_VERSION = "openslo/v1"
SOURCE_ANNOTATION = "warroom/source"
INCIDENTS_TYPE = "warroom-incidents"
PROMETHEUS_TYPE = "Prometheus"
IGNORED_KINDS = ("Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
READ_KINDS = ("SLO", "SLI", "DataSource")

OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
OPENSLO_OPS = {v: k for k, v in OPS.items()}
BUDGETING = {"occurrences": "Occurrences", "timeslices": "Timeslices"}
CALENDAR_DURATION = {"week": "1w", "month": "1M", "quarter": "1Q"}
CALENDAR_OF = {"1w": "week", "7d": "week", "1M": "month", "1Q": "quarter", "3M": "quarter"}
CALENDAR_START = "2024-01-01 00:00:00"  # a Monday, the first day of a month and a quarter

_DURATION = re.compile(r"^(\d+)([mhdwMQY])$")
_SUM = re.compile(r"^\s*sum\s*\((.*)\)\s*$", re.S)


@dataclass
class _Doc:
    index: int  # 1-based position among the documents
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def name(self) -> str:
        meta = self.body.get("metadata")
        return str(meta.get("name") or "") if isinstance(meta, dict) else ""

    def label(self) -> str:
        what = " ".join(p for p in (self.kind, repr(self.name) if self.name else "") if p)
        return f"document {self.index}" + (f" ({what})" if what else "")

    def fail(self, field: str, problem: str) -> ValidationFailed:
        return ValidationFailed(
            f"{self.label()}: {field}: {problem}",
            field=field,
            document=self.index,
            slo=self.name if self.kind == "SLO" else None,
        )


# --- reading -----------------------------------------------------------------------------


def _documents(text: str) -> list[_Doc]:
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationFailed(f"not valid YAML{where}: {problem}", field="document") from None
    docs: list[_Doc] = []
    for item in loaded:
        for body in item if isinstance(item, list) else [item]:
            if body is None:
                continue
            index = len(docs) + 1
            if not isinstance(body, dict):
                raise ValidationFailed(
                    f"document {index}: an OpenSLO document is a mapping with apiVersion, "
                    "kind, metadata and spec",
                    field="document",
                    document=index,
                )
            docs.append(_Doc(index, body))
    return docs


def _check_header(doc: _Doc) -> bool:
    """True when the document is read, False when it is ignored; raises for others."""
    kind = doc.body.get("kind")
    if kind in IGNORED_KINDS:
        return False
    if kind not in READ_KINDS:
        raise doc.fail(
            "kind",
            f"must be one of {', '.join(READ_KINDS + IGNORED_KINDS)}, not {kind!r}",
        )
    if doc.body.get("apiVersion") != API_VERSION:
        raise doc.fail("apiVersion", f"must be {API_VERSION}, not {doc.body.get('apiVersion')!r}")
    meta = doc.body.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise doc.fail("metadata.name", "is required")
    if not isinstance(doc.body.get("spec"), dict):
        raise doc.fail("spec", "is required (a mapping)")
    return True


def _get(doc: _Doc, container: Any, key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    value = container.get(key) if isinstance(container, dict) else None
    if value is None:
        raise doc.fail(path, "is required")
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise doc.fail(path, f"must be {_kind_word(kind)}, not {value!r}")
    return value


def _kind_word(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "a string", dict: "a mapping", list: "a list", int: "a number", float: "a number"}
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))


def _number(doc: _Doc, value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.fail(path, f"must be a number, not {value!r}")
    return float(value)


@dataclass
class _Sources:
    datasources: dict[str, dict[str, Any]]  # DataSource name -> its spec


def _source_type(doc: _Doc, holder: Any, path: str, ctx: _Sources) -> tuple[str, dict[str, Any]]:
    """(`prometheus` | `incidents`, the metricSource's spec) of a `{metricSource: ...}`."""
    source = _get(doc, holder, "metricSource", f"{path}.metricSource", dict)
    kind = source.get("type")
    ref = source.get("metricSourceRef")
    if kind is None and ref is not None:
        found = ctx.datasources.get(str(ref))
        if found is None:
            raise doc.fail(
                f"{path}.metricSource.metricSourceRef",
                f"names no DataSource document: {ref!r}",
            )
        kind = found.get("type")
    if not isinstance(kind, str) or not kind:
        raise doc.fail(
            f"{path}.metricSource.type",
            "is required (Prometheus, or warroom-incidents) unless metricSourceRef names a "
            "DataSource",
        )
    spec = source.get("spec") or {}
    if not isinstance(spec, dict):
        raise doc.fail(f"{path}.metricSource.spec", "must be a mapping")
    if kind.lower() == PROMETHEUS_TYPE.lower():
        return "prometheus", spec
    if kind.lower() == INCIDENTS_TYPE:
        return "incidents", spec
    raise doc.fail(
        f"{path}.metricSource.type",
        f"{kind!r} is not supported: warroom measures Prometheus queries (type: Prometheus) "
        f"or incidents ({SOURCE_ANNOTATION}: incidents)",
    )


def _holders(sli: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    ratio = sli.get("ratioMetric")
    if isinstance(ratio, dict):
        for key in ("good", "bad", "total", "raw"):
            if ratio.get(key) is not None:
                out.append((f"ratioMetric.{key}", ratio[key]))
    threshold = sli.get("thresholdMetric")
    if threshold is not None:
        out.append(("thresholdMetric", threshold))
    return out


def _query(doc: _Doc, spec: dict[str, Any], path: str, selector: bool) -> str:
    q = spec.get("query")
    if not isinstance(q, str) or not q.strip():
        raise doc.fail(f"{path}.metricSource.spec.query", "is required (a PromQL query)")
    q = q.strip()
    if not selector:
        return q
    m = _SUM.match(q)
    if m and promrules.is_selector(m.group(1)):
        q = m.group(1).strip()
    if not promrules.is_selector(q):
        raise doc.fail(
            f"{path}.metricSource.spec.query",
            'must be a counter selector such as http_requests_total{job="api"} (warroom '
            f"rates and sums it itself), not {q!r}",
        )
    return q


def _indicator(doc: _Doc, spec: dict[str, Any], slis: dict[str, _Doc]) -> tuple[_Doc, Any, str]:
    """(the document holding the SLI, the SLI's spec, its path there)."""
    inline, ref = spec.get("indicator"), spec.get("indicatorRef")
    if (inline is None) == (ref is None):
        raise doc.fail("spec.indicator", "give exactly one of indicator and indicatorRef")
    if ref is not None:
        target = slis.get(str(ref))
        if target is None:
            raise doc.fail("spec.indicatorRef", f"names no SLI document: {ref!r}")
        return target, target.body["spec"], "spec"
    if not isinstance(inline, dict):
        raise doc.fail("spec.indicator", "must be a mapping with metadata and spec")
    if inline.get("kind") not in (None, "SLI"):
        raise doc.fail("spec.indicator.kind", f"must be SLI, not {inline.get('kind')!r}")
    return doc, _get(doc, inline, "spec", "spec.indicator.spec", dict), "spec.indicator.spec"


def _window(doc: _Doc, spec: dict[str, Any]) -> Window:
    items = spec.get("timeWindow")
    if items is None:
        return parse_window()
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise doc.fail("spec.timeWindow", "must be a list of exactly one time window")
    item = items[0]
    path = "spec.timeWindow[0].duration"
    duration = _get(doc, item, "duration", path, str).strip()
    m = _DURATION.match(duration)
    if not m or int(m.group(1)) == 0:
        raise doc.fail(path, f"must be a duration such as 30d, 4w or 1M, not {duration!r}")
    rolling = item.get("isRolling")
    if rolling is not None and not isinstance(rolling, bool):
        raise doc.fail("spec.timeWindow[0].isRolling", "must be true or false")
    calendar = item.get("calendar")
    if calendar is not None and not isinstance(calendar, dict):
        raise doc.fail("spec.timeWindow[0].calendar", "must be a mapping (startTime, timeZone)")
    if rolling is True and calendar is not None:
        raise doc.fail("spec.timeWindow[0].isRolling", "a rolling window has no calendar")
    if calendar is not None or rolling is False:
        unit = CALENDAR_OF.get(duration)
        if unit is None:
            raise doc.fail(
                path,
                "warroom's calendar windows are a week (1w), a month (1M) or a quarter "
                f"(1Q), not {duration!r}",
            )
        return Window(calendar=unit)
    count, unit = int(m.group(1)), m.group(2)
    if unit in ("M", "Q"):
        raise doc.fail(
            path,
            f"a rolling window in months or quarters is not supported: give days (30d), not {duration!r}",
        )
    if unit == "m":
        if count % 60:
            raise doc.fail(path, f"a rolling window is whole hours, not {duration!r}")
        text = f"{count // 60}h"
    elif unit == "Y":
        text = f"{count * 365}d"
    else:
        text = f"{count}{unit}"
    try:
        return parse_window(text)
    except ValidationFailed as exc:
        raise doc.fail(path, exc.message) from None


def _objective(doc: _Doc, first: dict[str, Any]) -> float:
    target, percent = first.get("target"), first.get("targetPercent")
    if (target is None) == (percent is None):
        raise doc.fail("spec.objectives[0].target", "give exactly one of target and targetPercent")
    if target is not None:
        value = _number(doc, target, "spec.objectives[0].target")
        if not 0 < value < 1:
            raise doc.fail("spec.objectives[0].target", f"must be between 0 and 1, not {target!r}")
        return round(value * 100, 10)
    value = _number(doc, percent, "spec.objectives[0].targetPercent")
    if not 0 < value < 100:
        raise doc.fail(
            "spec.objectives[0].targetPercent", f"must be between 0 and 100, not {percent!r}"
        )
    return round(value, 10)


def _budgeting(doc: _Doc, spec: dict[str, Any]) -> str:
    method = spec.get("budgetingMethod")
    if not isinstance(method, str):
        raise doc.fail("spec.budgetingMethod", "is required: Occurrences or Timeslices")
    if method.lower() == "ratiotimeslices":
        raise doc.fail(
            "spec.budgetingMethod", "RatioTimeslices is not supported: Occurrences or Timeslices"
        )
    if method.lower() not in BUDGETING:
        raise doc.fail("spec.budgetingMethod", f"must be Occurrences or Timeslices, not {method!r}")
    return method.lower()


def _slo(doc: _Doc, slis: dict[str, _Doc], ctx: _Sources) -> SloSpec:
    spec = doc.body["spec"]
    meta = doc.body["metadata"]
    service = _get(doc, spec, "service", "spec.service", str)
    description = spec.get("description", "") or ""
    if not isinstance(description, str):
        raise doc.fail("spec.description", "must be a string")
    objectives = _get(doc, spec, "objectives", "spec.objectives", list)
    if not objectives or not isinstance(objectives[0], dict):
        raise doc.fail("spec.objectives", "must hold at least one objective")
    first = objectives[0]
    fields: dict[str, Any] = {
        "name": meta["name"],
        "service": service,
        "objective": _objective(doc, first),
        "window": _window(doc, spec),
        "budgeting": _budgeting(doc, spec),
        "description": description,
    }
    annotations = meta.get("annotations") or {}
    marked = isinstance(annotations, dict) and annotations.get(SOURCE_ANNOTATION)
    if marked not in (None, False, "", "incidents", "prometheus"):
        raise doc.fail(
            f"metadata.annotations.{SOURCE_ANNOTATION}",
            f"must be incidents or prometheus, not {marked!r}",
        )
    if marked == "incidents":
        return SloSpec(source="incidents", **fields)
    at, sli, base = _indicator(doc, spec, slis)
    holders = _holders(sli)
    kinds = {_source_type(at, h, f"{base}.{p}", ctx)[0] for p, h in holders}
    if "incidents" in kinds:
        return SloSpec(source="incidents", **fields)
    ratio, threshold = sli.get("ratioMetric"), sli.get("thresholdMetric")
    if (ratio is None) == (threshold is None):
        raise at.fail(base, "give exactly one of ratioMetric and thresholdMetric")
    if threshold is not None:
        _, source = _source_type(at, threshold, f"{base}.thresholdMetric", ctx)
        op = first.get("op")
        if op not in OPS:
            raise doc.fail(
                "spec.objectives[0].op",
                f"a thresholdMetric needs op: one of {', '.join(OPS)} (not {op!r})",
            )
        if first.get("value") is None:
            raise doc.fail("spec.objectives[0].value", "a thresholdMetric needs a value")
        return SloSpec(
            source="prometheus",
            threshold_query=_query(at, source, f"{base}.thresholdMetric", selector=False),
            threshold_op=OPS[op],
            threshold_value=_number(doc, first["value"], "spec.objectives[0].value"),
            **fields,
        )
    path = f"{base}.ratioMetric"
    if not isinstance(ratio, dict):
        raise at.fail(path, "must be a mapping")
    if ratio.get("raw") is not None:
        raise at.fail(
            f"{path}.raw", "precomputed (raw) ratios are not supported: give good or bad with total"
        )
    if ratio.get("counter") is False:
        raise at.fail(f"{path}.counter", "warroom rates counters: counter must be true")
    if ratio.get("total") is None:
        raise at.fail(f"{path}.total", "is required")
    if (ratio.get("good") is None) == (ratio.get("bad") is None):
        raise at.fail(f"{path}.good", "give exactly one of good and bad (with total)")
    queries: dict[str, Any] = {}
    for key in ("good", "bad", "total"):
        if ratio.get(key) is not None:
            _, source = _source_type(at, ratio[key], f"{path}.{key}", ctx)
            queries[key] = _query(at, source, f"{path}.{key}", selector=True)
    return SloSpec(source="prometheus", **queries, **fields)


def _read(text: str) -> tuple[list[_Doc], dict[str, _Doc], _Sources]:
    docs = [d for d in _documents(text) if _check_header(d)]
    slis: dict[str, _Doc] = {}
    sources: dict[str, dict[str, Any]] = {}
    for d in docs:
        if d.kind == "SLI":
            if d.name in slis:
                raise d.fail("metadata.name", f"another SLI document is named {d.name!r}")
            slis[d.name] = d
        elif d.kind == "DataSource":
            sources[d.name] = d.body["spec"]
    return docs, slis, _Sources(sources)


def from_openslo(text: str) -> list[SloSpec]:
    """The SLOs of an OpenSLO v1 text, in document order. Raises ValidationFailed naming
    the document and the field (see the module)."""
    docs, slis, ctx = _read(text)
    out: list[SloSpec] = []
    seen: set[str] = set()
    for d in docs:
        if d.kind != "SLO":
            continue
        if d.name in seen:
            raise d.fail("metadata.name", f"another SLO document is named {d.name!r}")
        seen.add(d.name)
        out.append(_slo(d, slis, ctx))
    return out


def prometheus_urls(text: str) -> dict[str, str]:
    """SLO name -> the `connectionDetails.url` of the Prometheus DataSource its metric
    sources refer to (`metricSourceRef`), for the SLOs that have one."""
    docs, slis, ctx = _read(text)
    out: dict[str, str] = {}
    for d in docs:
        if d.kind != "SLO":
            continue
        try:
            at, sli, _ = _indicator(d, d.body["spec"], slis)
        except ValidationFailed:
            continue
        for _, holder in _holders(sli):
            source = holder.get("metricSource") if isinstance(holder, dict) else None
            ref = source.get("metricSourceRef") if isinstance(source, dict) else None
            found = ctx.datasources.get(str(ref)) if ref is not None else None
            details = (found or {}).get("connectionDetails")
            url = details.get("url") if isinstance(details, dict) else None
            if isinstance(url, str) and url:
                out[d.name] = url
                break
    return out


# --- writing -----------------------------------------------------------------------------


def _target(objective: float) -> float:
    return round(objective / 100, 12)


def _time_window(window: Window) -> list[dict[str, Any]]:
    if window.calendar:
        return [
            {
                "duration": CALENDAR_DURATION[window.calendar],
                "isRolling": False,
                "calendar": {"startTime": CALENDAR_START, "timeZone": "UTC"},
            }
        ]
    return [{"duration": window.text, "isRolling": True}]


def _metric(kind: str, spec: dict[str, Any], ref: str | None) -> dict[str, Any]:
    source: dict[str, Any] = {"type": kind}
    if ref:
        source["metricSourceRef"] = ref
    source["spec"] = spec
    return {"metricSource": source}


def to_openslo(specs: list[SloSpec], urls: Mapping[str, str] | None = None) -> str:
    """OpenSLO v1 documents for `specs` (one `kind: SLO` each, in order). `urls` (SLO name
    -> Prometheus URL) adds a `kind: DataSource` per distinct URL that the SLO's metric
    sources refer to. Raises ValidationFailed for a Prometheus SLO without its queries."""
    urls = dict(urls or {})
    datasources: dict[str, str] = {}  # url -> DataSource name
    docs: list[dict[str, Any]] = []
    for spec in specs:
        ref = None
        if spec.source == "prometheus" and spec.name in urls:
            url = urls[spec.name]
            if url not in datasources:
                n = len(datasources) + 1
                datasources[url] = "prometheus" if n == 1 else f"prometheus-{n}"
            ref = datasources[url]
        docs.append(_slo_doc(spec, ref))
    sources = [
        {
            "apiVersion": API_VERSION,
            "kind": "DataSource",
            "metadata": {"name": name},
            "spec": {"type": PROMETHEUS_TYPE, "connectionDetails": {"url": url}},
        }
        for url, name in datasources.items()
    ]
    header = "# OpenSLO v1, written by warroom (warroom slo export --format openslo)\n"
    return header + yaml.safe_dump_all(
        sources + docs, sort_keys=False, allow_unicode=True, width=100, explicit_start=True
    )


def _slo_doc(spec: SloSpec, ref: str | None) -> dict[str, Any]:
    objective: dict[str, Any] = {
        "displayName": promrules.number(spec.objective).removesuffix(".0") + "%",
        "target": _target(spec.objective),
    }
    metadata: dict[str, Any] = {"name": spec.name}
    sli: dict[str, Any]
    if spec.source == "incidents":
        metadata["annotations"] = {SOURCE_ANNOTATION: "incidents"}
        where = {"service": spec.service}
        sli = {
            "description": (
                f"Time without a customer-facing incident on {spec.service}, from impact "
                "start to mitigation, weighted by the affected share (warroom)"
            ),
            "ratioMetric": {
                "counter": False,
                "bad": _metric(INCIDENTS_TYPE, {**where, "measure": "incident-minutes"}, None),
                "total": _metric(INCIDENTS_TYPE, {**where, "measure": "minutes"}, None),
            },
        }
    else:
        promrules.check(spec)
        if spec.threshold_query is not None:
            assert spec.threshold_op is not None and spec.threshold_value is not None
            objective["op"] = OPENSLO_OPS[spec.threshold_op]
            objective["value"] = float(spec.threshold_value)
            sli = {
                "thresholdMetric": _metric(PROMETHEUS_TYPE, {"query": spec.threshold_query}, ref)
            }
        else:
            ratio: dict[str, Any] = {"counter": True}
            for key in ("good", "bad", "total"):
                value = getattr(spec, key)
                if value is not None:
                    ratio[key] = _metric(PROMETHEUS_TYPE, {"query": value}, ref)
            sli = {"ratioMetric": ratio}
    if spec.budgeting == "timeslices":
        objective["timeSliceTarget"] = 1.0
        objective["timeSliceWindow"] = "1m"
    body: dict[str, Any] = {}
    if spec.description:
        body["description"] = spec.description
    body.update(
        {
            "service": spec.service,
            "indicator": {"metadata": {"name": f"{spec.name}-sli"}, "spec": sli},
            "timeWindow": _time_window(spec.window),
            "budgetingMethod": BUDGETING[spec.budgeting],
            "objectives": [objective],
        }
    )
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": body}


def to_config(specs: list[SloSpec], urls: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """warroom's `slos:` config entries for `specs`: name, service, objective, `window`
    (rolling, `30d`) or `calendar` (`month`), source, budgeting, description (when there
    is one), and for a Prometheus SLO a `prometheus:` mapping (its `url` from `urls`, SLO
    name -> URL, when given; good / bad / total, or threshold {query, op, value})."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        entry: dict[str, Any] = {
            "name": spec.name,
            "service": spec.service,
            "objective": spec.objective,
        }
        if spec.window.calendar:
            entry["calendar"] = spec.window.calendar
        else:
            entry["window"] = spec.window.text
        entry["source"] = spec.source
        entry["budgeting"] = spec.budgeting
        if spec.description:
            entry["description"] = spec.description
        if spec.source == "prometheus":
            prom: dict[str, Any] = {}
            if urls and spec.name in urls:
                prom["url"] = urls[spec.name]
            if spec.threshold_query is not None:
                prom["threshold"] = {
                    "query": spec.threshold_query,
                    "op": spec.threshold_op,
                    "value": spec.threshold_value,
                }
            else:
                for key in ("good", "bad", "total"):
                    if getattr(spec, key) is not None:
                        prom[key] = getattr(spec, key)
            entry["prometheus"] = prom
        out.append(entry)
    return out
