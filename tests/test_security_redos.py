"""Label matchers cannot be made to backtrack: regexes run on RE2 (linear time), and a
pattern RE2 cannot compile is refused when it is written, with a 422 naming the field."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.alerts import matching
from warroom.alerts.matching import matches, parse_matcher

EVIL = "(a+)+b"
# With Python's backtracking `re`, one fullmatch of this value against EVIL takes about
# 2**40 steps (hours); RE2 answers in microseconds.
VICTIM = "a" * 40 + "c"
ENDS = "2026-03-02T12:00:00Z"


def silence(api: Api, *matchers: str) -> Any:
    return api.post(
        "/api/v1/silences", json={"matchers": list(matchers), "ends_at": ENDS, "comment": "test"}
    )


def test_matchers_run_on_re2_and_the_evil_pattern_is_linear() -> None:
    m = parse_matcher(f'alertname=~"{EVIL}"')
    assert m == {"name": "alertname", "op": "=~", "value": EVIL}
    # The mechanism: the compiled program is RE2's, compiled once and cached.
    program = matching._compile(EVIL)
    assert type(program).__module__.startswith("re2")
    assert matching._compile(EVIL) is program
    labels = [{"alertname": VICTIM, "n": str(i)} for i in range(1000)]
    started = time.perf_counter()
    held = [matches([m], x) for x in labels]
    negated = [matches([parse_matcher(f"alertname!~{EVIL}")], x) for x in labels]
    # Generous: this is microseconds of work; a backtracking engine needs hours per alert.
    assert time.perf_counter() - started < 2.0
    assert held == [False] * 1000 and negated == [True] * 1000
    assert matches([m], {"alertname": "aaab"})


def test_regex_matchers_stay_anchored_as_in_alertmanager() -> None:
    ms = [parse_matcher("service=~check.*"), parse_matcher("env!=staging")]
    assert matches(ms, {"service": "checkout", "env": "prod"})
    assert not matches(ms, {"service": "xcheckout", "env": "prod"})
    assert not matches([parse_matcher("service=~check")], {"service": "checkout"})
    assert matches([parse_matcher("team=~ops|sre")], {"team": "sre"})
    assert not matches([parse_matcher("team=~ops|sre")], {"team": "sres"})
    assert matches([parse_matcher("team!~ops|sre")], {})  # absent is the empty string
    assert matches([parse_matcher("team=~")], {}) and not matches(
        [parse_matcher("team=~")], {"team": "x"}
    )
    assert matches([parse_matcher("host=~(?i)DB-.*")], {"host": "db-1"})
    assert parse_matcher("  env  =  'prod east'  ") == {
        "name": "env",
        "op": "=",
        "value": "prod east",
    }
    for bad in ("novalue", "=x", "a=~(", "a=b\nc", "a=~(a)\\1"):
        with pytest.raises(ValueError):
            parse_matcher(bad)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(a)\\1", "invalid escape sequence"), ("(?=a)b", "invalid perl operator"), ("a(?!b)", "")],
)
def test_a_pattern_re2_cannot_compile_is_refused_with_the_field(
    alice: Api, pattern: str, reason: str
) -> None:
    r = silence(alice, "env=prod", f'alertname=~"{pattern}"')
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "matchers.1"
    assert "linear time" in body["error"] and reason in body["error"], body
    assert alice.get("/api/v1/silences").json() == []


def test_the_silence_service_refuses_what_its_api_would(db: Any, clock: Any) -> None:
    from warroom.alerts import silences
    from warroom.core.errors import ValidationFailed
    from warroom.core.principal import Principal

    who = Principal(role="responder", user_id=None, name="alice")
    with db.session() as s, pytest.raises(ValidationFailed) as exc:
        silences.add_silence(
            s,
            clock,
            who,
            matchers=[{"name": "a", "op": "!~", "value": "(x)\\1"}],
            services=[],
            starts_at=None,
            ends_at=clock.now().replace(year=2100),
            comment="direct",
        )
    assert exc.value.field == "matchers.0"


def test_config_refuses_a_backreference_in_a_routing_rule(admin: Api) -> None:
    doc = {"alert_rules": [{"name": "r", "matchers": ["env=prod", "alertname=~(a)\\1"]}]}
    r = admin.post("/api/v1/config/apply", json={"config": doc, "dry_run": True})
    assert r.status_code == 422, r.text
    problems = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert list(problems) == ["alert_rules[0].matchers[1]"]
    assert "linear time" in problems["alert_rules[0].matchers[1]"]


def test_alerts_against_evil_silence_and_rule_are_matched_quickly(
    client: TestClient, admin: Api, alice: Api
) -> None:
    doc = {
        "teams": [{"name": "payments"}],
        "services": [{"name": "checkout", "owner": "payments"}],
        "alert_rules": [{"name": "evil", "matchers": [f"alertname=~{EVIL}"], "page": False}],
    }
    r = admin.post("/api/v1/config/apply", json={"config": doc})
    assert r.status_code == 200, r.text
    assert silence(alice, f'alertname=~"{EVIL}"', "severity=~crit.*").status_code == 201
    r = admin.post(
        "/api/v1/integrations",
        json={"name": "am", "kind": "alertmanager", "service": "checkout"},
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    names = [VICTIM] * 50 + ["aaab"]
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": n, "severity": "critical", "i": str(i)},
            "annotations": {"summary": f"alert {i}"},
            "startsAt": "2026-03-02T08:58:00Z",
            "fingerprint": f"fp-{i}",
        }
        for i, n in enumerate(names)
    ]
    started = time.perf_counter()
    r = client.post(
        f"/integrations/alertmanager/{key}",
        json={"version": "4", "status": "firing", "alerts": alerts},
    )
    assert r.status_code < 300, r.text
    assert time.perf_counter() - started < 30  # a backtracking engine: hours per alert
    items = admin.get("/api/v1/alerts", params={"limit": 100}).json()["items"]
    by_name: dict[str, list[Any]] = {}
    for a in items:
        by_name.setdefault(a["labels"]["alertname"], []).append(a)
    assert len(by_name[VICTIM]) == 50 and len(by_name["aaab"]) == 1
    assert by_name["aaab"][0]["suppressed_by"].startswith("silence #")
    assert all(a["suppressed_by"] is None for a in by_name[VICTIM])
