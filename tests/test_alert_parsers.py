"""Every parser takes arbitrary JSON without crashing: it parses or says why not."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts.matching import is_flapping, matches, parse_matcher
from warroom.alerts.parsers import (
    InvalidEvent,
    parse_alertmanager,
    parse_pagerduty,
    parse_pagerduty_change,
    parse_time,
    parse_webhook,
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=15,
)
PD_KEYS = [
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "links",
    "images",
    "client_url",
    "summary",
    "source",
    "severity",
    "timestamp",
    "custom_details",
]
AM_KEYS = [
    "version",
    "alerts",
    "status",
    "labels",
    "annotations",
    "fingerprint",
    "startsAt",
    "truncatedAlerts",
    "groupKey",
    "commonLabels",
    "ruleName",
    "state",
    "ruleId",
    "tags",
]
shaped = st.recursive(
    scalars,
    lambda c: (
        st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(PD_KEYS + AM_KEYS), c, max_size=6)
    ),
    max_leaves=20,
)


def _safe(fn: Any, body: Any) -> None:
    try:
        fn(body)
    except InvalidEvent as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)


@settings(max_examples=300, deadline=None)
@given(json_values | shaped)
def test_parsers_never_crash(body: Any) -> None:
    _safe(parse_pagerduty, body)
    _safe(parse_pagerduty_change, body)
    _safe(parse_alertmanager, body)
    _safe(lambda b: parse_alertmanager(b, grafana=True), body)
    _safe(lambda b: parse_webhook(b, {}), body)
    _safe(
        lambda b: parse_webhook(
            b, {"title": "a.b", "dedup_key": "x.0", "severity_map": {"p1": "critical"}}
        ),
        body,
    )


@given(st.text(max_size=40))
def test_parse_time_never_raises(text: str) -> None:
    value = parse_time(text)
    assert value is None or value.tzinfo is not None


def test_go_nanosecond_timestamps_and_zero_time() -> None:
    t = parse_time("2026-03-02T08:58:00.123456789Z")
    assert t is not None and t.microsecond == 123456
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_valid_pd_event() -> None:
    key, ev = parse_pagerduty(
        {
            "routing_key": "a" * 32,
            "event_action": "trigger",
            "payload": {
                "summary": "s" * 2000,
                "source": "db1",
                "severity": "warning",
                "component": "pg",
                "group": "prod",
                "class": "disk",
                "custom_details": {"free": "1%"},
            },
            "links": [{"href": "http://x", "text": "x"}],
        }
    )
    assert key == "a" * 32 and ev.action == "trigger" and len(ev.summary) == 1024
    assert ev.labels == {"component": "pg", "group": "prod", "class": "disk"}
    assert ev.group == "prod" and ev.details == {"free": "1%"}


def test_matchers() -> None:
    assert parse_matcher('alertname="High Error"') == {
        "name": "alertname",
        "op": "=",
        "value": "High Error",
    }
    ms = [parse_matcher("service=~check.*"), parse_matcher("env!=staging")]
    assert matches(ms, {"service": "checkout", "env": "prod"})
    assert not matches(ms, {"service": "checkout", "env": "staging"})
    assert not matches(ms, {"service": "xcheckout"})  # regexes are anchored
    assert matches([parse_matcher("team!~ops|sre")], {})
    for bad in ("novalue", "=x", "a=~("):
        try:
            parse_matcher(bad)
        except ValueError as exc:
            assert str(exc)
        else:
            raise AssertionError(bad)


def test_flapping_threshold() -> None:
    assert not is_flapping(2, 3) and is_flapping(3, 3) and not is_flapping(99, 0)
