"""User templates cannot freeze or balloon the server: operators are bounded in the
sandbox, and a template from config renders in its own process under a time and memory
limit. Hitting a limit is a 422 naming the field, on save (config apply) and on preview."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.conftest import Api
from warroom.comms import templates as tpl

POW = "{{ 9**(9**7) }}"
BIG_STRING = "{{ ('x'*1500000000)|length }}"
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HUGE_RANGE = "{% for i in range(10**9) %}{{ i }}{% endfor %}"
MEMORY = "{{ 'x'.center(1000000000)|length }}"

PAYLOADS = [
    pytest.param(POW, "`**` would make a number of more than 1000 digits", id="pow"),
    pytest.param(
        BIG_STRING,
        "`*` would make a string of 1500000000 characters (at most 100000)",
        id="string",
    ),
    pytest.param(LOOP, "rendering took longer than 2 seconds", id="loop"),
    pytest.param(HUGE_RANGE, "range() would have more than 100000 items", id="range"),
    pytest.param(MEMORY, "rendering needs more than 256 MB of memory", id="memory"),
]


def apply(api: Api, body: str) -> Any:
    doc = {"templates": [{"name": "status", "body": body}]}
    return api.post("/api/v1/config/apply", json={"config": doc})


def preview(api: Api) -> Any:
    return api.post("/api/v1/incidents/1/updates", json={"preview": True})


@pytest.mark.parametrize(("body", "reason"), PAYLOADS)
def test_a_template_over_a_limit_is_refused_on_save(admin: Api, body: str, reason: str) -> None:
    started = time.perf_counter()
    r = apply(admin, body)
    assert time.perf_counter() - started < 30  # generous: unbounded, each takes minutes or GBs
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "templates[0].body"
    problems = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert problems == {"templates[0].body": f"template exceeds a limit: {reason}"}


@pytest.mark.parametrize(("body", "reason"), PAYLOADS)
def test_a_template_over_a_limit_is_refused_on_preview_and_post(
    admin: Api, alice: Api, body: str, reason: str
) -> None:
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    # Saving renders with placeholder facts, where `title` is missing and so false:
    # only a real incident reaches the payload.
    assert apply(admin, "{% if title %}" + body + "{% endif %}").status_code == 200
    started = time.perf_counter()
    r = preview(alice)
    assert time.perf_counter() - started < 30
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "template"
    assert r.json()["error"] == f"template 'status' exceeds a limit: {reason} (config templates[0])"
    posted = alice.post("/api/v1/incidents/1/updates", json={})
    assert posted.status_code == 422 and reason in posted.json()["error"]
    timeline = alice.get("/api/v1/incidents/1").json()["timeline"]
    assert [e for e in timeline if e["kind"] == "communication"] == []


def test_the_server_answers_while_a_runaway_template_renders(admin: Api, alice: Api) -> None:
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    assert apply(admin, "{% if title %}" + LOOP + "{% endif %}").status_code == 200
    answer: dict[str, Any] = {}
    runaway = threading.Thread(target=lambda: answer.update(r=preview(alice)))
    runaway.start()
    # Other requests are answered while the runaway renders (for 2 s, in another process).
    answered_meanwhile = False
    while runaway.is_alive() and not answered_meanwhile:
        ok = alice.get("/api/v1/incidents/1").status_code == 200
        answered_meanwhile = ok and runaway.is_alive()
    assert answered_meanwhile
    runaway.join(30)
    assert not runaway.is_alive() and answer["r"].status_code == 422


def test_ordinary_arithmetic_still_renders(admin: Api, alice: Api) -> None:
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    body = (
        "{{ title }} {{ '-' * 3 }} {{ 2**10 }} {{ duration_minutes * 60 }} "
        "{{ [1] + [2] }} {{ '%05.1f' % 3.14159 }} {{ (10**999)|string|length }} "
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ commander }}"
    )
    assert apply(admin, body).status_code == 200
    r = preview(alice)
    assert r.status_code == 200, r.text
    assert (
        r.json()["text"]
        == "Down --- 1024 0 [1, 2] 003.1 1000 012 [not recorded: incident commander]"
    )
    assert r.json()["warnings"] == ["not recorded: incident commander"]


def test_the_mechanism_bounded_operators_and_a_killable_process() -> None:
    assert isinstance(tpl._ENV, tpl.BoundedSandbox)
    assert {"*", "**", "+", "%"} <= tpl.BoundedSandbox.intercepted_binops
    with pytest.raises(tpl.LimitExceeded):
        tpl.check_binop("**", 9, 9**7)
    with pytest.raises(tpl.LimitExceeded):
        tpl.check_binop("*", 1_500_000_000, "x")
    with pytest.raises(tpl.LimitExceeded):
        tpl.check_binop("+", "x" * 60_000, "y" * 60_000)
    tpl.check_binop("**", 2, 3000)  # 904 digits
    tpl.check_binop("*", "x", 100_000)
    # A runaway loop is stopped by killing its process, not by asking it to stop.
    outcome = tpl._render_isolated(LOOP, {"_seen": []})
    assert outcome == ("limit", "rendering took longer than 2 seconds", None)
    # The shipped defaults render in-process; they contain no loops.
    assert all("{% for" not in body for _, body in tpl.DEFAULTS.values())


def test_a_deeply_nested_template_is_a_config_error_not_a_500(admin: Api) -> None:
    r = apply(admin, "{{ " + "(" * 500 + "1" + ")" * 500 + " }}")
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "templates[0].body"
    assert "nested too deeply" in r.json()["error"]
